import Foundation

/// Why a signed note, or a key text, is refused.
public enum SignedNoteError: Error, Equatable, Sendable, CustomStringConvertible {
    case malformedNote(String)
    case malformedKey(String)
    case notSignedByKey(String)
    case invalidSignature(String)
    case signingFailed

    public var description: String {
        switch self {
        case let .malformedNote(reason): return "malformed signed note: \(reason)"
        case let .malformedKey(reason): return "malformed key: \(reason)"
        case let .notSignedByKey(key): return "the note has no signature by \(key)"
        case let .invalidSignature(key): return "the signature by \(key) does not verify"
        case .signingFailed: return "libcrypto could not sign the note"
        }
    }
}

/// One signature line of a signed note: `— <key name> base64(4-byte big-endian key ID ‖ signature)`.
public struct NoteSignature: Equatable, Sendable {
    public var keyName: String
    public var keyID: UInt32
    public var signature: [UInt8]

    public init(keyName: String, keyID: UInt32, signature: [UInt8]) {
        self.keyName = keyName
        self.keyID = keyID
        self.signature = signature
    }

    var line: String { "— \(keyName) " + NoteEncoding.base64(NoteEncoding.bigEndian(keyID) + signature) }
}

/// A text signed by one or more keys, in the C2SP signed-note format (c2sp.org/signed-note): the text, which
/// ends in a newline, a blank line, then one signature line per key.
public struct SignedNote: Equatable, Sendable {
    /// The spec asks verifiers to accept at least 16.
    public static let maximumSignatures = 100

    public var text: String
    public var signatures: [NoteSignature]

    public init(text: String, signatures: [NoteSignature]) {
        self.text = text
        self.signatures = signatures
    }

    public var serialized: String { text + "\n" + signatures.map { $0.line + "\n" }.joined() }

    /// Parses strictly: anything the format does not allow is refused, never repaired.
    public init(parsing note: String) throws(SignedNoteError) {
        if let control = note.unicodeScalars.first(where: { $0.value < 0x20 && $0 != "\n" }) {
            throw .malformedNote("control character U+\(String(format: "%04X", control.value))")
        }
        let bytes = Array(note.utf8)
        // The text is separated from the signatures by the note's last blank line.
        guard let split = Self.lastBlankLine(bytes) else { throw .malformedNote("no blank line before the signatures") }
        let text = String(decoding: bytes[...split], as: UTF8.self)
        let block = bytes[(split + 2)...]
        guard !block.isEmpty else { throw .malformedNote("no signature lines") }
        guard block.last == UInt8(ascii: "\n") else { throw .malformedNote("the last signature line does not end in a newline") }
        let lines = block.dropLast().split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        guard lines.count <= Self.maximumSignatures else { throw .malformedNote("more than \(Self.maximumSignatures) signatures") }
        var signatures: [NoteSignature] = []
        for (number, line) in lines.enumerated() {
            signatures.append(try Self.signature(String(decoding: line, as: UTF8.self), number: number + 1))
        }
        self.init(text: text, signatures: signatures)
    }

    private static func lastBlankLine(_ bytes: [UInt8]) -> Int? {
        var index = bytes.count - 2
        while index >= 0 {
            if bytes[index] == UInt8(ascii: "\n"), bytes[index + 1] == UInt8(ascii: "\n") { return index }
            index -= 1
        }
        return nil
    }

    private static func signature(_ line: String, number: Int) throws(SignedNoteError) -> NoteSignature {
        let prefix = "— "
        guard line.hasPrefix(prefix) else { throw .malformedNote("signature line \(number) does not start with an em dash and a space") }
        let fields = line.dropFirst(prefix.count).split(separator: " ", omittingEmptySubsequences: false)
        guard fields.count == 2 else { throw .malformedNote("signature line \(number) is not a key name and a signature") }
        let name = String(fields[0])
        guard NoteEncoding.isValidKeyName(name) else { throw .malformedNote("signature line \(number) has an invalid key name") }
        guard let blob = NoteEncoding.strictBase64(String(fields[1])), blob.count > 4 else {
            throw .malformedNote("signature line \(number) is not base64 of a key ID and a signature")
        }
        return NoteSignature(keyName: name, keyID: NoteEncoding.uint32(blob[0..<4]), signature: Array(blob[4...]))
    }

    /// Verifies the note against one trusted key: at least one signature must be by that key (same name and
    /// key ID), and every signature by it must verify. Signatures by other keys are ignored, as the spec asks.
    public func verify(by key: NoteVerifierKey, crypto: some AuditCryptography) throws(SignedNoteError) {
        // Names compare as bytes: Swift's == would equate differently normalised spellings of one name.
        let byKey = signatures.filter { $0.keyName.utf8.elementsEqual(key.name.utf8) && $0.keyID == key.keyID }
        guard !byKey.isEmpty else { throw .notSignedByKey(key.text) }
        let message = Array(text.utf8)
        for signature in byKey where !crypto.ed25519Verify(signature: signature.signature, message: message, publicKey: key.publicKey) {
            throw .invalidSignature(key.text)
        }
    }

    /// The text signed by `signer`.
    public static func signing(_ text: String, with signer: NoteSignerKey, crypto: some AuditCryptography) throws(SignedNoteError) -> SignedNote {
        guard let signature = signer.sign(text, crypto: crypto) else { throw .signingFailed }
        return SignedNote(text: text, signatures: [signature])
    }
}

/// A verifier key in its text form, `<name>+<8 hex digits of key ID>+base64(0x01 ‖ 32-byte Ed25519 public
/// key)`, as golang.org/x/mod/sumdb/note and the C2SP tools write it.
public struct NoteVerifierKey: Equatable, Sendable, CustomStringConvertible {
    public let name: String
    public let keyID: UInt32
    public let publicKey: [UInt8]

