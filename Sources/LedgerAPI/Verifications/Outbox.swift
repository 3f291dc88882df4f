import Foundation
import LedgerDomain
import LedgerStorage

/// Webhook messages, written to `ledger.outbox` in the transaction of the command that caused them.
enum Outbox {
    /// Wakes dispatchers listening on this channel once the transaction commits.
    static let channel = "ledger_outbox"

    /// The statements that queue one message per change and subscriber: every enabled endpoint of the
    /// organization and mode whose event list names the type (or `*`), and the invite's postback URL.
    static func statements(organizationID: UUID, before: VerificationState, after: LoadedVerification, causedBy eventID: UUID?,
                           now: Date) -> [(String, [(any PostgresEncodable)?])] {
        let changes = WebhookChanges.between(before, after.state)
        guard let invitation = after.state.invitation, !changes.isEmpty else { return [] }
        let verification = Representations.verification(id: after.id, state: after.state, version: after.version)
        let order = Representations.order(id: after.id, state: after.state) ?? .null
        let payloads = changes.map { change -> JSONValue in
            .object([
                ("id", .string(APIConfiguration.randomID("evt"))),
                ("type", .string(change.type.rawValue)),
                ("created_at", .string(Timestamp.rfc3339(now))),
                ("data", .object([("object", change.type.isOrderEvent ? order : verification), ("previous", change.previous)])),
                ("metadata", Representations.metadata(after.state.metadata)),
                ("stream_version", .int(after.version)),
                ("event_id", eventID.map { .string($0.uuidString.lowercased()) } ?? .null),
            ])
        }
        var statements: [(String, [(any PostgresEncodable)?])] = [("""
            INSERT INTO ledger.outbox (message_id, organization_id, livemode, verification_id, endpoint_id, url, event_type, payload)
            SELECT 'msg_' || replace(gen_random_uuid()::text, '-', ''), $1, $2, $3, e.id, e.url, c.type, c.payload
            FROM unnest($4::text[], $5::jsonb[]) WITH ORDINALITY AS c(type, payload, n)
            JOIN ledger.webhook_endpoints e
              ON e.organization_id = $1 AND e.livemode = $2 AND e.deleted_at IS NULL AND e.enabled
             AND ('*' = ANY (e.events) OR c.type = ANY (e.events))
            ORDER BY c.n, e.id
            """, [organizationID, invitation.livemode, after.id, PostgresArray(changes.map(\.type.rawValue)),
                  PostgresArray(payloads.map(\.jsonString))])]
        if let postbackURL = invitation.postbackURL {
            let wanted = changes.indices.filter { invitation.postbackEvents.isEmpty || invitation.postbackEvents.contains(changes[$0].type.rawValue) }
            if !wanted.isEmpty {
                statements.append(("""
                    INSERT INTO ledger.outbox (message_id, organization_id, livemode, verification_id, endpoint_id, url, event_type, payload)
                    SELECT 'msg_' || replace(gen_random_uuid()::text, '-', ''), $1, $2, $3, NULL, $4, c.type, c.payload
                    FROM unnest($5::text[], $6::jsonb[]) WITH ORDINALITY AS c(type, payload, n)
                    ORDER BY c.n
                    """, [organizationID, invitation.livemode, after.id, postbackURL,
                          PostgresArray(wanted.map { changes[$0].type.rawValue }), PostgresArray(wanted.map { payloads[$0].jsonString })]))
            }
        }
        statements.append(("SELECT pg_notify('\(channel)', $1)", [after.id]))
        return statements
    }
}
