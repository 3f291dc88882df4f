import Foundation
import LedgerCrypto
import LedgerDomain
import LedgerStorage

/// Responses kept for an idempotent replay hold the verification object, applicant and all: kept sealed under the
/// entity's data key as read rows are, and opened when replayed (without the personal data once it was erased).
enum ReplayPersonalData {
    /// The verification a response body is, with its owner: nil for any other body.
    private static func verification(_ body: [UInt8], _ caller: Caller) -> (object: JSONValue, id: String, owner: DataKeyOwner)? {
        guard body.first == UInt8(ascii: "{"), let object = try? JSONValue.parse(body, maxDepth: 512),
              object["object"]?.stringValue == "verification", let id = object["id"]?.stringValue,
              let entity = object["entity_id"]?.stringValue else { return nil }
        return (object, id, DataKeyOwner(organizationID: caller.organizationID, entityID: entity))
    }

    static func sealed(_ body: [UInt8], _ tx: PostgresConnection, _ caller: Caller, vault: PersonalDataVault?) throws -> [UInt8] {
        guard let vault, let (object, id, owner) = verification(body, caller) else { return body }
        let key = try vault.keyForWriting(tx, owner, livemode: caller.livemode)
        let plain = PersonalDataPolicy.renderedObjects.split(eventType: "verification", data: object).plain
        return Array(try vault.sealDocument(full: String(decoding: body, as: UTF8.self), plain: plain.jsonString,
                                            documentID: PersonalDataVault.documentID(kind: "response", streamID: id), owner: owner, key: key).utf8)
    }

    static func opened(_ body: [UInt8], _ connection: PostgresConnection, _ caller: Caller, vault: PersonalDataVault?) throws -> [UInt8] {
        guard let vault, let (_, id, owner) = verification(body, caller) else { return body }
        let stored = String(decoding: body, as: UTF8.self)
        guard stored.contains(PersonalDataEnvelope.member) else { return body }
        return Array(try vault.openDocument(stored, documentID: PersonalDataVault.documentID(kind: "response", streamID: id), owner: owner,
                                            key: try vault.key(connection, owner, livemode: caller.livemode)).utf8)
    }

    /// The entity's replies kept in plain text (before personal data was encrypted) without their personal data:
    /// the erasure's rewrite, as sealed ones become unreadable with the key. Returns how many it rewrote.
    @discardableResult
    static func erasedInPlainText(_ tx: PostgresConnection, _ caller: Caller, entity: String) throws -> Int {
        let rows = try tx.query("""
            SELECT idempotency_key, response_body FROM ledger.idempotency_keys
            WHERE organization_id = $1 AND livemode = $2 AND position(convert_to($3, 'UTF8') IN response_body) > 0
              AND position(convert_to($4, 'UTF8') IN response_body) = 0
            """, [caller.organizationID, caller.livemode, entity, PersonalDataEnvelope.member])
        var rewritten = 0
        for row in 0..<rows.count {
            guard let key = rows.string(row, 0), let body = rows.bytes(row, 1), let (object, _, owner) = verification(body, caller),
                  owner.entityID == entity, let erased = PersonalDataPolicy.erased(renderedObject: object) else { continue }
            _ = try tx.query("UPDATE ledger.idempotency_keys SET response_body = $4 WHERE organization_id = $1 AND livemode = $2 AND idempotency_key = $3",
                             [caller.organizationID, caller.livemode, key, ByteA(Array(erased.jsonString.utf8))])
            rewritten += 1
        }
        return rewritten
    }
}
