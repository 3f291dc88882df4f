import Foundation
import LedgerDomain
import LedgerStorage

/// Webhook messages, written to `ledger.outbox` in the transaction of the command that caused them.
enum Outbox {
    /// Wakes dispatchers listening on this channel once the transaction commits.
    static let channel = "ledger_outbox"

    /// The statement that queues one message per change and subscriber: every enabled endpoint of the
    /// organization and mode whose event list names the type (or `*`), and the invite's postback URL.
    /// Payloads are built by PostgreSQL only for the rows it inserts, so a command nobody subscribes to pays
    /// for little more than the statement.
    static func statements(organizationID: UUID, before: VerificationState, after: LoadedVerification,
                           documents: VerificationStore.Documents, causedBy eventID: UUID?, now: Date) -> [PostgresStatement] {
        let changes = WebhookChanges.between(before, after.state)
        guard let invitation = after.state.invitation, !changes.isEmpty else { return [] }
        // One statement: both inserts run whatever the final SELECT reads, and NOTIFY (which takes a lock that
        // orders commits) is sent only when a message was queued. The changes come from generate_subscripts,
        // whose row estimate does not depend on the arrays, so the prepared statement keeps one generic plan
        // rather than being planned again for every command.
        return [("""
            WITH changes AS (
                SELECT ($4::text[])[c.n] AS type, c.n, jsonb_build_object(
                    'id', 'evt_' || replace(gen_random_uuid()::text, '-', ''),
                    'type', ($4::text[])[c.n],
                    'created_at', $8::text,
                    'data', jsonb_build_object(
                        'object', CASE WHEN ($4::text[])[c.n] LIKE 'ORDER\\_%' THEN $9::text::jsonb ELSE $10::text::jsonb END,
                        'previous', (($5::text[])[c.n])::jsonb),
                    'metadata', $11::text::jsonb,
                    'stream_version', $12::bigint,
                    'event_id', $13::text) AS payload
                FROM generate_subscripts($4::text[], 1) AS c(n)),
            to_endpoints AS (
                INSERT INTO ledger.outbox (message_id, organization_id, livemode, verification_id, endpoint_id, url, event_type, payload)
                SELECT 'msg_' || replace(gen_random_uuid()::text, '-', ''), $1, $2, $3, e.id, e.url, c.type, c.payload
                FROM changes c
                JOIN ledger.webhook_endpoints e
                  ON e.organization_id = $1 AND e.livemode = $2 AND e.deleted_at IS NULL AND e.enabled
                 AND ('*' = ANY (e.events) OR c.type = ANY (e.events))
                ORDER BY c.n, e.id
                RETURNING 1),
            to_postback AS (
                INSERT INTO ledger.outbox (message_id, organization_id, livemode, verification_id, endpoint_id, url, event_type, payload)
                SELECT 'msg_' || replace(gen_random_uuid()::text, '-', ''), $1, $2, $3, NULL, $6, c.type, c.payload
                FROM changes c
                WHERE $6::text IS NOT NULL AND (cardinality($7::text[]) = 0 OR c.type = ANY ($7::text[]))
                ORDER BY c.n
                RETURNING 1)
            SELECT pg_notify('\(channel)', $3) WHERE EXISTS (SELECT FROM to_endpoints) OR EXISTS (SELECT FROM to_postback)
            """, [organizationID, invitation.livemode, after.id, PostgresArray(changes.map(\.type.rawValue)),
                  PostgresArray(changes.map(\.previous.jsonString)), invitation.postbackURL, PostgresArray(invitation.postbackEvents),
                  Timestamp.rfc3339(now), documents.order ?? "null", documents.verification,
                  Representations.metadata(after.state.metadata).jsonString, after.version,
                  eventID.map { $0.uuidString.lowercased() }])]
    }
}
