import Foundation
import LedgerStorage
import Synchronization

/// The webhook part of `GET /metrics`: pending messages by what they wait for (the fixed reasons of
/// `WebhookDeliveriesResource.waitingFor`), over every organization, so head-of-line blocking shows.
///
/// Counting reads every pending message, and `/metrics` needs no key: the counts are kept for `maxAge`
/// seconds and computed by one scrape at a time (the others answer the last counts meanwhile), and the count
/// gives up after two seconds, so however often it is scraped it costs the database at most one count per
/// `maxAge`.
final class WebhookMetrics: Sendable {
    static let reasons = ["due", "in_flight", "retry_scheduled", "earlier_message_pending", "endpoint_disabled"]

    private struct State {
        var counts: [String: Int]?
        var countedAt: UInt64 = 0
        var counting = false
    }
    private let state = Mutex(State())
    private let maxAgeNanoseconds: UInt64

    init(maxAge: TimeInterval) {
        let nanoseconds = maxAge * 1e9
        maxAgeNanoseconds = nanoseconds.isFinite && nanoseconds > 0 ? UInt64(min(nanoseconds, 86_400e9)) : 0
    }

    /// Empty when the database could never be asked: the rest of the metrics still answer.
    func render(_ pool: ConnectionPool) -> String {
        guard let counts = currentCounts(pool) else { return "" }
        var out = """
            # HELP ledger_webhook_messages_waiting Pending webhook messages, by what they wait for.
            # TYPE ledger_webhook_messages_waiting gauge

            """
        for reason in Self.reasons {
            out += "ledger_webhook_messages_waiting{reason=\"\(reason)\"} \(counts[reason] ?? 0)\n"
        }
        return out
    }

    /// The kept counts while they are fresh or another scrape is counting; else counted now.
    private func currentCounts(_ pool: ConnectionPool) -> [String: Int]? {
        let now = DispatchTime.now().uptimeNanoseconds
        let kept = state.withLock { state -> [String: Int]?? in
            let fresh = state.counts != nil && now &- state.countedAt < maxAgeNanoseconds
            if fresh || (state.counting && state.counts != nil) { return .some(state.counts) }
            state.counting = true
            return .none
        }
        if let kept { return kept }
        let counted = try? count(pool)
        return state.withLock { state in
            state.counting = false
            if let counted {
                state.counts = counted
                state.countedAt = DispatchTime.now().uptimeNanoseconds
            }
            return state.counts
        }
    }

    private func count(_ pool: ConnectionPool) throws -> [String: Int] {
        let rows = try pool.transaction(scope: .system) { tx in
            try tx.execute("SET LOCAL statement_timeout = '2s'")
            return try tx.query("""
                SELECT w.reason, count(*) FROM (
                    SELECT (\(WebhookDeliveriesResource.waitingFor)) ->> 'reason' AS reason
                    FROM (
                        -- The pending messages without reading the history (no outbox index names status,
                        -- Schema/066): those the claim's queue holds, and those held for a disabled endpoint.
                        SELECT o.* FROM ledger.outbox_queue q JOIN ledger.outbox o ON o.id = q.id
                        UNION ALL
                        SELECT o.* FROM ledger.webhook_endpoints d JOIN ledger.outbox o ON o.endpoint_id = d.id
                        WHERE NOT d.enabled AND d.deleted_at IS NULL AND o.held) o
                    \(WebhookDeliveriesResource.waitingJoins)
                    WHERE o.status = 'pending') w
                GROUP BY w.reason
                """)
        }
        var counts: [String: Int] = [:]
        for row in 0..<rows.count {
            if let reason = rows.string(row, 0), let count = rows.int(row, 1) { counts[reason] = count }
        }
        return counts
    }
}
