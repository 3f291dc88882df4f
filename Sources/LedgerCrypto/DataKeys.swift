import Foundation

/// Whose personal data a data key encrypts. Bound into every wrapped key, so a wrapped key copied to another
/// entity's row (or another organization's) no longer unwraps.
public struct DataKeyOwner: Sendable, Equatable, Hashable {
    public var organizationID: UUID
    public var entityID: String

    public init(organizationID: UUID, entityID: String) {
        self.organizationID = organizationID
        self.entityID = entityID
    }
}

/// One entity's AES-256-GCM key for its personal data. Destroying every copy of it (its wrapped form) is the erasure.
public struct DataKey: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public let bytes: [UInt8]

    /// Interpolating a key into a message or a log line shows that it is one, never its bytes.
    public var description: String { "data key" }
    public var debugDescription: String { description }

    public static func == (lhs: DataKey, rhs: DataKey) -> Bool { Digest.constantTimeEqual(lhs.bytes, rhs.bytes) }

    public init?(bytes: [UInt8]) {
        guard bytes.count == AESGCM.keySize else { return nil }
        self.bytes = bytes
    }

    /// 32 bytes from libcrypto's generator; nil only if it is not seeded.
    public static func generate() -> DataKey? { Digest.randomBytes(AESGCM.keySize).flatMap(DataKey.init(bytes:)) }

    public func seal(_ plaintext: [UInt8], associatedData: [UInt8]) throws(AESGCM.Failure) -> [UInt8] {
        try AESGCM.seal(plaintext, key: bytes, associatedData: associatedData)
    }

    public func open(_ sealed: [UInt8], associatedData: [UInt8]) throws(AESGCM.Failure) -> [UInt8] {
        try AESGCM.open(sealed, key: bytes, associatedData: associatedData)
    }
}

/// A data key encrypted by a key-encryption key, in a self-describing form of 69 bytes:
///
///     version (1 byte, 0x01) ‖ KEK id (8) ‖ nonce (12) ‖ encrypted data key (32) ‖ tag (16)
///
/// sealed with AES-256-GCM under the KEK with the associated data `version ‖ KEK id ‖ organization id (its 16 bytes)
/// ‖ entity id (UTF-8)`, so the header can't be edited and the key can't be moved to another owner. The KEK id names
/// which KEK wrapped it, so a wrong KEK is reported as such before any decryption is tried.
public struct WrappedDataKey: Sendable, Equatable {
    public static let currentVersion: UInt8 = 1
    public static let size = 1 + KeyEncryptionKey.idSize + AESGCM.overhead + AESGCM.keySize

    public let bytes: [UInt8]

    public init(bytes: [UInt8]) throws(DataKeyError) {
        guard let version = bytes.first else { throw .malformed("a wrapped data key is \(Self.size) bytes, not 0") }
        guard version == Self.currentVersion else { throw .unsupportedVersion(version) }
        guard bytes.count == Self.size else { throw .malformed("a wrapped data key is \(Self.size) bytes, not \(bytes.count)") }
        self.bytes = bytes
    }

    public var version: UInt8 { bytes[0] }
    /// The id of the key-encryption key that wrapped it (hex).
    public var keyEncryptionKeyID: String { Array(bytes[1...KeyEncryptionKey.idSize]).hexString }

    fileprivate var header: [UInt8] { Array(bytes[...KeyEncryptionKey.idSize]) }
    fileprivate var sealedKey: [UInt8] { Array(bytes[(KeyEncryptionKey.idSize + 1)...]) }

    fileprivate static func associatedData(header: [UInt8], owner: DataKeyOwner) -> [UInt8] {
        let organization = withUnsafeBytes(of: owner.organizationID.uuid) { Array($0) }
        return header + organization + Array(owner.entityID.utf8)
    }
}

public enum DataKeyError: Error, Equatable, Sendable, CustomStringConvertible {
    case malformed(String)
    case unsupportedVersion(UInt8)
    /// The wrapped key names another KEK than the one loaded: the service was started with the wrong key.
    case wrappedByAnotherKey(wrappedBy: String, loaded: String)
    /// The KEK id matches but the tag does not: the wrapped key was altered, or it belongs to another owner.
    case authenticationFailed(keyEncryptionKeyID: String)
    case encryptionFailed(AESGCM.Failure)

