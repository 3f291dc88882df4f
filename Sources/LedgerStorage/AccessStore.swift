import Foundation
import LedgerCrypto
import LedgerDomain

public struct Organization: Sendable, Equatable {
    public var id: UUID
    public var name: String
    public var createdAt: Date
}

public struct APIKeyRecord: Sendable, Equatable {
    public var id: String
    public var organizationID: UUID
    public var hint: String
    public var livemode: Bool
    public var scopes: Set<Scope>
    public var description: String?
    public var createdAt: Date
    public var revokedAt: Date?
    public var revocationReason: String?
}

public enum AccessError: Error, Equatable, CustomStringConvertible {
    case noRandomness
    case unknownOrganization(UUID)

    public var description: String {
        switch self {
        case .noRandomness: return "the system's random generator is not available"
        case let .unknownOrganization(id): return "no organization \(id.postgresText)"
        }
    }
}

/// Organizations and API keys. Secrets are hashed with SHA-256 before they reach the database.
public enum AccessStore {
    public static func createOrganization(_ connection: PostgresConnection, name: String) throws -> Organization {
        let id = UUID()
        let rows = try connection.query(
            "INSERT INTO ledger.organizations (id, name) VALUES ($1, $2) RETURNING created_at", [id, name])
        return Organization(id: id, name: name, createdAt: rows.date(0, 0) ?? Date())
    }

    public static func organization(_ connection: PostgresConnection, id: UUID) throws -> Organization? {
        let rows = try connection.query("SELECT name, created_at FROM ledger.organizations WHERE id = $1", [id])
        guard let name = rows.string(0, 0), let created = rows.date(0, 1) else { return nil }
        return Organization(id: id, name: name, createdAt: created)
    }

    public static func organizationCount(_ connection: PostgresConnection) throws -> Int {
        try connection.query("SELECT count(*) FROM ledger.organizations").int(0, 0) ?? 0
    }

    /// Creates a key; the secret is returned here and never again.
    public static func createKey(_ connection: PostgresConnection, organizationID: UUID, livemode: Bool,
                                 scopes: Set<Scope>, description: String? = nil) throws -> (record: APIKeyRecord, secret: String) {
        guard let secretBytes = Digest.randomBytes(32), let idBytes = Digest.randomBytes(12) else { throw AccessError.noRandomness }
        let secret = (livemode ? APIKeySecret.livePrefix : APIKeySecret.testPrefix) + secretBytes.hexString
        let id = "key_" + idBytes.hexString
        let scopeNames = scopes.sorted().map(\.rawValue)
        do {
            let rows = try connection.query("""
                INSERT INTO ledger.api_keys (id, organization_id, secret_hash, secret_hint, livemode, scopes, description)
                VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING \(keyColumns)
                """, [id, organizationID, ByteA(Digest.sha256(secret)), APIKeySecret.hint(of: secret), livemode,
                      PostgresArray(scopeNames), description])
            guard let record = try decodeKeys(rows).first else { throw StorageError.unreadableRow(table: "api_keys", key: id) }
            return (record, secret)
        } catch let PostgresError.server(state, _, _, _) where state == "23503" {
            throw AccessError.unknownOrganization(organizationID)
        }
    }

    /// The live (not revoked) key with this secret.
    public static func authenticate(_ connection: PostgresConnection, secret: String) throws -> APIKeyRecord? {
        let rows = try connection.query(
            "SELECT \(keyColumns) FROM ledger.api_keys WHERE secret_hash = $1 AND revoked_at IS NULL",
            [ByteA(Digest.sha256(secret))])
        return try decodeKeys(rows).first
    }

    public static func keys(_ connection: PostgresConnection, organizationID: UUID, livemode: Bool? = nil) throws -> [APIKeyRecord] {
        let rows = try connection.query("""
            SELECT \(keyColumns) FROM ledger.api_keys
            WHERE organization_id = $1 AND ($2::boolean IS NULL OR livemode = $2)
            ORDER BY created_at DESC, id
            """, [organizationID, livemode])
        return try decodeKeys(rows)
    }

    public static func key(_ connection: PostgresConnection, organizationID: UUID?, id: String) throws -> APIKeyRecord? {
        let rows = try connection.query(
            "SELECT \(keyColumns) FROM ledger.api_keys WHERE id = $1 AND ($2::uuid IS NULL OR organization_id = $2)",
            [id, organizationID])
        return try decodeKeys(rows).first
    }

    /// Revokes a key of the organization (any organization when nil); a key already revoked stays as it was.
    public static func revokeKey(_ connection: PostgresConnection, organizationID: UUID?, id: String,
                                 reason: String) throws -> APIKeyRecord? {
        let rows = try connection.query("""
            UPDATE ledger.api_keys SET revoked_at = coalesce(revoked_at, now()),
                                       revocation_reason = coalesce(revocation_reason, $3)
            WHERE id = $1 AND ($2::uuid IS NULL OR organization_id = $2)
            RETURNING \(keyColumns)
            """, [id, organizationID, reason])
        return try decodeKeys(rows).first
    }

    static let keyColumns = "id, organization_id, secret_hint, livemode, scopes, description, created_at, revoked_at, revocation_reason"

    static func decodeKeys(_ rows: PostgresRows) throws -> [APIKeyRecord] {
        try (0..<rows.count).map { row in
            guard let id = rows.string(row, 0), let organization = rows.uuid(row, 1), let hint = rows.string(row, 2),
                  let livemode = rows.bool(row, 3), let scopeText = rows.string(row, 4), let created = rows.date(row, 6) else {
                throw StorageError.unreadableRow(table: "api_keys", key: rows.string(row, 0) ?? "?")
            }
            let scopes = Set(scopeText.trimmingCharacters(in: CharacterSet(charactersIn: "{}")).split(separator: ",")
                .compactMap { Scope(rawValue: String($0)) })
            return APIKeyRecord(id: id, organizationID: organization, hint: hint, livemode: livemode, scopes: scopes,
                                description: rows.string(row, 5), createdAt: created, revokedAt: rows.date(row, 7),
                                revocationReason: rows.string(row, 8))
        }
    }
}
