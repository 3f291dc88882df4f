import Foundation
import LedgerEngine
import LedgerLog
import LedgerStorage

/// The database a command works on: `DATABASE_URL`, or the embedded cluster in the data directory.
public final class Database: @unchecked Sendable {
    public let conninfo: String
    public let embedded: EmbeddedPostgres?
    private let startedHere: Bool
    /// The role the service's connections run as (see Schema/001_schema.sql).
    public static let serviceRole = "ledger_service"

    public init(settings: Settings) throws {
        if let url = settings.databaseURL {
            conninfo = url
            embedded = nil
            startedHere = false
            return
        }
        let cluster = try EmbeddedPostgres(directory: settings.dataDirectory)
        startedHere = try cluster.start()
        if startedHere {
            Log.info("started the embedded PostgreSQL", ["data_directory": .string(cluster.dataDirectory.path)])
        }
        embedded = cluster
        conninfo = cluster.conninfo()
    }

    /// Applies pending migrations over a connection of the database owner, then rebuilds every projection
    /// whose code is at a newer version than its rows.
    @discardableResult
    /// Applies the migrations, checks `vault`'s key-encryption key against the stored data keys, and rebuilds the
    /// projections whose version was raised (sealing their personal data under `vault`).
    public func migrate(vault: PersonalDataVault? = nil) throws -> (applied: [Migrator.Migration], latest: Int) {
        let migrator = try Migrator(directory: try Migrator.locateSchemaDirectory())
        let connection = try PostgresConnection(conninfo: conninfo)
        let applied = try migrator.migrate(connection)
        try vault?.checkKeyEncryptionKey(connection)
        // Without the key-encryption key, streams with sealed personal data do not fold: a command that has none
        // (`ledger keys …`) leaves the rebuild to the next one that has it (`serve`, `migrate`, `dispatch`).
        if vault == nil, try connection.query("SELECT FROM ledger.data_keys LIMIT 1").count > 0 {
            Log.info("projections whose version was raised are rebuilt by the next command given the key-encryption key")
        } else {
            let rebuilt = try Replay.rebuildRaised(connection, vault: vault)
            if !rebuilt.isEmpty { Log.info("rebuilt projections whose version was raised", ["projections": .string(rebuilt.joined(separator: ","))]) }
        }
        return (applied, migrator.migrations.last?.version ?? 0)
    }

    public func makePool(size: Int, commitThreads: Int = 0, applicationName: String? = nil) -> ConnectionPool {
        ConnectionPool(conninfo: conninfo, size: size, role: Database.serviceRole, commitThreads: commitThreads,
                       applicationName: applicationName)
    }

    /// Stops the embedded cluster if this process started it.
    public func close() {
        guard startedHere, let embedded else { return }
        do {
            try embedded.stop()
            Log.info("stopped the embedded PostgreSQL")
        } catch {
            Log.error("could not stop the embedded PostgreSQL", ["error": .string("\(error)")])
        }
    }
}
