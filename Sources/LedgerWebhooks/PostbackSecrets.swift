import Foundation
import LedgerCrypto
import LedgerStorage

/// The secret that signs an organization's invite postbacks in one mode, made on first use.
public enum PostbackSecrets {
    public struct Current: Sendable {
        public var secret: WebhookSecret
        /// The secret before the last rotation, while it still signs too.
        public var previous: WebhookSecret?
        public var previousExpiresAt: Date?

        public var signing: [WebhookSecret] { [secret] + (previous.map { [$0] } ?? []) }
    }

    public static func current(_ connection: PostgresConnection, organizationID: UUID, livemode: Bool) throws -> Current {
        guard let fresh = WebhookSecret.generate() else { throw AccessError.noRandomness }
        let rows = try connection.pipeline([
            ("INSERT INTO ledger.postback_secrets (organization_id, livemode, secret) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
             [organizationID, livemode, fresh.text]),
            ("""
            SELECT secret, CASE WHEN previous_secret_expires_at > now() THEN previous_secret END, previous_secret_expires_at
            FROM ledger.postback_secrets WHERE organization_id = $1 AND livemode = $2
            """, [organizationID, livemode]),
        ])[1]
        guard let secret = rows.string(0, 0).flatMap(WebhookSecret.init) else {
            throw StorageError.unreadableRow(table: "postback_secrets", key: organizationID.uuidString)
        }
        return Current(secret: secret, previous: rows.string(0, 1).flatMap(WebhookSecret.init), previousExpiresAt: rows.date(0, 2))
    }
}
