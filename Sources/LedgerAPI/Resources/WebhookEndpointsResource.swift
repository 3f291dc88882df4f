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
    static let deliveryMode = Schema.named("WebhookDeliveryMode", .choice(["ordered", "concurrent"],
        description: "ordered: a verification's messages go one after the other; concurrent: as they come, ordered by sequence"))

    static let endpointID = APIParameters.id("id", "A webhook endpoint's id (we_…)")
    /// An absolute http(s) URL of RFC 3986's unreserved and delimiter characters; the policy adds what a pattern
    /// cannot say.
    static let url = Schema.text(minLength: 1, maxLength: 2048,
                                 pattern: "^[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9.-]+(:[0-9]{1,5})?([/?#][A-Za-z0-9._~:/?#@!$&'()*+,;=-]*)?$",
                                 description: "https in live mode; a public address unless the server allows private ones (else 400)")
    static let events = Schema.array(of: APISchemas.webhookEventName, minItems: 1, maxItems: WebhookEventType.allCases.count + 1)

    static func operations(policy: WebhookURLPolicy, limit: Int, clock: @escaping @Sendable () -> Date) -> [APIOperation] {
        let endpointLinks = [APIResponses.get("getWebhookEndpoint"), APIResponses.get("updateWebhookEndpoint"),
                             APIResponses.get("rotateWebhookEndpointSecret"), APIResponses.get("recoverWebhookEndpoint"),
                             APIResponses.get("deleteWebhookEndpoint")]
        return [
        .api("POST", "/v1/webhook_endpoints", id: "createWebhookEndpoint", summary: "Subscribe a URL to webhook events", scope: .admin,
             body: .object([
                 .init("url", url, required: true),
                 .init("events", events, required: true, description: "Event types, or \"*\" for all"),
                 .init("description", .text(maxLength: 500)),
                 .init("delivery_mode", deliveryMode, description: "Default ordered"),
             ]),
             responses: [APIResponses.created("The endpoint, with its secret (shown only here)", APISchemas.webhookEndpointWithSecret,
                                              links: endpointLinks)],
             .preparedCommand { context in
            let caller = try context.authenticated
            let body = context.body
            // Resolved before the transaction: a slow lookup holds no pooled connection.
            let url = try policy.check(try body.requiredString("url"), livemode: caller.livemode, param: "url")
            let events = body.stringList("events") ?? []
            guard let secret = WebhookSecret.generate() else { throw APIFailure.internalError }
            return { tx in
                // Creations of one organization and mode queue on this lock, so concurrent ones cannot pass the limit
                // together. The count is a statement of its own: a statement's snapshot is taken before it waits for
                // the lock, so counting in the locking statement would miss the creation it waited for.
                _ = try tx.query("SELECT pg_advisory_xact_lock(hashtextextended('webhook_endpoints:' || $1::uuid::text || ':' || $2::boolean::text, 0))",
                                 [caller.organizationID, caller.livemode])
                let existing = try tx.query("""
                    SELECT count(*) FROM ledger.webhook_endpoints WHERE organization_id = $1 AND livemode = $2 AND deleted_at IS NULL
                    """, [caller.organizationID, caller.livemode]).int(0, 0) ?? 0
                guard existing < limit else {
                    throw APIFailure(status: 400, type: "invalid_request_error", code: "webhook_endpoint_limit_reached",
                                     message: "this organization already has \(existing) \(caller.livemode ? "live" : "test") webhook endpoints, "
                                         + "the most it may have (LEDGER_WEBHOOK_ENDPOINT_LIMIT is \(limit)); delete one first",
                                     param: nil)
                }
                let rows = try tx.query("""
                    INSERT INTO ledger.webhook_endpoints (id, organization_id, livemode, url, events, description, secret, delivery_mode)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, coalesce($8, 'ordered')) RETURNING \(columns)
                    """, [APIConfiguration.randomID("we"), caller.organizationID, caller.livemode, url, PostgresArray(events),
                          body.string("description"), secret.text, body.string("delivery_mode")])
                return .json(201, withSecret(try endpoint(rows), secret))
            }
        }),

        .api("GET", "/v1/webhook_endpoints", id: "listWebhookEndpoints", summary: "The webhook endpoints, newest first", scope: .read,
             responses: [APIResponses.ok("Every endpoint; never a secret",
                                         APISchemas.list("WebhookEndpointList", of: APISchemas.webhookEndpoint),
                                         links: [APIResponses.get("getWebhookEndpoint", id: "/data/0/id")])],
             .read { context in
            let caller = try context.authenticated
            let rows = try context.pool.withConnection {
                try $0.query("""
                    SELECT \(columns) FROM ledger.webhook_endpoints
                    WHERE organization_id = $1 AND livemode = $2 AND deleted_at IS NULL ORDER BY created_at DESC, id
                    """, [caller.organizationID, caller.livemode])
            }
            return .json(200, ["object": "list", "url": "/v1/webhook_endpoints", "has_more": false,
                               "data": .array(try (0..<rows.count).map { try endpoint(rows, row: $0) })])
        }),

        .api("GET", "/v1/webhook_endpoints/{id}", id: "getWebhookEndpoint", summary: "A webhook endpoint", scope: .read,
             parameters: [endpointID], responses: [APIResponses.ok("The endpoint; never its secret", APISchemas.webhookEndpoint)],
             .read { context in
            let caller = try context.authenticated
            let rows = try context.pool.withConnection { try find($0, caller, context.request.parameter("id"), lock: false) }
            return .json(200, try endpoint(rows))
        }),

        .api("POST", "/v1/webhook_endpoints/{id}", id: "updateWebhookEndpoint", summary: "Change a webhook endpoint", scope: .admin,
             parameters: [endpointID],
             body: .object([
                 .init("url", url), .init("events", events), .init("description", .text(maxLength: 500)),
                 .init("enabled", .boolean, description: "false stops deliveries; true starts them again and forgets the failures"),
                 .init("delivery_mode", deliveryMode),
             ]),
             responses: [APIResponses.ok("The endpoint after the change", APISchemas.webhookEndpoint)],
             .preparedCommand { context in
            let caller = try context.authenticated
            let id = context.request.parameter("id")
            let body = context.body
            // Resolved before the transaction: a slow lookup holds no pooled connection.
            let url = try body.string("url").map { try policy.check($0, livemode: caller.livemode, param: "url") }
            let enabled = body.bool("enabled")
            return { tx in
                _ = try find(tx, caller, id, lock: true)
                let rows = try tx.query("""
                    UPDATE ledger.webhook_endpoints
                    SET url = coalesce($3, url), events = coalesce($4, events), description = coalesce($5, description),
                        enabled = coalesce($6, enabled), delivery_mode = coalesce($7, delivery_mode),
                        disabled_reason = CASE WHEN $6 IS NULL THEN disabled_reason WHEN $6 THEN NULL ELSE 'disabled by request' END,
                        failing_since = CASE WHEN $6 THEN NULL ELSE failing_since END, updated_at = now()
                    WHERE organization_id = $1 AND id = $2 RETURNING \(columns)
                    """, [caller.organizationID, id, url, body.stringList("events").map(PostgresArray.init),
                          body.string("description"), enabled, body.string("delivery_mode")])
                // The claim walks no message of a disabled endpoint (Schema/043).
                if let enabled {
                    try syncQueue(tx, try tx.query("""
                        UPDATE ledger.outbox SET held = $3 WHERE organization_id = $1 AND endpoint_id = $2 AND status = 'pending' AND held = $4
                        RETURNING id
                        """, [caller.organizationID, id, !enabled, enabled]))
                }
                return .json(200, try endpoint(rows))
            }
        }),

        .api("DELETE", "/v1/webhook_endpoints/{id}", id: "deleteWebhookEndpoint", summary: "Delete a webhook endpoint", scope: .admin,
             parameters: [endpointID], responses: [APIResponses.ok("Deleted", APISchemas.deletedWebhookEndpoint)],
             .command { context, tx in
            let caller = try context.authenticated
            let id = context.request.parameter("id")
            _ = try find(tx, caller, id, lock: true)
            try tx.query("UPDATE ledger.webhook_endpoints SET deleted_at = now(), enabled = false WHERE organization_id = $1 AND id = $2",
                         [caller.organizationID, id])
            // Nothing will send what was still queued for it: dead-lettered, with the reason, rather than pending forever.
            try syncQueue(tx, try tx.query("""
                UPDATE ledger.outbox SET status = 'dead', dead_reason = 'the endpoint was deleted', leased_until = NULL, lease_token = NULL
                WHERE organization_id = $1 AND endpoint_id = $2 AND status = 'pending'
                RETURNING id
                """, [caller.organizationID, id]))
            return .json(200, ["id": .string(id), "object": "webhook_endpoint", "deleted": true])
        }),

        // Like Svix's recovery: every message to the endpoint since `since` that was not delivered (dead, or
        // pending) is queued again now; a message being sent at this moment is left to its dispatcher.
        .api("POST", "/v1/webhook_endpoints/{id}/recover", id: "recoverWebhookEndpoint",
             summary: "Queue again every message to the endpoint since a time that was not delivered",
             description: "since must not be in the future (else 400).", scope: .admin, parameters: [endpointID],
             body: .object([.init("since", .dateTime, required: true, description: "RFC 3339, like 2026-01-31T12:00:00Z")]),
             responses: [APIResponses.ok("How many messages were queued again", APISchemas.webhookRecovery)],
             .command { context, tx in
            let caller = try context.authenticated
            let id = context.request.parameter("id")
            guard let since = context.body.string("since").flatMap(Timestamp.parse) else { throw APIFailure.missing("since") }
            guard since <= clock() else { throw APIFailure.invalid("since", "since must not be in the future") }
            _ = try find(tx, caller, id, lock: true)
            let rows = try tx.query("""
                WITH requeued AS (
                    UPDATE ledger.outbox SET status = 'pending', attempts = 0, next_attempt_at = now(), dead_reason = NULL,
                        held = NOT (SELECT e.enabled FROM ledger.webhook_endpoints e WHERE e.id = $3)
                    WHERE organization_id = $1 AND livemode = $2 AND endpoint_id = $3 AND created_at >= $4
                      AND status IN ('pending', 'dead') AND (leased_until IS NULL OR leased_until <= now())
                    RETURNING id)
                SELECT id FROM requeued
                """, [caller.organizationID, caller.livemode, id, since])
            try syncQueue(tx, rows)
            try tx.query("SELECT pg_notify($1, $2)", [Outbox.channel, id])
            return .json(200, ["object": "webhook_recovery", "endpoint_id": .string(id), "since": .string(Timestamp.rfc3339(since)),
                               "requeued": .int(Int64(rows.count))])
        }),

        .api("POST", "/v1/webhook_endpoints/{id}/rotate_secret", id: "rotateWebhookEndpointSecret",
             summary: "A new secret for an endpoint; the old one signs too for 24 hours", scope: .admin,
             parameters: [endpointID], body: .object([]),
             responses: [APIResponses.ok("The endpoint with its new secret (shown only here)", APISchemas.webhookEndpointWithSecret)],
             .command { context, tx in
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
        }),

        .api("GET", "/v1/webhook_secret", id: "getWebhookSecret", summary: "The secret that signs postbacks (made on first use)",
             scope: .admin, responses: [APIResponses.ok("The secret", APISchemas.webhookSecret)],
             .command { context, tx in
            let caller = try context.authenticated
            let current = try PostbackSecrets.current(tx, organizationID: caller.organizationID, livemode: caller.livemode)
            return .json(200, postbackSecret(secret: current.secret.text, previousExpiresAt: current.previousExpiresAt))
        }),

        .api("POST", "/v1/webhook_secret/rotate", id: "rotateWebhookSecret",
             summary: "A new postback secret; the old one signs too for 24 hours", scope: .admin, body: .object([]),
             responses: [APIResponses.ok("The new secret", APISchemas.webhookSecret)],
             .command { context, tx in
            let caller = try context.authenticated
            guard let fresh = WebhookSecret.generate() else { throw APIFailure.internalError }
            let rows = try tx.query("""
                INSERT INTO ledger.postback_secrets AS p (organization_id, livemode, secret) VALUES ($1, $2, $3)
                ON CONFLICT (organization_id, livemode) DO UPDATE
                SET previous_secret = p.secret, previous_secret_expires_at = $4, secret = excluded.secret
                RETURNING secret, previous_secret_expires_at
                """, [caller.organizationID, caller.livemode, fresh.text, clock().addingTimeInterval(rotationOverlap)])
            return .json(200, postbackSecret(secret: rows.string(0, 0), previousExpiresAt: rows.date(0, 1)))
        }),
        ]
    }

    /// Makes the claim's queue (`Schema/066`) follow the messages whose status or held flag a statement just
    /// changed: their outbox ids are `rows`' column `idColumn`.
    static func syncQueue(_ connection: PostgresConnection, _ rows: PostgresRows, idColumn: Int = 0) throws {
        let ids = (0..<rows.count).compactMap { rows.int64($0, idColumn) }
        guard !ids.isEmpty else { return }
        try connection.query("SELECT ledger.sync_outbox_queue($1::bigint[])", [PostgresArray(ids.map(String.init))])
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
