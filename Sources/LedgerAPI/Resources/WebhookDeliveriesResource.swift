import Foundation
import LedgerDomain
import LedgerHTTP
import LedgerStorage

/// `/v1/webhook_deliveries`: every message, its destination, status and attempts; and a manual retry.
enum WebhookDeliveriesResource {
    static func register(on router: inout Router<Endpoint>) {
        router.add("GET", "/v1/webhook_deliveries", .read(.scope(.read)) { context in
            let caller = try context.authenticated
            let request = context.request
            let query = try ListQuery(request)
            if let status = request.queryValue("status"), !["pending", "delivered", "dead"].contains(status) {
                throw APIFailure.invalid("status", "status must be pending, delivered or dead")
            }
            let rows = try context.pool.withConnection { connection in
                try connection.query("""
                    SELECT jsonb_build_object(
                        'id', o.message_id, 'object', 'webhook_delivery', 'endpoint_id', o.endpoint_id, 'url', o.url,
                        'event_type', o.event_type, 'verification_id', o.verification_id, 'status', o.status,
                        'attempt_count', o.attempts,
                        'next_attempt_at', CASE WHEN o.status = 'pending' THEN to_char(o.next_attempt_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') END,
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
                    WHERE o.organization_id = $1 AND o.livemode = $2
                      AND ($3::text IS NULL OR o.endpoint_id = $3)
                      AND ($4::text IS NULL OR o.event_type = $4)
                      AND ($5::text IS NULL OR o.status = $5)
                      AND ($6::text IS NULL OR o.verification_id = $6)
                      AND ($7::text IS NULL OR o.id < (SELECT c.id FROM ledger.outbox c WHERE c.organization_id = $1 AND c.message_id = $7))
                    ORDER BY o.id DESC
                    LIMIT $8
                    """, [caller.organizationID, caller.livemode, request.queryValue("endpoint_id"), request.queryValue("event_type"),
                          request.queryValue("status"), request.queryValue("verification_id"), query.startingAfter, query.limit + 1])
            }
            return query.page(VerificationsResource.documents(rows), url: "/v1/webhook_deliveries")
        })

        router.add("POST", "/v1/webhook_deliveries/{id}/retry", .command(.scope(.write)) { context, tx in
            let caller = try context.authenticated
            let id = context.request.parameter("id")
            _ = try context.body(allowed: [])
            let rows = try tx.query("""
                UPDATE ledger.outbox SET status = 'pending', attempts = 0, next_attempt_at = now(), leased_until = NULL
                WHERE organization_id = $1 AND livemode = $2 AND message_id = $3 AND status <> 'delivered'
                RETURNING message_id
                """, [caller.organizationID, caller.livemode, id])
            guard rows.count == 1 else {
                let exists = try tx.query("SELECT status FROM ledger.outbox WHERE organization_id = $1 AND livemode = $2 AND message_id = $3",
                                          [caller.organizationID, caller.livemode, id])
                if exists.count == 1 {
                    throw APIFailure(status: 409, type: "invalid_request_error", code: "already_delivered",
                                     message: "delivery \(id) was already delivered", param: nil)
                }
                throw APIFailure.notFound("webhook delivery", id)
            }
            try tx.query("SELECT pg_notify('\(Outbox.channel)', $1)", [id])
            return .json(200, ["id": .string(id), "object": "webhook_delivery", "status": "pending"])
        })
    }
}
