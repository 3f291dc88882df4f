import Foundation
import LedgerStorage

enum MigrateCommand {
    static let help = """
        ledger migrate: apply the pending migrations of Schema/ and exit.

        Each migration runs in its own transaction and is recorded with its checksum; an applied migration
        whose file changed since stops with an error. Uses DATABASE_URL or the embedded PostgreSQL.
        """

    static func run(_ settings: Settings) throws {
        let database = try Database(settings: settings)
        defer { database.close() }
        let (applied, latest) = try database.migrate(vault: try PersonalDataSetup.configuredVault(settings, embedded: database.embedded != nil))
        for migration in applied { print("applied \(migration.version) \(migration.name)") }
        print("schema at version \(latest)")
    }
}
