import Foundation
import LedgerEngine
import LedgerLog
import LedgerStorage

enum ReplayCommand {
    static let help = """
        ledger replay [--projection NAME ...] [--check]: read models from the log alone.

        Folds every stream and has each projection make its rows, with the same code commands write them with,
        then compares them with the live tables in one snapshot. With --check it prints every differing row
        (projection, organization/id, and which columns) and exits 1 if any differ, 0 otherwise, changing
        nothing. Without it, it also rewrites the rows of each differing stream, in a short transaction that
        locks the stream as commands do (so `ledger serve` may keep running), and deletes rows the log makes
        no row for, and records the projections' versions. It appends nothing to the log and queues no webhook.
        A projection whose version was raised in the code is rebuilt this way by `ledger migrate` (and by
        every command that migrates first, `ledger serve` among them).

        Projections: \(Projections.inline.map { $0.name }.joined(separator: ", ")) (default: all).
        Uses DATABASE_URL or the embedded PostgreSQL, as the database owner.
        """

    /// Returns the exit status: 1 when `--check` found differences.
    static func run(_ arguments: [String], settings: Settings) throws -> Int32 {
        var projections: [any Projection] = []
        var check = false
        var index = 0
        while index < arguments.count {
            switch arguments[index] {
            case "--check":
                check = true
            case "--projection":
                guard index + 1 < arguments.count else { throw UsageError(message: "--projection needs a name") }
                let name = arguments[index + 1]
                guard let projection = Projections.inline.first(where: { $0.name == name }) else {
                    throw UsageError(message: "no projection \(name): use \(Projections.inline.map(\.name).joined(separator: ", "))")
                }
                projections.append(projection)
                index += 1
            default:
                throw UsageError(message: "unknown argument \(arguments[index])")
            }
            index += 1
        }
        if projections.isEmpty { projections = Projections.inline }
        let database = try Database(settings: settings)
        defer { database.close() }
        let connection = try PostgresConnection(conninfo: database.conninfo)
        try connection.execute("SET search_path = ledger, public; SET TimeZone = 'UTC'; SET DateStyle = 'ISO'")
        // One JSON line on standard error every few seconds: streams folded and their rate.
        let started = Date()
        var reported = started
        func progress(_ streams: Int) {
            let now = Date()
            guard now.timeIntervalSince(reported) >= 2 else { return }
            reported = now
            Log.info("replay progress", ["streams": .int(streams),
                                         "streams_per_s": .double(Double(streams) / max(0.001, now.timeIntervalSince(started)))])
        }
        let vault = try PersonalDataSetup.configuredVault(settings, embedded: database.embedded != nil)
        try vault?.checkKeyEncryptionKey(connection)
        let differences = check ? try Replay.check(connection, projections: projections, vault: vault, progress: progress)
            : try Replay.repair(connection, projections: projections, vault: vault, progress: progress)
        for difference in differences { print(difference.description) }
        let streams = Set(differences.map { "\($0.organizationID)/\($0.id)" }).count
        if check {
            print(differences.isEmpty ? "no differences" : "\(differences.count) differing rows in \(streams) streams")
            return differences.isEmpty ? 0 : 1
        }
        print(differences.isEmpty ? "nothing to repair" : "repaired \(differences.count) rows in \(streams) streams")
        return 0
    }
}
