import Foundation
import LedgerStorage

/// The webhook part of `GET /metrics`: pending messages by what they wait for (the fixed reasons of
/// `WebhookDeliveriesResource.waitingFor`), over every organization, so head-of-line blocking shows.
enum WebhookMetrics {
    static let reasons = ["due", "in_flight", "retry_scheduled", "earlier_message_pending", "endpoint_disabled"]

    /// Empty when the database cannot be asked: the rest of the metrics still answer.
    static func render(_ pool: ConnectionPool) -> String {
        guard let rows = try? pool.withConnection(scope: .system, { connection in
            try connection.query("""
                SELECT w.reason, count(*) FROM (
                    SELECT (\(WebhookDeliveriesResource.waitingFor)) ->> 'reason' AS reason
                    FROM ledger.outbox o
                    \(WebhookDeliveriesResource.waitingJoins)
                    WHERE o.status = 'pending') w
                GROUP BY w.reason
                """)
        }) else { return "" }
        var counts: [String: Int] = [:]
        for row in 0..<rows.count {
            if let reason = rows.string(row, 0), let count = rows.int(row, 1) { counts[reason] = count }
        }
        var out = """
            # HELP ledger_webhook_messages_waiting Pending webhook messages, by what they wait for.
            # TYPE ledger_webhook_messages_waiting gauge

            """
        for reason in reasons {
            out += "ledger_webhook_messages_waiting{reason=\"\(reason)\"} \(counts[reason] ?? 0)\n"
        }
        return out
    }
}