    public var description: String {
        switch self {
        case let .malformed(reason): return "malformed wrapped data key: \(reason)"
        case let .unsupportedVersion(version):
            return "wrapped data key of version \(version); this build reads version \(WrappedDataKey.currentVersion)"
        case let .wrappedByAnotherKey(wrappedBy, loaded):
            return "wrong key-encryption key: the data key was wrapped by key-encryption key \(wrappedBy), "
                + "but the key loaded from \(KeyEncryptionKey.variable) or \(KeyEncryptionKey.fileVariable) is \(loaded)"
        case let .authenticationFailed(id):
            return "the wrapped data key does not authenticate under key-encryption key \(id): "
                + "wrong key-encryption key, altered bytes, or a key that belongs to another entity"
        case let .encryptionFailed(failure): return "cannot wrap the data key: \(failure)"
        }
    }
}

/// The key-encryption key (KEK): 32 bytes that wrap every data key, read from `LEDGER_KEK` (base64) or from the
/// file `LEDGER_KEK_FILE` names (the same base64 text). Losing it loses every entity's personal data.
public struct KeyEncryptionKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    public static let size = 32
    public static let idSize = 8
    public static let variable = "LEDGER_KEK"
    public static let fileVariable = "LEDGER_KEK_FILE"

    private let bytes: [UInt8]
    /// Names the key without revealing it: the first 8 bytes of HMAC-SHA256(KEK, "ledger key-encryption key id").
    public let id: [UInt8]

    public init(bytes: [UInt8]) throws(KeyEncryptionKeyError) {
        guard bytes.count == Self.size else { throw .wrongLength(source: "a key-encryption key", byteCount: bytes.count) }
        self.bytes = bytes
        id = Array(Digest.hmacSHA256(key: bytes, message: Array("ledger key-encryption key id".utf8)).prefix(Self.idSize))
    }

    /// 32 bytes from libcrypto's generator.
    public static func generate() throws(KeyEncryptionKeyError) -> KeyEncryptionKey {
        guard let bytes = Digest.randomBytes(size) else { throw .randomnessUnavailable }
        return try KeyEncryptionKey(bytes: bytes)
    }

    /// The form `LEDGER_KEK` and the key file hold.
    public var base64: String { Data(bytes).base64EncodedString() }

    public var idHex: String { id.hexString }

    /// Interpolating the KEK shows its id, never its bytes.
    public var description: String { "key-encryption key \(idHex)" }
    public var debugDescription: String { description }

    public func wrap(_ dataKey: DataKey, for owner: DataKeyOwner) throws(DataKeyError) -> WrappedDataKey {
        let header = [WrappedDataKey.currentVersion] + id
        let sealed: [UInt8]
        do {
            sealed = try AESGCM.seal(dataKey.bytes, key: bytes,
                                     associatedData: WrappedDataKey.associatedData(header: header, owner: owner))
        } catch {
            throw .encryptionFailed(error)
        }
        return try WrappedDataKey(bytes: header + sealed)
    }

    public func unwrap(_ wrapped: WrappedDataKey, for owner: DataKeyOwner) throws(DataKeyError) -> DataKey {
        guard wrapped.keyEncryptionKeyID == idHex else {
            throw .wrappedByAnotherKey(wrappedBy: wrapped.keyEncryptionKeyID, loaded: idHex)
        }
        let opened: [UInt8]
        do {
            opened = try AESGCM.open(wrapped.sealedKey, key: bytes,
                                     associatedData: WrappedDataKey.associatedData(header: wrapped.header, owner: owner))
        } catch {
            throw .authenticationFailed(keyEncryptionKeyID: idHex)
        }
        guard let key = DataKey(bytes: opened) else { throw .malformed("the data key inside is \(opened.count) bytes") }
        return key
    }

    /// One step of a KEK rotation: the data key unwrapped with the old KEK and wrapped with the new one; events and
    /// their ciphertexts stay as they are. A key the new KEK already wrapped is checked and kept, so a rotation that
    /// stopped half-way can simply be run again.
    public static func rewrap(_ wrapped: WrappedDataKey, for owner: DataKeyOwner, from old: KeyEncryptionKey,
                              to new: KeyEncryptionKey) throws(DataKeyError) -> WrappedDataKey {
        if wrapped.keyEncryptionKeyID == new.idHex {
            _ = try new.unwrap(wrapped, for: owner)
            return wrapped
        }
        return try new.wrap(try old.unwrap(wrapped, for: owner), for: owner)
    }
}

