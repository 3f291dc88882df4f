import Foundation
import LedgerCrypto
import LedgerDomain
import LedgerStorage

/// Read rows as their readers see them: each stored document opened under its entity's key, which the read takes
/// from `ledger.data_keys` in the same query (`keyJoin`), so an erasure is seen at once.
enum StoredDocuments {
    /// The columns after the document that `open` reads: entity (the table's `entity` column), wrapped key, erased, id.
    static func keyColumns(_ alias: String, entity: String = "entity_id") -> String {
        "\(alias).\(entity), k.wrapped_key, k.erased_at IS NOT NULL, \(alias).id"
    }

    static func keyJoin(_ alias: String, entity: String = "entity_id") -> String {
        "LEFT JOIN ledger.data_keys k ON k.organization_id = \(alias).organization_id AND k.livemode = \(alias).livemode AND k.entity_id = \(alias).\(entity)"
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
