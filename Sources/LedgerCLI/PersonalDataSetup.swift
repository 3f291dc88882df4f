import Foundation
import LedgerCrypto
import LedgerLog
import LedgerStorage

/// The key-encryption key a command that serves or folds personal data starts with.
enum PersonalDataSetup {
    struct MissingKey: Error, CustomStringConvertible {
        var description: String {
            "no key-encryption key: personal data is encrypted under each entity's data key, wrapped by the key in "
                + "\(KeyEncryptionKey.variable) (base64 of 32 random bytes: openssl rand -base64 32) or in the file "
                + "\(KeyEncryptionKey.fileVariable) names; every instance on this database needs the same one"
        }
    }

    /// The vault of the configured key (or of the embedded setup's key file, once made), for commands that fold or
    /// rebuild but never serve (`migrate`, `replay`): without a key they fail on the first encrypted event instead.
    static func configuredVault(_ settings: Settings, embedded: Bool) throws -> PersonalDataVault? {
        if let key = settings.keyEncryptionKey { return PersonalDataVault(keyEncryptionKey: key) }
        let file = keyFile(settings)
        guard embedded, FileManager.default.fileExists(atPath: file.path),
              let key = try KeyEncryptionKey.load(environment: [KeyEncryptionKey.fileVariable: file.path]) else { return nil }
        return PersonalDataVault(keyEncryptionKey: key)
    }

    /// What a `ledger serve` that a benchmark starts is given: nothing when this process has a key configured (the
    /// child inherits it), else the key file in the data directory, generated there on first use, so that runs on
    /// one database keep one key.
    static func benchmarkEnvironment(_ settings: Settings) throws -> [String: String] {
        guard settings.keyEncryptionKey == nil else { return [:] }
        let file = keyFile(settings)
        if !FileManager.default.fileExists(atPath: file.path) {
            try FileManager.default.createDirectory(at: settings.dataDirectory, withIntermediateDirectories: true)
            _ = try KeyEncryptionKey.generateFile(at: file.path)
        }
        return [KeyEncryptionKey.fileVariable: file.path]
    }

    /// The file the embedded setup keeps its generated key in.
    static func keyFile(_ settings: Settings) -> URL { settings.dataDirectory.appendingPathComponent("kek") }

    /// The vault of the configured key; for the embedded database without one, the key in the data directory,
    /// generated there (with a warning to back it up) on first start. Nil only with encryption switched off.
    static func vault(_ settings: Settings, embedded: Bool) throws -> PersonalDataVault? {
        guard settings.personalDataEncryption else {
            Log.warning("personal data encryption is off (LEDGER_PERSONAL_DATA_ENCRYPTION=0): personal data is stored as given")
            return nil
        }
        if let configured = try configuredVault(settings, embedded: embedded) { return configured }
        guard embedded else { throw MissingKey() }
        let file = keyFile(settings)
        let key = try KeyEncryptionKey.generateFile(at: file.path)
        Log.warning("generated a key-encryption key; back it up: without it every entity's personal data is lost",
                    ["file": .string(file.path), "key_id": .string(key.idHex)])
        return PersonalDataVault(keyEncryptionKey: key)
    }
}
