import Foundation
import LedgerDomain
import LedgerStorage

/// A run as the API and the CLI show it: its state and counts, and once evaluated, the diff with the webhook
/// preview. Everything is aggregated by PostgreSQL, so a run over many orders costs the reader a few small rows.
public enum RescoringReport {
    public static let sampleSize = 10
    public static let errorSampleSize = 20

    /// The run (`rows` from `Rescoring.find` and kin), nil when there is none.
    public static func run(_ connection: PostgresConnection, organizationID: UUID, _ rows: PostgresRows) throws -> JSONValue? {
        guard rows.count > 0, let id = rows.string(0, 0), let livemode = rows.bool(0, 1) else { return nil }
        let status = rows.string(0, 10) ?? ""
        let total = rows.int64(0, 12) ?? 0, evaluated = rows.int64(0, 13) ?? 0
        let finished = status == "completed"
        let ruleset: JSONValue = ["name": .string(rows.string(0, 2) ?? ""), "version": .int(rows.int64(0, 3) ?? 0),
                                  "hash": .string(rows.string(0, 4) ?? "")]
        var members: [(String, JSONValue)] = [("id", .string(id)), ("object", "rescoring_run"), ("livemode", .bool(livemode))]
        members.append(("ruleset", ruleset))
        members.append(("evaluator_version", .string(rows.string(0, 5) ?? "")))
        members.append(("filter", rows.json(0, 6) ?? .object([])))
        members.append(("as_of", ViewJSON.time(rows.date(0, 7))))
        members.append(("evaluated_at", ViewJSON.time(rows.date(0, 8))))
        members.append(("dry_run", .bool(rows.bool(0, 9) ?? true)))
        members.append(("status", .string(status)))
        members.append(("apply_status", ViewJSON.text(rows.string(0, 11))))
        let counts: [(String, Int)] = [("orders_total", 12), ("orders_evaluated", 13), ("orders_changed", 14), ("errors", 15),
                                       ("orders_applied", 16), ("conflicts", 17)]
        for (name, column) in counts { members.append((name, .int(rows.int64(0, column) ?? 0))) }
        let progress = finished || total == 0 ? 1 : min(1, Double(evaluated) / Double(total))
        members.append(("progress", .double(progress)))
        members.append(("missing_fields", rows.json(0, 18) ?? .object([])))
        members.append(("failure", ViewJSON.text(rows.string(0, 19))))
        members.append(("attempts", .int(rows.int64(0, 23) ?? 0)))
        members.append(("last_error", ViewJSON.text(rows.string(0, 24))))
        members.append(("retry_at", ViewJSON.time(rows.date(0, 25))))
        members.append(("created_at", ViewJSON.time(rows.date(0, 20))))
        members.append(("completed_at", ViewJSON.time(rows.date(0, 21))))
        members.append(("applied_at", ViewJSON.time(rows.date(0, 22))))
        members.append(("diff", finished ? try diff(connection, organizationID: organizationID, livemode: livemode, runID: id) : .null))
        return .object(members)
    }