public enum KeyEncryptionKeyError: Error, Equatable, Sendable, CustomStringConvertible {
    case bothSet
    case notBase64(source: String)
    case wrongLength(source: String, byteCount: Int)
    case unreadableFile(path: String, reason: String)
    case fileExists(path: String)
    case cannotCreateFile(path: String, reason: String)
    case randomnessUnavailable

    public var description: String {
        let size = KeyEncryptionKey.size
        switch self {
        case .bothSet:
            return "set \(KeyEncryptionKey.variable) or \(KeyEncryptionKey.fileVariable), not both"
        case let .notBase64(source):
            return "\(source) is not base64: it must hold the base64 of \(size) random bytes (openssl rand -base64 \(size))"
        case let .wrongLength(source, count):
            return "\(source) holds \(count) bytes; a key-encryption key is \(size) bytes (openssl rand -base64 \(size))"
        case let .unreadableFile(path, reason):
            return "\(KeyEncryptionKey.fileVariable)=\(path) cannot be read: \(reason)"
        case let .fileExists(path):
            return "\(path) already exists; a key-encryption key file is never overwritten"
        case let .cannotCreateFile(path, reason):
            return "cannot create the key-encryption key file \(path): \(reason)"
        case .randomnessUnavailable:
            return "libcrypto's random generator is not seeded"
        }
    }
}

extension KeyEncryptionKey {
    /// The KEK the environment configures, or nil when it configures none (empty values count as unset). Errors
    /// name the variable (and the file) at fault and never show the key.
    public static func load(environment: [String: String]) throws(KeyEncryptionKeyError) -> KeyEncryptionKey? {
        let inline = environment[variable].flatMap { $0.isEmpty ? nil : $0 }
        let path = environment[fileVariable].flatMap { $0.isEmpty ? nil : $0 }
        switch (inline, path) {
        case (nil, nil): return nil
        case (.some, .some): throw .bothSet
        case let (text?, nil): return try parse(text, source: variable)
        case let (nil, path?):
            let contents = try readKeyFile(path)
            guard let text = String(bytes: contents, encoding: .utf8) else {
                throw .notBase64(source: "\(fileVariable)=\(path)")
            }
            return try parse(text, source: "\(fileVariable)=\(path)")
        }
    }

    /// A key file holds some 45 bytes; anything past 4 KiB is not one, and is not read whole.
    private static func readKeyFile(_ path: String) throws(KeyEncryptionKeyError) -> [UInt8] {
        let limit = 4096
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .unreadableFile(path: path, reason: errorText(errno)) }
        defer { close(descriptor) }
        var contents = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: limit + 1)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .unreadableFile(path: path, reason: errorText(errno))
            }
            if count == 0 { return contents }
            contents += chunk.prefix(count)
            if contents.count > limit { throw .unreadableFile(path: path, reason: "larger than \(limit) bytes, not a key file") }
        }
    }

    /// Surrounding white space (the file's final newline) is ignored; anything else must be strict base64.
    static func parse(_ text: String, source: String) throws(KeyEncryptionKeyError) -> KeyEncryptionKey {
        guard let decoded = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw .notBase64(source: source)
        }
        guard decoded.count == size else { throw .wrongLength(source: source, byteCount: decoded.count) }
        return try KeyEncryptionKey(bytes: Array(decoded))
    }

    /// A new KEK written to a new file readable by its owner only (0600), as base64 and a newline, so it can be
    /// given to `LEDGER_KEK_FILE` or `LEDGER_KEK` later. An existing file is never overwritten.
    public static func generateFile(at path: String) throws(KeyEncryptionKeyError) -> KeyEncryptionKey {
        let key = try generate()
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            let code = errno
            if code == EEXIST { throw .fileExists(path: path) }
            throw .cannotCreateFile(path: path, reason: errorText(code))
        }
        let contents = Array((key.base64 + "\n").utf8)
        let written = contents.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        var failure: String?
        if written != contents.count {
            failure = written < 0 ? errorText(errno) : "short write"
        } else if fchmod(descriptor, 0o600) != 0 || fsync(descriptor) != 0 {
            // open's mode is only ever narrowed by the umask; fchmod states it outright all the same.
            failure = errorText(errno)
        }
        close(descriptor)
        if let failure {
            unlink(path)
            throw .cannotCreateFile(path: path, reason: failure)
        }
        return key
    }

    private static func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }
}
