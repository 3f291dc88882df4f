import Foundation
import LedgerCrypto
import LedgerDomain

/// Where `ledger serve` gets the key that signs its checkpoints: `LEDGER_CHECKPOINT_KEY` (the signer key text,
/// `PRIVATE+KEY+<name>+<key id>+<base64>`), or `LEDGER_CHECKPOINT_KEY_FILE` (a file holding it). On the embedded
/// database without either, `checkpoint.key` in the data directory, made on first start (named
/// `LEDGER_LOG_ORIGIN`, default `ledger.localhost/log`; readable by its owner only). The key's name is the
/// checkpoints' origin line.
public enum CheckpointKey {
    static let variable = "LEDGER_CHECKPOINT_KEY"
    static let fileVariable = "LEDGER_CHECKPOINT_KEY_FILE"
    static let originVariable = "LEDGER_LOG_ORIGIN"
    static let defaultOrigin = "ledger.localhost/log"
    static let embeddedFileName = "checkpoint.key"

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// The configured key; nil when none is configured and there is no embedded data directory to keep one in.
    public static func load(environment: [String: String], embeddedDirectory: URL?) throws -> NoteSignerKey? {
        let crypto = LibcryptoAudit()
        let inline = environment[variable].flatMap { $0.isEmpty ? nil : $0 }
        let path = environment[fileVariable].flatMap { $0.isEmpty ? nil : $0 }
        switch (inline, path) {
        case (.some, .some):
            throw Invalid(description: "set \(variable) or \(fileVariable), not both")
        case let (text?, nil):
            return try parse(text, source: variable, crypto: crypto)
        case let (nil, path?):
            return try parse(try read(path), source: "\(fileVariable)=\(path)", crypto: crypto)
        case (nil, nil):
            guard let embeddedDirectory else { return nil }
            let file = embeddedDirectory.appendingPathComponent(embeddedFileName).path
            if FileManager.default.fileExists(atPath: file) {
                return try parse(try read(file), source: file, crypto: crypto)
            }
            let origin = environment[originVariable].flatMap { $0.isEmpty ? nil : $0 } ?? defaultOrigin
            return try generate(at: file, origin: origin, crypto: crypto)
        }
    }

    private static func parse(_ text: String, source: String, crypto: LibcryptoAudit) throws -> NoteSignerKey {
        do {
            return try NoteSignerKey(parsing: text.trimmingCharacters(in: .whitespacesAndNewlines), crypto: crypto)
        } catch {
            // The error names what is wrong with the form, never the key.
            throw Invalid(description: "\(source) is not a signer key: \(error)")
        }
    }

    private static func read(_ path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw Invalid(description: "cannot read the checkpoint key file \(path)") }
        defer { try? handle.close() }
        let contents = (try? handle.read(upToCount: 4097)) ?? Data()
        guard contents.count <= 4096 else { throw Invalid(description: "\(path) is larger than 4 KiB, not a key file") }
        return String(decoding: contents, as: UTF8.self)
    }

    /// A new key in a new file (0600); an existing file is never overwritten.
    private static func generate(at path: String, origin: String, crypto: LibcryptoAudit) throws -> NoteSignerKey {
        guard let seed = Ed25519.generateSeed() else { throw Invalid(description: "libcrypto's random generator is not seeded") }
        let key: NoteSignerKey
        do {
            key = try NoteSignerKey(name: origin, seed: seed, crypto: crypto)
        } catch {
            throw Invalid(description: "\(originVariable)=\(origin) cannot name a key: \(error)")
        }
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw Invalid(description: "cannot create the checkpoint key file \(path): errno \(errno)") }
        defer { close(descriptor) }
        let bytes = Array((key.text + "\n").utf8)
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw Invalid(description: "cannot write the checkpoint key file \(path)") }
        return key
    }
}
