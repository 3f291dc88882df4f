import Foundation
import LedgerCrypto
import LedgerDomain
import LedgerEngine
import LedgerHTTP
import LedgerStorage
import LedgerWebhooks

/// `/v1/webhook_endpoints` and `/v1/webhook_secret`: where webhooks go and what signs them. A secret is
/// shown when it is made; after a rotation the old one keeps signing for 24 hours.
enum WebhookEndpointsResource {
    static let rotationOverlap: TimeInterval = 24 * 3600
    static let columns = "id, url, events, description, enabled, disabled_reason, livemode, created_at, updated_at, previous_secret_expires_at, delivery_mode"
    /// `ordered`: a verification's messages to this endpoint go one after the other; `concurrent`: as they come,
    /// the receiver ordering them by `sequence`.
    static let deliveryModes = ["ordered", "concurrent"]

    static func register(on router: inout Router<Endpoint>, policy: WebhookURLPolicy, clock: @escaping @Sendable () -> Date) {
        router.add("POST", "/v1/webhook_endpoints", .command(.scope(.admin)) { context, tx in
            let caller = try context.authenticated
            let body = try context.body(allowed: ["url", "events", "description", "delivery_mode"])
            let url = try policy.check(try body.requiredString("url", maxLength: 2048), livemode: caller.livemode, param: "url")
            let events = try eventList(body, required: true) ?? []
            guard let secret = WebhookSecret.generate() else { throw APIFailure.internalError }
            let rows = try tx.query("""
                INSERT INTO ledger.webhook_endpoints (id, organization_id, livemode, url, events, description, secret, delivery_mode)
                VALUES ($1, $2, $3, $4, $5, $6, $7, coalesce($8, 'ordered')) RETURNING \(columns)
                """, [APIConfiguration.randomID("we"), caller.organizationID, caller.livemode, url, PostgresArray(events),
                      try body.string("description"), secret.text, try deliveryMode(body)])
            return .json(201, withSecret(try endpoint(rows), secret))
        })

        router.add("GET", "/v1/webhook_endpoints", .read(.scope(.read)) { context in
            let caller = try context.authenticated
            let rows = try context.pool.withConnection {
                try $0.query("""
                    SELECT \(columns) FROM ledger.webhook_endpoints
                    WHERE organization_id = $1 AND livemode = $2 AND deleted_at IS NULL ORDER BY created_at DESC, id
                    """, [caller.organizationID, caller.livemode])
            }
            return .json(200, ["object": "list", "url": "/v1/webhook_endpoints", "has_more": false,
                               "data": .array(try (0..<rows.count).map { try endpoint(rows, row: $0) })])
        })

        router.add("GET", "/v1/webhook_endpoints/{id}", .read(.scope(.read)) { context in
            let caller = try context.authenticated
            let rows = try context.pool.withConnection { try find($0, caller, context.request.parameter("id"), lock: false) }
            return .json(200, try endpoint(rows))
        })

        router.add("POST", "/v1/webhook_endpoints/{id}", .command(.scope(.admin)) { context, tx in
            let caller = try context.authenticated
            let id = context.request.parameter("id")
            _ = try find(tx, caller, id, lock: true)
            let body = try context.body(allowed: ["url", "events", "description", "enabled", "delivery_mode"])
            let url = try body.string("url", maxLength: 2048).map { try policy.check($0, livemode: caller.livemode, param: "url") }
            let enabled = try body.bool("enabled")
            let rows = try tx.query("""
                UPDATE ledger.webhook_endpoints
                SET url = coalesce($3, url), events = coalesce($4, events), description = coalesce($5, description),
                    enabled = coalesce($6, enabled), delivery_mode = coalesce($7, delivery_mode),
                    disabled_reason = CASE WHEN $6 IS NULL THEN disabled_reason WHEN $6 THEN NULL ELSE 'disabled by request' END,
                    failing_since = CASE WHEN $6 THEN NULL ELSE failing_since END, updated_at = now()
                WHERE organization_id = $1 AND id = $2 RETURNING \(columns)
                """, [caller.organizationID, id, url, try eventList(body, required: false).map(PostgresArray.init),
                      try body.string("description"), enabled, try deliveryMode(body)])
            return .json(200, try endpoint(rows))
        })

        router.add("DELETE", "/v1/webhook_endpoints/{id}", .command(.scope(.admin)) { context, tx in
            let caller = try context.authenticated
            let id = context.request.parameter("id")
            _ = try find(tx, caller, id, lock: true)
            try tx.query("UPDATE ledger.webhook_endpoints SET deleted_at = now(), enabled = false WHERE organization_id = $1 AND id = $2",
                         [caller.organizationID, id])
            // Nothing will send what was still queued for it: dead-lettered, with the reason, rather than pending forever.
            try tx.query("""
                UPDATE ledger.outbox SET status = 'dead', dead_reason = 'the endpoint was deleted', leased_until = NULL, lease_token = NULL
                WHERE organization_id = $1 AND endpoint_id = $2 AND status = 'pending'
                """, [caller.organizationID, id])
            return .json(200, ["id": .string(id), "object": "webhook_endpoint", "deleted": true])
        })

        // Like Svix's recovery: every message to the endpoint since `since` that was not delivered (dead, or
        // pending) is queued again now; a message being sent at this moment is left to its dispatcher.
        router.add("POST", "/v1/webhook_endpoints/{id}/recover", .command(.scope(.admin)) { context, tx in
            let caller = try context.authenticated
            let id = context.request.parameter("id")
            let body = try context.body(allowed: ["since"])
            let sinceText = try body.requiredString("since", maxLength: 64)
            guard let since = Timestamp.parse(sinceText) else {
                throw APIFailure.invalid("since", "since must be an RFC 3339 time, like 2026-01-31T12:00:00Z")
            }
            guard since <= clock() else { throw APIFailure.invalid("since", "since must not be in the future") }
            _ = try find(tx, caller, id, lock: true)
            let rows = try tx.query("""
                WITH requeued AS (
                    UPDATE ledger.outbox SET status = 'pending', attempts = 0, next_attempt_at = now(), dead_reason = NULL
                    WHERE organization_id = $1 AND livemode = $2 AND endpoint_id = $3 AND created_at >= $4
                      AND status IN ('pending', 'dead') AND (leased_until IS NULL OR leased_until <= now())
                    RETURNING 1)
                SELECT count(*), pg_notify('\(Outbox.channel)', $3) FROM requeued
                """, [caller.organizationID, caller.livemode, id, since])
            return .json(200, ["object": "webhook_recovery", "endpoint_id": .string(id), "since": .string(Timestamp.rfc3339(since)),
                               "requeued": .int(Int64(rows.int(0, 0) ?? 0))])
        })

        router.add("POST", "/v1/webhook_endpoints/{id}/rotate_secret", .command(.scope(.admin)) { context, tx in
            let caller = try context.authenticated
            let id = context.request.parameter("id")
            _ = try find(tx, caller, id, lock: true)
            guard let secret = WebhookSecret.generate() else { throw APIFailure.internalError }
            let rows = try tx.query("""
                UPDATE ledger.webhook_endpoints
                SET previous_secret = secret, previous_secret_expires_at = $3, secret = $4, updated_at = now()
                WHERE organization_id = $1 AND id = $2 RETURNING \(columns)
                """, [caller.organizationID, id, clock().addingTimeInterval(rotationOverlap), secret.text])
            return .json(200, withSecret(try endpoint(rows), secret))
        })

        router.add("GET", "/v1/webhook_secret", .command(.scope(.admin)) { context, tx in
            let caller = try context.authenticated
            let current = try PostbackSecrets.current(tx, organizationID: caller.organizationID, livemode: caller.livemode)
            return .json(200, postbackSecret(secret: current.secret.text, previousExpiresAt: current.previousExpiresAt))
        })

        router.add("POST", "/v1/webhook_secret/rotate", .command(.scope(.admin)) { context, tx in
            let caller = try context.authenticated
            guard let fresh = WebhookSecret.generate() else { throw APIFailure.internalError }
            let rows = try tx.query("""
                INSERT INTO ledger.postback_secrets AS p (organization_id, livemode, secret) VALUES ($1, $2, $3)
                ON CONFLICT (organization_id, livemode) DO UPDATE
                SET previous_secret = p.secret, previous_secret_expires_at = $4, secret = excluded.secret
                RETURNING secret, previous_secret_expires_at
                """, [caller.organizationID, caller.livemode, fresh.text, clock().addingTimeInterval(rotationOverlap)])
            return .json(200, postbackSecret(secret: rows.string(0, 0), previousExpiresAt: rows.date(0, 1)))
        })
    }

