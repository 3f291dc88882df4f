import Foundation

/// The encryption the envelope needs but may not implement itself (the domain has no C imports and never hand-writes
/// cryptography): an authenticated cipher under one entity's data key. The shells implement it with AES-256-GCM.
public protocol PersonalDataCipher: Sendable {
    func seal(_ plaintext: [UInt8], associatedData: [UInt8]) throws(PersonalDataError) -> [UInt8]
    /// Fails, rather than returning anything, for a box sealed under another key or other associated data, or altered.
    func open(_ sealed: [UInt8], associatedData: [UInt8]) throws(PersonalDataError) -> [UInt8]
}

/// What a reader holds for an entity's personal data.
public enum PersonalDataKey: Sendable {
    case available(any PersonalDataCipher)
    /// The entity's data key was destroyed: its personal data reads as null.
    case erased
    /// The entity never had a data key: only events written without encrypted personal data can be read.
    case notIssued
}

public enum PersonalDataError: Error, Equatable, Sendable, CustomStringConvertible {
    case sealingFailed(String)
    /// The ciphertext does not authenticate (wrong data key, or altered, or moved from another event).
    case unreadable(String)
    case malformed(String)
    /// An event holds encrypted personal data but its entity has no data key.
    case keyMissing

    public var description: String {
        switch self {
        case let .sealingFailed(reason): return "cannot encrypt personal data: \(reason)"
        case let .unreadable(reason): return "cannot decrypt personal data: \(reason)"
        case let .malformed(reason): return "malformed encrypted personal data: \(reason)"
        case .keyMissing: return "the event holds encrypted personal data but its entity has no data key"
        }
    }
}

/// The event a ciphertext belongs to, bound in as associated data: a ciphertext copied into another event, another
/// entity's or another organization's, no longer decrypts.
public struct PersonalDataContext: Sendable, Equatable {
    public var organizationID: UUID
    public var entityID: String
    public var eventID: UUID

    public init(organizationID: UUID, entityID: String, eventID: UUID) {
        self.organizationID = organizationID
        self.entityID = entityID
        self.eventID = eventID
    }

    /// `version (0x01) ‖ organization id (16 bytes) ‖ event id (16 bytes) ‖ entity id (UTF-8)`: every part but the
    /// last has a fixed length, so no two contexts give the same bytes.
    public var associatedData: [UInt8] {
        [PersonalDataEnvelope.version] + Self.bytes(organizationID) + Self.bytes(eventID) + Array(entityID.utf8)
    }

    private static func bytes(_ id: UUID) -> [UInt8] { withUnsafeBytes(of: id.uuid) { Array($0) } }
}

/// Event data as the log stores it: the plain part with one more member,
///
///     "encrypted_personal_data": {"version": 1, "ciphertext": "<base64>"}
///
/// where the ciphertext is the cipher's sealed box (for AES-256-GCM: nonce ‖ ciphertext ‖ tag) of the personal part's
/// compact JSON. The hash chain covers the stored data, ciphertext included, so destroying the key changes no hash.
/// Events with no personal values, and events of types that carry none, are stored exactly as they are.
public enum PersonalDataEnvelope {
    public static let member = "encrypted_personal_data"
    public static let version: UInt8 = 1

    public static func seal(eventType: String, data: JSONValue, context: PersonalDataContext, cipher: some PersonalDataCipher,
                            policy: PersonalDataPolicy = .verification) throws(PersonalDataError) -> JSONValue {
        let split = policy.split(eventType: eventType, data: data)
        guard let personal = split.personal else { return split.plain }
        guard case var .object(members) = split.plain else { throw .malformed("event data is not an object") }
        guard !members.contains(where: { $0.0 == member }) else { throw .malformed("event data already holds \(member)") }
        let sealed = try cipher.seal(personal.encoded(), associatedData: context.associatedData)
        members.append((member, ["version": .int(Int64(version)), "ciphertext": .string(Data(sealed).base64EncodedString())]))
        return .object(members)
    }

    /// The event's data as it was written, or with null for every personal value once the entity is erased.
    public static func open(eventType: String, stored: JSONValue, context: PersonalDataContext, key: PersonalDataKey,
                            policy: PersonalDataPolicy = .verification) throws(PersonalDataError) -> JSONValue {
        guard policy.carriesPersonalData(eventType: eventType) else { return stored }
        let (plain, envelope) = detach(stored)
        switch key {
        case .erased:
            return policy.merge(eventType: eventType, plain: plain, personal: nil)
        case .notIssued:
            guard envelope == nil else { throw .keyMissing }
            return plain
        case let .available(cipher):
            // Without an envelope the event was written before personal data was encrypted, or held none.
            guard let envelope else { return plain }
            guard envelope["version"]?.intValue == Int64(version) else {
                throw .malformed("version \(envelope["version"]?.jsonString ?? "missing"); this build reads \(version)")
            }
            guard let text = envelope["ciphertext"]?.stringValue, let sealed = Data(base64Encoded: text) else {
                throw .malformed("ciphertext is not base64")
            }
            let opened = try cipher.open(Array(sealed), associatedData: context.associatedData)
            // The bytes authenticated, so they are the JSON this envelope wrote; anything else is a defect, reported.
            guard let personal = try? JSONValue.parse(opened, maxDepth: 64), personal.objectValue != nil else {
                throw .malformed("the decrypted personal data is not a JSON object")
            }
            return policy.merge(eventType: eventType, plain: plain, personal: personal)
        }
    }

    private static func detach(_ stored: JSONValue) -> (plain: JSONValue, envelope: JSONValue?) {
        guard case let .object(members) = stored, let envelope = stored[member] else { return (stored, nil) }
        return (.object(members.filter { $0.0 != member }), envelope)
    }
}
