import Foundation
import LedgerCrypto
import LedgerDomain
import LedgerStorage

/// A stored ruleset version, as `ledger.ruleset_versions` keeps it.
public struct StoredRuleset: Sendable {
    public let ruleset: Ruleset
    public let version: Int
    public let createdAt: Date

    public var reference: RulesetReference { RulesetReference(name: ruleset.name, version: version, hash: ruleset.hash) }

    public var json: JSONValue {
        .object([("object", "ruleset"), ("name", .string(ruleset.name)), ("version", .int(Int64(version))),
                 ("description", ViewJSON.text(ruleset.description)), ("rules", ruleset.rulesJSON), ("hash", .string(ruleset.hash)),
                 ("evaluator_version", .string(Ruleset.evaluatorVersion)), ("created_at", ViewJSON.time(createdAt))])
    }
}

/// Ruleset versions of one organization and mode: created, never changed.
public enum RulesetStore {
    /// Rules nest to JsonLogic's depth limit inside the stored object.
    static let storedDepth = JsonLogicLimits.standard.maxDepth + 2

    public static func make(name: String, description: String?, rules: JSONValue) throws(Ruleset.Problem) -> Ruleset {
        try Ruleset(name: name, description: description, rules: rules, sha256: { Digest.sha256($0) })
    }

    /// Stores `ruleset` as the next version of its name, unless the latest version has the same content (the same
    /// hash): then that version is the answer and nothing is written. Creations of one name queue on a lock.
    public static func create(_ tx: PostgresConnection, organizationID: UUID, livemode: Bool, _ ruleset: Ruleset, actor: String,
                              now: Date) throws -> (stored: StoredRuleset, created: Bool) {
        _ = try tx.query("SELECT pg_advisory_xact_lock(hashtextextended('ruleset:' || $1::uuid::text || ':' || $2::boolean::text || ':' || $3, 0))",
                         [organizationID, livemode, ruleset.name])
        if let latest = try load(tx, organizationID: organizationID, livemode: livemode, name: ruleset.name, version: nil),
           latest.ruleset.hash == ruleset.hash {
            return (latest, false)
        }
        let rows = try tx.query("""
            INSERT INTO ledger.ruleset_versions (organization_id, livemode, name, version, description, rules, hash, created_by, created_at)
            SELECT $1, $2, $3, coalesce(max(version), 0) + 1, $4, $5, $6, $7, $8
            FROM ledger.ruleset_versions WHERE organization_id = $1 AND livemode = $2 AND name = $3
            RETURNING version, created_at
            """, [organizationID, livemode, ruleset.name, ruleset.description, ruleset.rulesJSON.jsonString, ruleset.hash, actor, now])
        guard let version = rows.int(0, 0), let createdAt = rows.date(0, 1) else { throw RulesetStoreError.unreadable(ruleset.name) }
        return (StoredRuleset(ruleset: ruleset, version: version, createdAt: createdAt), true)
    }

    /// A version of `name`, or its latest with `version` nil; nil when there is none.
    public static func load(_ connection: PostgresConnection, organizationID: UUID, livemode: Bool, name: String,
                            version: Int?) throws -> StoredRuleset? {
        let rows = try connection.query("""
            SELECT name, version, description, rules, hash, created_at FROM ledger.ruleset_versions
            WHERE organization_id = $1 AND livemode = $2 AND name = $3 AND ($4::integer IS NULL OR version = $4)
            ORDER BY version DESC LIMIT 1
            """, [organizationID, livemode, name, version])
        return rows.count == 0 ? nil : try stored(rows, row: 0)
    }

    /// The latest version of each name, in name order, after `startingAfter`.
    public static func latest(_ connection: PostgresConnection, organizationID: UUID, livemode: Bool, startingAfter: String?,
                              limit: Int) throws -> [StoredRuleset] {
        let rows = try connection.query("""
            SELECT DISTINCT ON (name) name, version, description, rules, hash, created_at FROM ledger.ruleset_versions
            WHERE organization_id = $1 AND livemode = $2 AND ($3::text IS NULL OR name > $3)
            ORDER BY name, version DESC LIMIT $4
            """, [organizationID, livemode, startingAfter, limit])
        return try (0..<rows.count).map { try stored(rows, row: $0) }
    }

    /// Every version of `name`, newest first.
    public static func versions(_ connection: PostgresConnection, organizationID: UUID, livemode: Bool, name: String) throws -> [StoredRuleset] {
        let rows = try connection.query("""
            SELECT name, version, description, rules, hash, created_at FROM ledger.ruleset_versions
            WHERE organization_id = $1 AND livemode = $2 AND name = $3 ORDER BY version DESC LIMIT 1000
            """, [organizationID, livemode, name])
        return try (0..<rows.count).map { try stored(rows, row: $0) }
    }

    /// A row read back through the same checks it passed when written; a row that no longer passes them (a
    /// stricter build) or whose content no longer has its hash is refused rather than evaluated.
    private static func stored(_ rows: PostgresRows, row: Int) throws -> StoredRuleset {
        let name = rows.string(row, 0) ?? ""
        guard let version = rows.int(row, 1), let text = rows.string(row, 3), let createdAt = rows.date(row, 5),
              let rules = try? JSONValue.parse(Array(text.utf8), maxDepth: storedDepth),
              let ruleset = try? make(name: name, description: rows.string(row, 2), rules: rules),
              ruleset.hash == rows.string(row, 4) else {
            throw RulesetStoreError.unreadable(name)
        }
        return StoredRuleset(ruleset: ruleset, version: version, createdAt: createdAt)
    }
}

public enum RulesetStoreError: Error, Equatable {
    /// A stored version does not read back as it was written.
    case unreadable(String)
}