    static func eventList(_ body: RequestBody, required: Bool) throws -> [String]? {
        guard let events = try body.stringList("events", required: required, maxCount: WebhookEventType.allCases.count + 1, maxLength: 60) else {
            return nil
        }
        guard !events.isEmpty else { throw APIFailure.invalid("events", "events must name at least one event type, or \"*\" for all") }
        for (index, name) in events.enumerated() where name != "*" && WebhookEventType(rawValue: name) == nil {
            throw APIFailure.invalid("events[\(index)]", "events[\(index)] must be \"*\" or one of \(WebhookEventType.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return events
    }

    static func deliveryMode(_ body: RequestBody) throws -> String? {
        guard let mode = try body.string("delivery_mode", maxLength: 20) else { return nil }
        guard deliveryModes.contains(mode) else {
            throw APIFailure.invalid("delivery_mode", "delivery_mode must be \(deliveryModes.joined(separator: " or "))")
        }
        return mode
    }

    static func find(_ connection: PostgresConnection, _ caller: Caller, _ id: String, lock: Bool) throws -> PostgresRows {
        let rows = try connection.query("""
            SELECT \(columns) FROM ledger.webhook_endpoints
            WHERE organization_id = $1 AND livemode = $2 AND id = $3 AND deleted_at IS NULL\(lock ? " FOR UPDATE" : "")
            """, [caller.organizationID, caller.livemode, id])
        guard rows.count == 1 else { throw APIFailure.notFound("webhook endpoint", id) }
        return rows
    }

    static func endpoint(_ rows: PostgresRows, row: Int = 0) throws -> JSONValue {
        guard let id = rows.string(row, 0), let url = rows.string(row, 1), let events = rows.string(row, 2),
              let enabled = rows.bool(row, 4), let livemode = rows.bool(row, 6) else {
            throw StorageError.unreadableRow(table: "webhook_endpoints", key: rows.string(row, 0) ?? "?")
        }
        let names = events.trimmingCharacters(in: CharacterSet(charactersIn: "{}")).split(separator: ",")
            .map { JSONValue.string($0.trimmingCharacters(in: CharacterSet(charactersIn: "\""))) }
        return .object([
            ("id", .string(id)), ("object", "webhook_endpoint"), ("url", .string(url)), ("events", .array(names)),
            ("description", ViewJSON.text(rows.string(row, 3))), ("enabled", .bool(enabled)),
            ("disabled_reason", ViewJSON.text(rows.string(row, 5))), ("livemode", .bool(livemode)),
            ("created_at", ViewJSON.time(rows.date(row, 7))), ("updated_at", ViewJSON.time(rows.date(row, 8))),
            ("previous_secret_expires_at", ViewJSON.time(rows.date(row, 9))),
            ("delivery_mode", ViewJSON.text(rows.string(row, 10))),
        ])
    }

    static func withSecret(_ object: JSONValue, _ secret: WebhookSecret) -> JSONValue {
        guard case var .object(members) = object else { return object }
        members.append(("secret", .string(secret.text)))
        return .object(members)
    }

    static func postbackSecret(secret: String?, previousExpiresAt: Date?) -> JSONValue {
        .object([("object", "webhook_secret"), ("secret", ViewJSON.text(secret)),
                 ("previous_secret_expires_at", ViewJSON.time(previousExpiresAt))])
    }
}
