import Foundation

/// What an append expects the stream's version to be. Versions start at 1; an empty stream is at 0.
public enum ExpectedVersion: Sendable, Equatable {
    case any
    case noStream
    case exact(Int64)

    public var storedValue: Int64? {
        switch self {
        case .any: return nil
        case .noStream: return 0
        case let .exact(version): return version
        }
    }
}

public enum ActorType: String, Sendable, Equatable, CaseIterable {
    case apiKey = "api_key"
    case system
    case user
    case provider
}

/// Who asked for a change and why; stored with every event and covered by its hash.
public struct EventMetadata: Sendable, Equatable {
    public var actorID: String
    public var actorType: ActorType
    public var requestID: String?
    public var idempotencyKey: String?
    public var causationID: String?
    public var correlationID: String?

    public init(actorID: String, actorType: ActorType, requestID: String? = nil, idempotencyKey: String? = nil,
                causationID: String? = nil, correlationID: String? = nil) {
        self.actorID = actorID
        self.actorType = actorType
        self.requestID = requestID
        self.idempotencyKey = idempotencyKey
        self.causationID = causationID
        self.correlationID = correlationID
    }

    public var json: JSONValue {
        var members: [(String, JSONValue)] = [("actor_id", .string(actorID)), ("actor_type", .string(actorType.rawValue))]
        if let requestID { members.append(("request_id", .string(requestID))) }
        if let idempotencyKey { members.append(("idempotency_key", .string(idempotencyKey))) }
        if let causationID { members.append(("causation_id", .string(causationID))) }
        if let correlationID { members.append(("correlation_id", .string(correlationID))) }
        return .object(members)
    }

    public init?(json: JSONValue) {
        guard let actorID = json["actor_id"]?.stringValue,
              let actorType = json["actor_type"]?.stringValue.flatMap(ActorType.init(rawValue:)) else { return nil }
        self.init(actorID: actorID, actorType: actorType,
                  requestID: json["request_id"]?.stringValue,
                  idempotencyKey: json["idempotency_key"]?.stringValue,
                  causationID: json["causation_id"]?.stringValue,
                  correlationID: json["correlation_id"]?.stringValue)
    }
}

/// An event about to be appended.
public struct NewEvent: Sendable, Equatable {
    public var id: UUID
    public var type: String
    public var schemaVersion: Int
    public var data: JSONValue
    public var occurredAt: Date

    public init(id: UUID, type: String, schemaVersion: Int = 1, data: JSONValue, occurredAt: Date) {
        self.id = id
        self.type = type
        self.schemaVersion = schemaVersion
        self.data = data
        self.occurredAt = occurredAt
    }
}

/// An event as the log holds it.
public struct RecordedEvent: Sendable, Equatable {
    public var position: Int64
    public var transactionID: UInt64
    public var id: UUID
    public var organizationID: UUID
    public var streamID: String
    public var version: Int64
    public var type: String
    public var schemaVersion: Int
    public var data: JSONValue
    public var metadata: EventMetadata
    public var occurredAt: Date
    public var previousHash: [UInt8]
    public var hash: [UInt8]

    public init(position: Int64, transactionID: UInt64, id: UUID, organizationID: UUID, streamID: String, version: Int64,
                type: String, schemaVersion: Int, data: JSONValue, metadata: EventMetadata, occurredAt: Date,
                previousHash: [UInt8], hash: [UInt8]) {
        self.position = position
        self.transactionID = transactionID
        self.id = id
        self.organizationID = organizationID
        self.streamID = streamID
        self.version = version
        self.type = type
        self.schemaVersion = schemaVersion
        self.data = data
        self.metadata = metadata
        self.occurredAt = occurredAt
        self.previousHash = previousHash
        self.hash = hash
    }

    /// Where a reader of the global feed stands after this event.
    public var feedCursor: FeedCursor { FeedCursor(transactionID: transactionID, position: position) }
}

/// A place in the global feed. The feed is ordered by (writing transaction id, position) and only hands out
/// events of transactions older than the oldest one still running, so nothing can later appear behind a cursor.
public struct FeedCursor: Sendable, Equatable, Hashable, Comparable, CustomStringConvertible {
    public var transactionID: UInt64
    public var position: Int64

    public static let start = FeedCursor(transactionID: 0, position: 0)

    public init(transactionID: UInt64, position: Int64) {
        self.transactionID = transactionID
        self.position = position
    }

    public static func < (lhs: FeedCursor, rhs: FeedCursor) -> Bool {
        (lhs.transactionID, lhs.position) < (rhs.transactionID, rhs.position)
    }

    /// `"<transaction id>-<position>"`, the form clients pass back.
    public var description: String { "\(transactionID)-\(position)" }

    public init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let tx = UInt64(parts[0]), let position = Int64(parts[1]), position >= 0 else { return nil }
        self.init(transactionID: tx, position: position)
    }
}
