import Foundation
import LedgerDomain
import LedgerEngine
import LedgerHTTP
import LedgerStorage

/// `/v1/webhook_deliveries`: every message, its destination, status, attempts and what a pending one waits for;
/// and a manual retry.
enum WebhookDeliveriesResource {
    static let time = "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'"

    /// What pending message `o` (joined to its endpoint `e`, if any) waits for, as a reason and its details,
    /// or NULL for a delivered or dead one. The reasons are a fixed set, so they can label metrics.
    static let waitingFor = """
        CASE WHEN o.status <> 'pending' THEN NULL
             WHEN o.leased_until > now()
             THEN jsonb_build_object('reason', 'in_flight', 'leased_until', to_char(o.leased_until AT TIME ZONE 'UTC', \(time)))
             WHEN o.endpoint_id IS NOT NULL AND (e.id IS NULL OR NOT e.enabled OR e.deleted_at IS NOT NULL)
             THEN jsonb_build_object('reason', 'endpoint_disabled')
             WHEN coalesce(e.delivery_mode, 'ordered') = 'ordered' AND blocker.message_id IS NOT NULL
             THEN jsonb_build_object('reason', 'earlier_message_pending', 'message_id', blocker.message_id)
             WHEN o.next_attempt_at > now()
             THEN jsonb_build_object('reason', 'retry_scheduled', 'next_attempt_at', to_char(o.next_attempt_at AT TIME ZONE 'UTC', \(time)))
             ELSE jsonb_build_object('reason', 'due') END
        """

    /// The joins `waitingFor` reads: the endpoint, and the earliest message still pending before `o` for the
    /// same verification and destination.
    static let waitingJoins = """
        LEFT JOIN ledger.webhook_endpoints e ON e.id = o.endpoint_id
        LEFT JOIN LATERAL (
            SELECT p.message_id FROM ledger.outbox p
            WHERE o.status = 'pending' AND p.organization_id = o.organization_id AND p.verification_id = o.verification_id
              AND p.destination = o.destination AND p.id < o.id AND p.status NOT IN ('delivered', 'dead')
            ORDER BY p.id LIMIT 1) blocker ON true
        """