    /// Per score, old → new counts; per rule, the orders it changes; a sample of changes; the failed evaluations;
    /// and the webhook preview: the ORDER_CUSTOM_SCORE_CHANGE messages each endpoint and the postbacks would get.
    public static func diff(_ connection: PostgresConnection, organizationID: UUID, livemode: Bool, runID: String) throws -> JSONValue {
        let transitions = try connection.query("""
            SELECT score_name, coalesce(old_value::text, 'null'), new_value::text, count(*) FROM ledger.rescoring_changes
            WHERE organization_id = $1 AND run_id = $2 AND error_type IS NULL
            GROUP BY 1, 2, 3 ORDER BY 1, 4 DESC, 2, 3 LIMIT 1000
            """, [organizationID, runID])
        var scores: [(String, [JSONValue])] = []
        for row in 0..<transitions.count {
            guard let score = transitions.string(row, 0) else { continue }
            let entry: JSONValue = ["old": transitions.json(row, 1) ?? .null, "new": transitions.json(row, 2) ?? .null,
                                    "orders": .int(transitions.int64(row, 3) ?? 0)]
            if scores.last?.0 == score { scores[scores.count - 1].1.append(entry) } else { scores.append((score, [entry])) }
        }
        let rules = try connection.query("""
            SELECT score_name, count(*) FILTER (WHERE error_type IS NULL), count(*) FILTER (WHERE error_type IS NOT NULL)
            FROM ledger.rescoring_changes WHERE organization_id = $1 AND run_id = $2 GROUP BY 1 ORDER BY 1
            """, [organizationID, runID])
        let sample = try changes(connection, organizationID: organizationID, runID: runID, errors: false, after: nil, limit: sampleSize)
        let failures = try changes(connection, organizationID: organizationID, runID: runID, errors: true, after: nil, limit: errorSampleSize)
        let messages = try connection.query("""
            SELECT count(*) FILTER (WHERE error_type IS NULL), count(*) FILTER (WHERE error_type IS NULL AND postback),
                   count(DISTINCT verification_id) FILTER (WHERE error_type IS NULL AND postback)
            FROM ledger.rescoring_changes WHERE organization_id = $1 AND run_id = $2
            """, [organizationID, runID])
        let perEndpoint = messages.int64(0, 0) ?? 0
        let endpoints = try connection.query("""
            SELECT id, url FROM ledger.webhook_endpoints
            WHERE organization_id = $1 AND livemode = $2 AND deleted_at IS NULL AND enabled
              AND ('*' = ANY (events) OR $3 = ANY (events))
            ORDER BY created_at, id
            """, [organizationID, livemode, WebhookEventType.orderCustomScoreChange.rawValue])
        return .object([
            ("scores", .object(scores.map { ($0.0, .array($0.1)) })),
            ("rules", .object((0..<rules.count).map { row in
                (rules.string(row, 0) ?? "", ["orders_changed": .int(rules.int64(row, 1) ?? 0), "errors": .int(rules.int64(row, 2) ?? 0)])
            })),
            ("sample", .array(sample)),
            ("errors", .array(failures)),
            ("webhook_preview", .object([
                ("event_type", .string(WebhookEventType.orderCustomScoreChange.rawValue)),
                ("endpoints", .array((0..<endpoints.count).map { row in
                    ["id": .string(endpoints.string(row, 0) ?? ""), "url": .string(endpoints.string(row, 1) ?? ""), "messages": .int(perEndpoint)]
                })),
                ("postbacks", ["orders": .int(messages.int64(0, 2) ?? 0), "messages": .int(messages.int64(0, 1) ?? 0)]),
                ("messages", .int(perEndpoint * Int64(endpoints.count) + (messages.int64(0, 1) ?? 0))),
            ])),
        ])
    }

    /// Changes (or, with `errors`, failed evaluations) in order id and score order, after the `after` change id.
    public static func changes(_ connection: PostgresConnection, organizationID: UUID, runID: String, errors: Bool, after: String?,
                               limit: Int) throws -> [JSONValue] {
        let cursor = after.map(changeCursor)
        let rows = try connection.query("""
            SELECT verification_id, score_name, old_value::text, new_value::text, error_type, error, stream_version, applied_at, conflict
            FROM ledger.rescoring_changes
            WHERE organization_id = $1 AND run_id = $2 AND (error_type IS NOT NULL) = $3
              AND ($4::text IS NULL OR (verification_id, score_name) > ($4, $5))
            ORDER BY verification_id, score_name LIMIT $6
            """, [organizationID, runID, errors, cursor?.order, cursor?.score ?? "", limit])
        return (0..<rows.count).map { row in
            let order = rows.string(row, 0) ?? "", score = rows.string(row, 1) ?? ""
            var members: [(String, JSONValue)] = [("id", .string("\(order)/\(score)")), ("order_id", .string(order)), ("score", .string(score)),
                                                  ("old", rows.json(row, 2) ?? .null)]
            if errors {
                members += [("error", ["type": .string(rows.string(row, 4) ?? ""), "message": .string(rows.string(row, 5) ?? "")])]
            } else {
                members += [("new", rows.json(row, 3) ?? .null), ("stream_version", .int(rows.int64(row, 6) ?? 0)),
                            ("applied_at", ViewJSON.time(rows.date(row, 7))), ("conflict", .bool(rows.bool(row, 8) ?? false))]
            }
            return .object(members)
        }
    }

    /// A change's id is its order and score name: `ver_…/risk` (order ids hold no `/`).
    static func changeCursor(_ id: String) -> (order: String, score: String) {
        guard let slash = id.firstIndex(of: "/") else { return (id, "") }
        return (String(id[..<slash]), String(id[id.index(after: slash)...]))
    }
}
