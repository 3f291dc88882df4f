import Foundation
import LedgerCrypto
import LedgerDomain
import LedgerStorage

/// An organization with keys, made straight in the database for API tests.
public struct TestOrganization: Sendable {
    public let id: UUID
    public let adminKey: String
    public let readKey: String
    public let writeKey: String
    public let liveAdminKey: String

    public init(database: TestDatabase, name: String = "Acme") throws {
        let connection = try database.ownerConnection()
        id = try AccessStore.createOrganization(connection, name: name).id
        adminKey = try AccessStore.createKey(connection, organizationID: id, livemode: false, scopes: [.read, .write, .admin]).secret
        readKey = try AccessStore.createKey(connection, organizationID: id, livemode: false, scopes: [.read]).secret
        writeKey = try AccessStore.createKey(connection, organizationID: id, livemode: false, scopes: [.read, .write]).secret
        liveAdminKey = try AccessStore.createKey(connection, organizationID: id, livemode: true, scopes: [.read, .write, .admin]).secret
    }
}

extension Dictionary where Key == String, Value == String {
    public static func bearer(_ key: String) -> [String: String] { ["Authorization": "Bearer \(key)"] }
}

/// The key-encryption key of every `ledger serve` a test starts on a test database (`LEDGER_KEK`).
public enum TestKeyEncryptionKey {
    public static let base64 = "dEvhUEy3SHsjZx3UsfUvTxEjes9Pf+psWE0k0dwZcqE="

    /// A vault under this key, as a test server's.
    public static func vault() throws -> PersonalDataVault {
        guard let key = try KeyEncryptionKey.load(environment: [KeyEncryptionKey.variable: base64]) else { throw KeyEncryptionKeyError.notBase64(source: "the test key") }
        return PersonalDataVault(keyEncryptionKey: key)
    }
}
