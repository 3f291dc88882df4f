import Foundation
import LedgerCrypto
import LedgerDomain
import LedgerStorage

/// `ledger orgs create` and `ledger keys create|list|revoke`: what prints a secret prints only that.
enum AccessCommands {
    static let orgsHelp = """
        ledger orgs create NAME
            Creates an organization and prints its id alone on standard output.
        """

    static let keysHelp = """
        ledger keys create --org ID --scopes read,write,admin [--live] [--description TEXT]
            Creates an API key and prints it alone on standard output: sk_test_… (or sk_live_… with --live),
            32 random bytes. Only its SHA-256 is stored; it cannot be shown again.
        ledger keys list --org ID
            Lists the organization's keys (id, mode, scopes, hint, created, revoked); never the secrets.
        ledger keys revoke KEY_ID [--reason TEXT]
            Revokes a key; requests with it get 401 from then on.
        ledger keys rotate-kek
            Re-wraps every entity's data key from the key-encryption key of LEDGER_KEK (or LEDGER_KEK_FILE) to the
            one of LEDGER_NEW_KEK (or LEDGER_NEW_KEK_FILE), in one transaction; events and read rows stay as they
            are. Stop the service first, then start it with the new key. Safe to run again after a failure.
        """

    static func orgs(_ arguments: [String], settings: Settings) throws {
        let options = try Options(arguments, known: [])
        guard options.positional.first == "create" else { throw UsageError(message: "usage: ledger orgs create NAME") }
        let name = options.positional.dropFirst().joined(separator: " ")
        guard (1...200).contains(name.count) else { throw UsageError(message: "the organization needs a name of 1 to 200 characters") }
        try withConnection(settings) { connection in
            print(try AccessStore.createOrganization(connection, name: name).id.uuidString.lowercased())
        }
    }

    static func keys(_ arguments: [String], settings: Settings) throws {
        var rest = arguments
        let live = rest.contains("--live")
        rest.removeAll { $0 == "--live" }
        let options = try Options(rest, known: ["org", "scopes", "description", "reason"])
        switch options.positional.first {
        case "create":
            let organization = try organizationID(options)
            guard let scopeText = options.string("scopes") else { throw UsageError(message: "--scopes is required, e.g. --scopes read,write") }
            let scopes: Set<Scope>
            switch Scope.parseList(scopeText) {
            case let .success(parsed): scopes = parsed
            case let .failure(unknown): throw UsageError(message: "unknown scope '\(unknown.name)': use read, write and admin")
            }
            try withConnection(settings) { connection in
                let (_, secret) = try AccessStore.createKey(connection, organizationID: organization, livemode: live,
                                                            scopes: scopes, description: options.string("description"))
                print(secret)
            }
        case "list":
            let organization = try organizationID(options)
            try withConnection(settings) { connection in
                for key in try AccessStore.keys(connection, organizationID: organization) {
                    let revoked = key.revokedAt.map { "revoked \(Timestamp.rfc3339($0))" } ?? "active"
                    print("\(key.id)  \(key.livemode ? "live" : "test")  \(key.scopes.sorted().map(\.rawValue).joined(separator: ","))  \(key.hint)  created \(Timestamp.rfc3339(key.createdAt))  \(revoked)")
                }
            }
        case "revoke":
            guard options.positional.count == 2 else { throw UsageError(message: "usage: ledger keys revoke KEY_ID [--reason TEXT]") }
            let id = options.positional[1]
            try withConnection(settings) { connection in
                guard try AccessStore.revokeKey(connection, organizationID: nil, id: id,
                                                reason: options.string("reason") ?? "revoked with ledger keys revoke") != nil else {
                    throw UsageError(message: "no API key \(id)")
                }
                print("revoked \(id)")
            }
        case "rotate-kek":
            guard let old = settings.keyEncryptionKey else { throw PersonalDataSetup.MissingKey() }
            guard let new = settings.newKeyEncryptionKey else {
                throw UsageError(message: "set LEDGER_NEW_KEK (or LEDGER_NEW_KEK_FILE) to the new key-encryption key")
            }
            try withConnection(settings) { connection in
                let count = try PersonalDataVault.rotate(connection, from: old, to: new)
                print("re-wrapped \(count) data keys from \(old) to \(new)")
            }
        default:
            throw UsageError(message: "usage: ledger keys create|list|revoke|rotate-kek (see ledger keys --help)")
        }
    }

    private static func organizationID(_ options: Options) throws -> UUID {
        guard let text = options.string("org") else { throw UsageError(message: "--org ID is required") }
        guard let id = UUID(uuidString: text) else { throw UsageError(message: "--org takes an organization id (a UUID), not '\(text)'") }
        return id
    }

    private static func withConnection(_ settings: Settings, _ body: (PostgresConnection) throws -> Void) throws {
        let database = try Database(settings: settings)
        defer { database.close() }
        try database.migrate()
        let connection = try PostgresConnection(conninfo: database.conninfo)
        try connection.execute("SET search_path = ledger, public; SET TimeZone = 'UTC'; SET DateStyle = 'ISO'")
        do {
            try body(connection)
        } catch let error as AccessError {
            throw UsageError(message: error.description)
        }
    }
}
