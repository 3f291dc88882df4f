import Foundation
import LedgerEngine
import LedgerLog
import LedgerStorage

enum ReplayCommand {
    static let help = """
        ledger replay [--projection NAME ...] [--check]: read models rebuilt from the log alone.

        Folds every stream (in key order, one stream in memory at a time) with the same projection code commands
        write their rows with, into shadow tables (schema ledger_replay); then folds again, from the gap-safe
        feed, the streams that changed meanwhile; then, in one short transaction that locks the live tables
        against writers (reads go on), applies the last events and compares. Without --check it renames the
        rebuilt tables in, made with the live ones' indexes, policies and grants (so `ledger serve` may keep
        taking commands: nothing committed during the rebuild is lost), and records the projections' versions.
        With --check it swaps nothing, prints every differing row (projection, organization/id, and which
        columns) and exits 1 if any differ, 0 otherwise. Either way it appends nothing to the log and queues no webhook.

        Resumable: the shadow tables and a checkpoint (ledger.replay_checkpoint) are committed page by page, so
        a run that was killed is continued by the next (or started clean, which it says); a half-built table
        is never swapped in. Progress: a bar with events/s and ETA on a terminal, otherwise one JSON line on
        standard error every few seconds; /metrics shows it as ledger_replay_* gauges.

        A projection whose version was raised in the code is rebuilt this way by `ledger migrate` (and by every
        command that migrates first, `ledger serve` among them).

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
        let vault = try PersonalDataSetup.configuredVault(settings, embedded: database.embedded != nil)
        try vault?.checkKeyEncryptionKey(connection)
        let report = ReplayProgressReport(terminal: isatty(STDERR_FILENO) == 1)
        let show: (ReplayDifference) -> Void = { difference in
            report.end()
            print(difference.description)
        }
        let tally = check ? try Replay.check(connection, projections: projections, vault: vault, progress: report.show, told: report.say, differences: show)
            : try Replay.repair(connection, projections: projections, vault: vault, progress: report.show, told: report.say, differences: show)
        report.end()
        if check {
            print(tally.rows == 0 ? "no differences" : "\(tally.rows) differing rows in \(tally.streams) streams")
            return tally.rows == 0 ? 0 : 1
        }
        print(tally.rows == 0 ? "nothing to repair" : "repaired \(tally.rows) rows in \(tally.streams) streams")
        return 0
    }
}

/// Replay progress on standard error: a bar redrawn in place on a terminal, else a JSON log line every few
/// seconds; events per second over this run, and the time left at that rate.
final class ReplayProgressReport {
    let terminal: Bool
    let started = Date()
    var reported = Date.distantPast
    var firstSeen: Int64?
    var drewBar = false

    init(terminal: Bool) { self.terminal = terminal }

    func say(_ message: String) {
        end()
        Log.info(message)
    }

    func show(_ progress: ReplayProgress) {
        let now = Date()
        guard now.timeIntervalSince(reported) >= (terminal ? 0.2 : 2) else { return }
        reported = now
        let base = firstSeen ?? progress.events
        firstSeen = base
        let figures = Self.figures(progress, base: base, seconds: now.timeIntervalSince(started))
        if terminal {
            FileHandle.standardError.write(Data(("\r" + Self.bar(progress, figures)).utf8))
            drewBar = true
        } else {
            Log.info("replay progress", ["phase": .string(progress.phase.rawValue), "events": .int(Int(progress.events)),
                                         "total_events": .int(Int(progress.totalEvents)), "streams": .int(Int(progress.streams)),
                                         "caught_up_events": .int(Int(progress.caughtUp)),
                                         "events_per_s": .double(figures.rate), "eta_s": .double(figures.eta ?? .infinity)]) // unknown: null
        }
    }

    func end() {
        guard drewBar else { return }
        FileHandle.standardError.write(Data("\n".utf8))
        drewBar = false
    }

    /// Events per second in this run (a continued run counts from where it began), and seconds left.
    static func figures(_ progress: ReplayProgress, base: Int64, seconds: Double) -> (rate: Double, eta: Double?) {
        let rate = Double(max(0, progress.events - base)) / max(0.001, seconds)
        let left = Double(max(0, progress.totalEvents - progress.events))
        return (rate.rounded(), rate > 0 ? (left / rate).rounded() : nil)
    }

    static func bar(_ progress: ReplayProgress, _ figures: (rate: Double, eta: Double?)) -> String {
        let fraction = progress.totalEvents > 0 ? min(1, Double(progress.events) / Double(progress.totalEvents)) : 1
        let width = 30, filled = Int((fraction * Double(width)).rounded(.down))
        let eta = figures.eta.map { "\(Int($0))s" } ?? "?"
        return "[\(String(repeating: "#", count: filled))\(String(repeating: ".", count: width - filled))] "
            + "\(Int((fraction * 100).rounded(.down)))% \(progress.events)/\(progress.totalEvents) events, "
            + "\(Int(figures.rate)) events/s, ETA \(eta), \(progress.phase.rawValue)   "
    }
}