    public init(name: String, publicKey: [UInt8], crypto: some AuditCryptography) throws(SignedNoteError) {
        guard NoteEncoding.isValidKeyName(name) else { throw .malformedKey("the key name is empty or has a space or a plus") }
        guard publicKey.count == NoteEncoding.ed25519KeySize else { throw .malformedKey("an Ed25519 public key has 32 bytes") }
        self.name = name
        self.publicKey = publicKey
        keyID = NoteEncoding.ed25519KeyID(name: name, publicKey: publicKey, crypto: crypto)
    }

    public init(parsing text: String, crypto: some AuditCryptography) throws(SignedNoteError) {
        let (name, keyID, keyBytes) = try NoteEncoding.keyFields(text)
        try self.init(name: name, publicKey: keyBytes, crypto: crypto)
        guard self.keyID == keyID else { throw .malformedKey("the key ID is not the hash of the name and the key") }
    }

    public var text: String {
        name + "+" + NoteEncoding.hex(keyID) + "+" + NoteEncoding.base64([NoteEncoding.ed25519Type] + publicKey)
    }

    public var description: String { text }
}

/// A signer key in its text form, `PRIVATE+KEY+<name>+<8 hex digits of key ID>+base64(0x01 ‖ 32-byte seed)`,
/// the form golang.org/x/mod/sumdb/note reads. It is a secret: its description shows only the public part.
public struct NoteSignerKey: Equatable, Sendable, CustomStringConvertible {
    static let prefix = "PRIVATE+KEY+"
    public let verifierKey: NoteVerifierKey
    private let seed: [UInt8]

    public init(name: String, seed: [UInt8], crypto: some AuditCryptography) throws(SignedNoteError) {
        guard seed.count == NoteEncoding.ed25519KeySize, let publicKey = crypto.ed25519PublicKey(seed: seed) else {
            throw .malformedKey("an Ed25519 private key has 32 bytes")
        }
        verifierKey = try NoteVerifierKey(name: name, publicKey: publicKey, crypto: crypto)
        self.seed = seed
    }

    public init(parsing text: String, crypto: some AuditCryptography) throws(SignedNoteError) {
        guard text.hasPrefix(Self.prefix) else { throw .malformedKey("a signer key starts with \(Self.prefix)") }
        let (name, keyID, seed) = try NoteEncoding.keyFields(String(text.dropFirst(Self.prefix.count)))
        try self.init(name: name, seed: seed, crypto: crypto)
        guard verifierKey.keyID == keyID else { throw .malformedKey("the key ID is not the hash of the name and the key") }
    }

    public var name: String { verifierKey.name }

    /// The secret text, for the key file only.
    public var text: String {
        Self.prefix + name + "+" + NoteEncoding.hex(verifierKey.keyID) + "+" + NoteEncoding.base64([NoteEncoding.ed25519Type] + seed)
    }

    public var description: String { "signer key for \(verifierKey.text)" }

    func sign(_ text: String, crypto: some AuditCryptography) -> NoteSignature? {
        crypto.ed25519Sign(Array(text.utf8), seed: seed).map {
            NoteSignature(keyName: name, keyID: verifierKey.keyID, signature: $0)
        }
    }
}

enum NoteEncoding {
    static let ed25519Type: UInt8 = 0x01
    static let ed25519KeySize = 32

    /// SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ public key)[:4], big-endian.
    static func ed25519KeyID(name: String, publicKey: [UInt8], crypto: some AuditCryptography) -> UInt32 {
        uint32(crypto.sha256(Array(name.utf8) + [0x0A, ed25519Type] + publicKey).prefix(4))
    }

    /// Non-empty, and no Unicode space, plus sign or control character.
    static func isValidKeyName(_ name: String) -> Bool {
        !name.isEmpty && !name.unicodeScalars.contains { $0.properties.isWhitespace || $0 == "+" || $0.value < 0x20 || $0.value == 0x7F }
    }

    /// `<name>+<key ID>+<base64 of 0x01 and 32 key bytes>`; the base64 may itself hold plus signs.
    static func keyFields(_ text: String) throws(SignedNoteError) -> (String, UInt32, [UInt8]) {
        let fields = text.split(separator: "+", maxSplits: 2, omittingEmptySubsequences: false)
        guard fields.count == 3 else { throw .malformedKey("a key text is <name>+<key ID>+<key>") }
        let idText = fields[1]
        guard idText.count == 8, idText.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) }),
              let keyID = UInt32(idText, radix: 16) else {
            throw .malformedKey("the key ID is not 8 lowercase hexadecimal digits")
        }
        guard let keyBytes = strictBase64(String(fields[2])) else { throw .malformedKey("the key is not base64") }
        guard keyBytes.first == ed25519Type else { throw .malformedKey("only Ed25519 keys (type 0x01) are supported") }
        guard keyBytes.count == 1 + ed25519KeySize else { throw .malformedKey("an Ed25519 key has 32 bytes") }
        return (String(fields[0]), keyID, Array(keyBytes.dropFirst()))
    }

    static func base64(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }

    /// Standard base64 with padding, in its one canonical spelling.
    static func strictBase64(_ text: String) -> [UInt8]? {
        guard let data = Data(base64Encoded: text), data.base64EncodedString() == text else { return nil }
        return Array(data)
    }

    static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] {
        [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: value >> $0) }
    }

    static func uint32(_ bytes: some Collection<UInt8>) -> UInt32 {
        bytes.reduce(0) { $0 << 8 | UInt32($1) }
    }
}
