import Foundation
import LedgerCrypto
import LedgerDomain
import LedgerStorage

/// Read rows as their readers see them: each stored document opened under its entity's key, which the read takes
/// from `ledger.data_keys` in the same query (`keyJoin`), so an erasure is seen at once.
enum StoredDocuments {
    /// The columns after the document that `open` reads: entity (the table's `entity` column), wrapped key, erased, and
    /// the id the document is bound to (the table's `id` column).
    static func keyColumns(_ alias: String, entity: String = "entity_id", id: String = "id") -> String {
        "\(alias).\(entity), k.wrapped_key, k.erased_at IS NOT NULL, \(alias).\(id)"
    }

    /// The entity's key row as `k`, looked up by its primary key once per row read. The `LIMIT` keeps PostgreSQL from
    /// folding the lookup into a plain join, which it plans from the tables' statistics: on statistics of a few rows
    /// (a table just filled, before its first ANALYZE) that was a scan of every key of the tenant for each read, and
    /// a list page joined every row of the tenant before its sort and limit.
    static func keyJoin(_ alias: String, entity: String = "entity_id") -> String {
        "LEFT JOIN LATERAL (SELECT d.wrapped_key, d.erased_at FROM ledger.data_keys d WHERE d.organization_id = \(alias).organization_id "
            + "AND d.livemode = \(alias).livemode AND d.entity_id = \(alias).\(entity) LIMIT 1) k ON true"
    }

    /// Every row's document (column 0, then `keyColumns`), opened.
    static func open(_ rows: PostgresRows, kind: String, organizationID: UUID, vault: PersonalDataVault?) throws -> [String] {
        try (0..<rows.count).compactMap { row in
            guard let stored = rows.string(row, 0) else { return nil }
            guard let vault, let entity = rows.string(row, 1), let id = rows.string(row, 4) else { return stored }
            let owner = DataKeyOwner(organizationID: organizationID, entityID: entity)
            return try vault.openDocument(stored, documentID: PersonalDataVault.documentID(kind: kind, streamID: id), owner: owner,
                                          key: try vault.key(owner, wrapped: rows.bytes(row, 2), erased: rows.bool(row, 3) ?? false))
        }
    }

    static func json(_ documents: [String]) -> [JSONValue] {
        documents.compactMap { try? JSONValue.parse(Array($0.utf8), maxDepth: 512) }
    }
}
