import Foundation
import LedgerCrypto
import LedgerDomain
import LedgerStorage

/// Responses kept for an idempotent replay hold the verification object, applicant and all: kept sealed under the
/// entity's data key as read rows are, and opened when replayed (without the personal data once it was erased).
enum ReplayPersonalData {
    /// The members of a verification object that are personal data.
    static let policy = PersonalDataPolicy(pathsByEventType: ["verification": [PersonalDataPath(.member("applicant"), .everyMember)]])

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
        let plain = policy.split(eventType: "verification", data: object).plain
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
}
