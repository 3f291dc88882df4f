import Foundation
import LedgerDomain
import LedgerStorage

/// Webhook messages, written to `ledger.outbox` in the transaction of the command that caused them.
public enum Outbox {
    /// Wakes dispatchers listening on this channel once the transaction commits.
    public static let channel = "ledger_outbox"

    /// The statement that queues one message per change and destination: every enabled endpoint of the
    /// organization and mode whose event list names the type (or `*`), and the invite's postback URL.
    /// Payloads are built by PostgreSQL only for the rows it inserts, so a command nobody subscribes to pays
    /// for little more than the statement.
    ///
    /// Message ids are derived from the causing event, the destination and the change, so a transaction sent
    /// again after its COMMIT's outcome was lost inserts nothing twice (`ON CONFLICT DO NOTHING`) and receivers
    /// can de-duplicate by `webhook-id`. Each message is numbered per verification and destination and names
    /// the message before it; only the rows actually inserted move that sequence on. Commands on one
    /// verification hold its stream row's lock here, so two never number at once.
    static func statements(organizationID: UUID, before: VerificationState, after: LoadedVerification,
                           documents: RenderedViews, causedBy eventID: UUID?, now: Date) -> [PostgresStatement] {
        let changes = WebhookChanges.between(before, after.state)
        guard let invitation = after.state.invitation, !changes.isEmpty else { return [] }
        // One statement: every CTE runs whatever the final SELECT reads, and NOTIFY (which takes a lock that
        // orders commits) is sent only when a message was queued. The changes come from generate_subscripts,
        // whose row estimate does not depend on the arrays, so the prepared statement keeps one generic plan
        // rather than being planned again for every command.
        return [(queueing, [organizationID, invitation.livemode, after.id, PostgresArray(changes.map(\.type.rawValue)),
                  PostgresArray(changes.map(\.previous.jsonString)), invitation.postbackURL, PostgresArray(invitation.postbackEvents),
                  Timestamp.rfc3339(now), documents.order ?? "null", documents.verification,
                  ViewJSON.metadata(after.state.metadata).jsonString, after.version,
                  eventID.map { $0.uuidString.lowercased() }, documents.validation])]
    }

    /// The statement `statements` sends, its text made once (it depends on no argument).
    private static let queueing = """
        WITH changes AS (
            SELECT ($4::text[])[c.n] AS type, c.n, ($5::text[])[c.n] AS previous
            FROM generate_subscripts($4::text[], 1) AS c(n)),
        targets AS (
            SELECT c.type, c.n, c.previous, e.id AS endpoint_id, e.url, e.id AS destination
            FROM changes c
            JOIN ledger.webhook_endpoints e
              ON e.organization_id = $1 AND e.livemode = $2 AND e.deleted_at IS NULL AND e.enabled
             AND ('*' = ANY (e.events) OR c.type = ANY (e.events))
            UNION ALL
            SELECT c.type, c.n, c.previous, NULL, $6, 'postback'
            FROM changes c
            WHERE $6::text IS NOT NULL AND (cardinality($7::text[]) = 0 OR c.type = ANY ($7::text[]))),
        numbered AS (
            SELECT t.*, coalesce(s.last_sequence, 0) + row_number() OVER w AS sequence,
                coalesce(lag(\(hashedID("msg_", row: "t", destination: "t.destination"))) OVER w, s.last_message_id) AS previous_message_id,
                \(hashedID("msg_", row: "t", destination: "t.destination")) AS message_id
            FROM targets t
            LEFT JOIN ledger.outbox_sequences s
              ON s.organization_id = $1 AND s.verification_id = $3 AND s.destination = t.destination
            WINDOW w AS (PARTITION BY t.destination ORDER BY t.n)),
        inserted AS (
            INSERT INTO ledger.outbox (message_id, organization_id, livemode, verification_id, endpoint_id, destination, url,
                                       event_type, sequence, previous_message_id, payload)
            SELECT m.message_id, $1, $2, $3, m.endpoint_id, m.destination, m.url, m.type, m.sequence, m.previous_message_id,
                jsonb_build_object(
                    'id', \(hashedID("evt_", row: "m", destination: "NULL")),
                    'type', m.type,
                    'created_at', $8::text,
                    'data', jsonb_build_object(
                        'object', CASE WHEN m.type LIKE 'ORDER\\_%' THEN $9::text::jsonb
                                       WHEN m.type = '\(WebhookEventType.validationStatusChange.rawValue)' THEN $14::text::jsonb
                                       ELSE $10::text::jsonb END,
                        'previous', m.previous::jsonb),
                    'metadata', $11::text::jsonb,
                    'stream_version', $12::bigint,
                    'event_id', $13::text,
                    'sequence', m.sequence,
                    'previous_message_id', m.previous_message_id)
            FROM numbered m
            ORDER BY m.n, m.destination
            ON CONFLICT (message_id) DO NOTHING
            RETURNING id, destination, sequence, message_id),
        queued AS (
            INSERT INTO ledger.outbox_queue (id, organization_id, livemode) SELECT i.id, $1, $2 FROM inserted i),
        heads AS (
            INSERT INTO ledger.outbox_sequences AS s (organization_id, verification_id, destination, last_sequence, last_message_id)
            SELECT DISTINCT ON (i.destination) $1, $3, i.destination, i.sequence, i.message_id
            FROM inserted i ORDER BY i.destination, i.sequence DESC
            ON CONFLICT (organization_id, verification_id, destination)
            DO UPDATE SET last_sequence = excluded.last_sequence, last_message_id = excluded.last_message_id
            RETURNING 1)
        SELECT pg_notify('\(channel)', $3) WHERE EXISTS (SELECT FROM heads)
        """

    /// An id made of `prefix` and the first 128 bits of a SHA-256 over the causing event, the stream version,
    /// the verification, the destination (NULL: none, for the payload's event id, shared by every destination)
    /// and the position and type of the change in `row`.
    private static func hashedID(_ prefix: String, row: String, destination: String) -> String {
        "'\(prefix)' || left(encode(sha256(convert_to(concat_ws('/', $13::text, $12::bigint::text, $3::text, \(destination), \(row).n::text, \(row).type), 'UTF8')), 'hex'), 32)"
    }
}
