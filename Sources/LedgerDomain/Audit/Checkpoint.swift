import Foundation

public enum CheckpointError: Error, Equatable, Sendable, CustomStringConvertible {
    case malformed(String)

    public var description: String {
        switch self {
        case let .malformed(reason): return "malformed checkpoint: \(reason)"
        }
    }
}

/// A tree head as the text of a C2SP checkpoint (c2sp.org/tlog-checkpoint): the origin line, the tree size in
/// decimal, the base64 root hash, then optional non-empty extension lines, each line ending in a newline.
public struct Checkpoint: Equatable, Sendable {
    public let origin: String
    public let treeSize: UInt64
    public let rootHash: [UInt8]
    public let extensionLines: [String]

    public init(origin: String, treeSize: UInt64, rootHash: [UInt8], extensionLines: [String] = []) throws(CheckpointError) {
        guard !origin.isEmpty, !origin.contains("\n") else { throw .malformed("the origin is empty or spans lines") }
        guard rootHash.count == MerkleHasher.hashSize else { throw .malformed("the root hash has \(rootHash.count) bytes, not 32") }
        guard extensionLines.allSatisfy({ !$0.isEmpty && !$0.contains("\n") }) else {
            throw .malformed("an extension line is empty or spans lines")
        }
        self.origin = origin
        self.treeSize = treeSize
        self.rootHash = rootHash
        self.extensionLines = extensionLines
    }

    public init(parsing text: String) throws(CheckpointError) {
        // Bytes, not Characters: Swift reads "\r\n" as one Character, the format knows only "\n".
        let bytes = Array(text.utf8)
        guard bytes.last == UInt8(ascii: "\n") else { throw .malformed("the text does not end in a newline") }
        guard !bytes.contains(where: { $0 < 0x20 && $0 != UInt8(ascii: "\n") }) else { throw .malformed("a control character") }
        let lines = bytes.dropLast().split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
            .map { String(decoding: $0, as: UTF8.self) }
        guard lines.count >= 3 else { throw .malformed("a checkpoint has an origin, a tree size and a root hash") }
        let sizeText = lines[1]
        // Decimal digits only, without a sign or leading zeroes (the empty tree is "0").
        guard !sizeText.isEmpty, sizeText.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
              sizeText == "0" || !sizeText.hasPrefix("0"), let treeSize = UInt64(sizeText) else {
            throw .malformed("the tree size is not a decimal number without leading zeroes")
        }
        guard let rootHash = NoteEncoding.strictBase64(lines[2]) else { throw .malformed("the root hash is not base64") }
        try self.init(origin: lines[0], treeSize: treeSize, rootHash: rootHash, extensionLines: Array(lines.dropFirst(3)))
    }

    public var text: String {
        ([origin, String(treeSize), NoteEncoding.base64(rootHash)] + extensionLines).map { $0 + "\n" }.joined()
    }

    /// The checkpoint signed by the log's key, as a note.
    public func signed(by signer: NoteSignerKey, crypto: some AuditCryptography) throws(SignedNoteError) -> SignedNote {
        try SignedNote.signing(text, with: signer, crypto: crypto)
    }

    /// The checkpoint of a signed note, once the note is verified by `key`. The log signs with a key named after
    /// its origin, so a checkpoint of another origin is refused even if that key signed it.
    public static func open(_ note: String, key: NoteVerifierKey, crypto: some AuditCryptography) throws(CheckpointOpeningError) -> Checkpoint {
        let signed: SignedNote
        do {
            signed = try SignedNote(parsing: note)
            try signed.verify(by: key, crypto: crypto)
        } catch {
            throw .note(error)
        }
        let checkpoint: Checkpoint
        do {
            checkpoint = try Checkpoint(parsing: signed.text)
        } catch {
            throw .checkpoint(error)
        }
        guard checkpoint.origin.utf8.elementsEqual(key.name.utf8) else { throw .otherOrigin(origin: checkpoint.origin, keyName: key.name) }
        return checkpoint
    }
}

public enum CheckpointOpeningError: Error, Equatable, Sendable, CustomStringConvertible {
    case note(SignedNoteError)
    case checkpoint(CheckpointError)
    case otherOrigin(origin: String, keyName: String)

    public var description: String {
        switch self {
        case let .note(error): return error.description
        case let .checkpoint(error): return error.description
        case let .otherOrigin(origin, keyName): return "the checkpoint's origin \(origin) is not the key's name \(keyName)"
        }
    }
}