    static let operations: [APIOperation] = [
        .api("GET", "/v1/webhook_deliveries", id: "listWebhookDeliveries", summary: "Webhook messages and their attempts, newest first",
             scope: .read,
             parameters: [
                 APIParameters.filter("endpoint_id", "Only to this endpoint"),
                 APIParameters.filter("event_type", .choice(WebhookEventType.self), "Only of this type"),
                 APIParameters.filter("status", APISchemas.webhookDeliveryStatus, "Only in this status"),
                 APIParameters.filter("verification_id", "Only about this verification"),
                 APIParameters.limit, APIParameters.startingAfter,
             ],
             responses: [APIResponses.ok("A page of deliveries", APISchemas.list("WebhookDeliveryList", of: APISchemas.webhookDelivery),
                                         links: [APIResponses.get("retryWebhookDelivery", id: "/data/0/id")])],
             .read { context in
            let caller = try context.authenticated
            let request = context.request
            let query = ListQuery(request)
            let rows = try context.pool.withConnection { connection in
                try connection.query("""
                    SELECT jsonb_build_object(
                        'id', o.message_id, 'object', 'webhook_delivery', 'endpoint_id', o.endpoint_id, 'url', o.url,
                        'event_type', o.event_type, 'verification_id', o.verification_id, 'status', o.status,
                        'attempt_count', o.attempts, 'sequence', o.sequence, 'previous_message_id', o.previous_message_id,
                        'dead_reason', o.dead_reason, 'waiting_for', \(waitingFor),
                        'next_attempt_at', CASE WHEN o.status = 'pending' THEN to_char(o.next_attempt_at AT TIME ZONE 'UTC', \(time)) END,
                        'created_at', to_char(o.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                        'delivered_at', to_char(o.delivered_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                        'attempts', coalesce((
                            SELECT jsonb_agg(jsonb_build_object(
                                'attempted_at', to_char(a.attempted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                                'response_status', a.response_status, 'latency_ms', round(a.latency_ms::numeric, 3),
                                'response_excerpt', a.response_excerpt, 'error', a.error) ORDER BY a.id)
                            FROM ledger.webhook_delivery_attempts a WHERE a.outbox_id = o.id), '[]'::jsonb)
                    )::text
                    FROM ledger.outbox o
                    \(waitingJoins)
                    WHERE o.organization_id = $1 AND o.livemode = $2
                      AND ($3::text IS NULL OR o.endpoint_id = $3)
                      AND ($4::text IS NULL OR o.event_type = $4)
                      AND ($5::text IS NULL OR o.status = $5)
                      AND ($6::text IS NULL OR o.verification_id = $6)
                      AND ($7::text IS NULL OR o.id < (SELECT c.id FROM ledger.outbox c WHERE c.organization_id = $1 AND c.message_id = $7))
                    ORDER BY o.id DESC
                    LIMIT $8
                    """, [caller.organizationID, caller.livemode, ListQuery.filter(request, "endpoint_id"), request.queryValue("event_type"),
                          request.queryValue("status"), ListQuery.filter(request, "verification_id"), query.startingAfter, query.limit + 1])
            }
            return query.page(ListQuery.documents(rows), url: "/v1/webhook_deliveries")
        }),

        .api("POST", "/v1/webhook_deliveries/{id}/retry", id: "retryWebhookDelivery", summary: "Send a pending or dead message again now",
             description: "409 already_delivered for a delivered one, delivery_in_flight while a dispatcher is sending it.", scope: .write,
             parameters: [APIParameters.id("id", "A delivery's id")], body: .object([]),
             responses: [APIResponses.ok("The message, pending again", APISchemas.retriedWebhookDelivery)],
             .command { context, tx in
            let caller = try context.authenticated
            let id = context.request.parameter("id")
            // A message a dispatcher is sending (its lease runs) is left alone: resetting it would let a second
            // dispatcher send it at the same time, and the first one's outcome would no longer count.
            let rows = try tx.query("""
                UPDATE ledger.outbox SET status = 'pending', attempts = 0, next_attempt_at = now(), leased_until = NULL,
                    lease_token = NULL, dead_reason = NULL,
                    held = coalesce((SELECT NOT (e.enabled AND e.deleted_at IS NULL) FROM ledger.webhook_endpoints e WHERE e.id = outbox.endpoint_id), false)
                WHERE organization_id = $1 AND livemode = $2 AND message_id = $3 AND status <> 'delivered'
                  AND (leased_until IS NULL OR leased_until <= now())
                RETURNING message_id, id
                """, [caller.organizationID, caller.livemode, id])
            try WebhookEndpointsResource.syncQueue(tx, rows, idColumn: 1)
            guard rows.count == 1 else {
                let exists = try tx.query("""
                    SELECT status, leased_until > now() FROM ledger.outbox WHERE organization_id = $1 AND livemode = $2 AND message_id = $3
                    """, [caller.organizationID, caller.livemode, id])
                if exists.string(0, 0) == "delivered" {
                    throw APIFailure(status: 409, type: "invalid_request_error", code: "already_delivered",
                                     message: "delivery \(id) was already delivered", param: nil)
                }
                if exists.bool(0, 1) == true {
                    throw APIFailure(status: 409, type: "invalid_request_error", code: "delivery_in_flight",
                                     message: "delivery \(id) is being sent right now; retry once its attempt is recorded", param: nil)
                }
                throw APIFailure.notFound("webhook delivery", id)
            }
            try tx.query("SELECT pg_notify('\(Outbox.channel)', $1)", [id])
            return .json(200, ["id": .string(id), "object": "webhook_delivery", "status": "pending"])
        }),
    ]
}
