import Foundation
import LedgerStorage

/// A `ledger replay` in progress, read from its checkpoint (`ledger.replay_checkpoint`), which it commits after
/// every page.
enum ReplayMetrics {
    /// Empty when the database cannot be asked: the rest of the metrics still answer.
    static func render(_ pool: ConnectionPool) -> String {
        guard let rows = try? pool.withConnection({ connection in
            try connection.query("SELECT phase, events_folded, events_total, streams_folded FROM ledger.replay_checkpoint")
        }) else { return "" }
        let running = rows.count == 1
        let phase = running ? rows.string(0, 0) ?? "" : ""
        return """
            # HELP ledger_replay_running Whether a ledger replay is rebuilding read models (or was killed mid-way and not yet continued).
            # TYPE ledger_replay_running gauge
            ledger_replay_running \(running ? 1 : 0)
            # HELP ledger_replay_bulk_done Whether the replay's bulk pass is done (it is catching up or swapping).
            # TYPE ledger_replay_bulk_done gauge
            ledger_replay_bulk_done \(phase == "catch_up" ? 1 : 0)
            # HELP ledger_replay_events_folded Events the replay's bulk pass has folded into its shadow tables.
            # TYPE ledger_replay_events_folded gauge
            ledger_replay_events_folded \(running ? rows.int64(0, 1) ?? 0 : 0)
            # HELP ledger_replay_events_total Events in the log when the replay began.
            # TYPE ledger_replay_events_total gauge
            ledger_replay_events_total \(running ? rows.int64(0, 2) ?? 0 : 0)
            # HELP ledger_replay_streams_folded Streams the replay's bulk pass has folded.
            # TYPE ledger_replay_streams_folded gauge
            ledger_replay_streams_folded \(running ? rows.int64(0, 3) ?? 0 : 0)

            """
    }
}
