import Foundation
import LedgerDomain
import Synchronization

public enum AppendError: Error, Equatable, CustomStringConvertible {
    /// The stream was not at the expected version.
    case wrongExpectedVersion(streamID: String, expected: ExpectedVersion, current: Int64)
    /// Some, not all, of the appended event ids were already in the log.
    case eventsPartlyStored(streamID: String)

    public var description: String {
        switch self {
        case let .wrongExpectedVersion(stream, expected, current):
            return "stream \(stream) is at version \(current), not \(expected.storedValue.map(String.init) ?? "any")"
        case let .eventsPartlyStored(stream): return "some of these events are already in stream \(stream)"
        }
    }
}

public enum StorageError: Error, Equatable, CustomStringConvertible {
    /// A stored row did not have the shape the schema promises.
    case unreadableRow(table: String, key: String)

    public var description: String {
        switch self {
        case let .unreadableRow(table, key): return "a row of \(table) (\(key)) could not be read"
        }
    }
}

/// What an append stored: one entry per event, in stream order.
public struct AppendResult: Sendable, Equatable {
    public struct Stored: Sendable, Equatable {
        public var eventID: UUID
        public var position: Int64
        public var version: Int64
        public var hash: [UInt8]
    }

    public var events: [Stored]
    public var newVersion: Int64 { events.last?.version ?? 0 }
}

/// The event log: appends with an expected version, stream reads and the gap-safe global feed.
/// Every call takes the connection (and so the transaction) of its caller, which may add its own statements.
public enum EventStore {
    private static let appended = Atomic<Int>(0)

    /// Events written by appends in this process (a transaction may still have rolled some back).
    public static var eventsAppended: Int { appended.load(ordering: .relaxed) }

    public static func append(_ connection: PostgresConnection, organizationID: UUID, streamID: String,
                              expectedVersion: ExpectedVersion, events: [NewEvent],
                              metadata: EventMetadata) throws -> AppendResult {
        let statement = appendStatement(organizationID: organizationID, streamID: streamID, expectedVersion: expectedVersion,
                                        events: events, metadata: metadata)
        do {
            return try appendResult(try connection.query(statement.0, statement.1), streamID: streamID)
        } catch {
            throw appendError(error, streamID: streamID, expectedVersion: expectedVersion)
        }
    }

    /// The append as a statement, for callers that send it with statements of their own: map a failure with
    /// `appendError` and, once committed, count the events with `countAppended`.
    public static func appendStatement(organizationID: UUID, streamID: String, expectedVersion: ExpectedVersion,
                                       events: [NewEvent], metadata: EventMetadata) -> PostgresStatement {
        ("SELECT * FROM ledger.append_events($1, $2, $3, $4, $5, $6, $7, $8, $9)",
         [organizationID, streamID, expectedVersion.storedValue,
          PostgresArray(events.map(\.id.postgresText)), PostgresArray(events.map(\.type)),
          PostgresArray(events.map { String($0.schemaVersion) }), PostgresArray(events.map(\.data.jsonString)),
          PostgresArray(events.map { PostgresTimestamp.format($0.occurredAt) }), metadata.json])
    }

    private static func appendResult(_ rows: PostgresRows, streamID: String) throws -> AppendResult {
        var stored: [AppendResult.Stored] = []
        stored.reserveCapacity(rows.count)
        for row in 0..<rows.count {
            guard let id = rows.uuid(row, 0), let position = rows.int64(row, 1), let version = rows.int64(row, 2),
                  let hash = rows.bytes(row, 3) else {
                throw StorageError.unreadableRow(table: "events", key: streamID)
            }
            stored.append(.init(eventID: id, position: position, version: version, hash: hash))
        }
        countAppended(stored.count)
        return AppendResult(events: stored)
    }

    public static func countAppended(_ events: Int) {
        appended.add(events, ordering: .relaxed)
    }

    /// The typed error a failed append stands for; other errors pass through.
    public static func appendError(_ error: Error, streamID: String, expectedVersion: ExpectedVersion) -> Error {
        switch error {
        case let PostgresError.server(state, _, detail, _) where state == "LD001":
            return AppendError.wrongExpectedVersion(streamID: streamID, expected: expectedVersion,
                                                    current: detail.flatMap { Int64($0) } ?? -1)
        case let PostgresError.server(state, _, _, constraint)
            where state == "LD003" || (state == "23505" && constraint == "events_event_id_key"):
            return AppendError.eventsPartlyStored(streamID: streamID)
        default:
            return error
        }
    }

    /// The stream's current version; 0 when it has no events.
    public static func version(_ connection: PostgresConnection, organizationID: UUID, streamID: String) throws -> Int64 {
        let rows = try connection.query(
            "SELECT version FROM ledger.streams WHERE organization_id = $1 AND stream_id = $2",
            [organizationID, streamID])
        return rows.int64(0, 0) ?? 0
    }

    /// How many events one round trip of a stream read brings: a long stream is read (and folded) a page
    /// at a time, never held in memory whole.
    public static let streamPageSize = 1_000

    /// Every event of one stream after `afterVersion`, oldest first (read a page at a time).
    public static func readStream(_ connection: PostgresConnection, organizationID: UUID, streamID: String,
                                  afterVersion: Int64 = 0, lockingStream: Bool = false) throws -> [RecordedEvent] {
        var events: [RecordedEvent] = []
        try forEachEvent(connection, organizationID: organizationID, streamID: streamID, afterVersion: afterVersion,
                         lockingStream: lockingStream) { event in
            events.append(event)
            return true
        }
        return events
    }

    /// Hands every event of one stream after `afterVersion` to `body`, oldest first, a page of `pageSize` at a
    /// time, until `body` returns false. With `lockingStream`, the stream's row is locked first (in the round
    /// trip of the first page), so concurrent writers of the stream queue instead of conflicting, and the
    /// pages all belong to one version of the stream.
    public static func forEachEvent(_ connection: PostgresConnection, organizationID: UUID, streamID: String,
                                    afterVersion: Int64 = 0, pageSize: Int = streamPageSize, lockingStream: Bool = false,
                                    _ body: (RecordedEvent) throws -> Bool) throws {
        let pageSize = max(1, pageSize)
        var after = afterVersion
        var locking = lockingStream
        while true {
            let page = try readStreamPage(connection, organizationID: organizationID, streamID: streamID, afterVersion: after,
                                          limit: pageSize, lockingStream: locking)
            locking = false
            for event in page {
                guard try body(event) else { return }
            }
            guard page.count == pageSize, let last = page.last else { return }
            after = last.version
        }
    }

    /// At most `limit` events of one stream after `afterVersion`, oldest first: one page of a stream read.
    public static func readStreamPage(_ connection: PostgresConnection, organizationID: UUID, streamID: String,
                                      afterVersion: Int64, limit: Int, lockingStream: Bool = false) throws -> [RecordedEvent] {
        let read = ("SELECT \(columns) FROM ledger.read_stream($1, $2, $3, $4)",
                    [organizationID, streamID, afterVersion, limit] as [(any PostgresEncodable)?])
        guard lockingStream else { return try decode(try connection.query(read.0, read.1)) }
        let rows = try connection.pipeline([
            ("SELECT 1 FROM ledger.streams WHERE organization_id = $1 AND stream_id = $2 FOR UPDATE", [organizationID, streamID]),
            read,
        ])
        return try decode(rows[1])
    }

    /// The next batch of the global feed after `cursor`. Nothing is ever handed out behind a cursor later:
    /// see Schema/007_read_feed.sql. Call it outside a transaction.
    public static func readFeed(_ connection: PostgresConnection, after cursor: FeedCursor, limit: Int,
                                organizationID: UUID? = nil) throws -> [RecordedEvent] {
        let rows = try connection.query("SELECT \(columns) FROM ledger.read_feed($1::text::xid8, $2, $3, $4)",
                                        [cursor.transactionID, cursor.position, limit, organizationID])
        return try decode(rows)
    }

    static let columns = """
        position, transaction_id, event_id, organization_id, stream_id, version, type, schema_version, data, \
        metadata, occurred_at, previous_hash, hash
        """

    static func decode(_ rows: PostgresRows) throws -> [RecordedEvent] {
        var events: [RecordedEvent] = []
        events.reserveCapacity(rows.count)
        for row in 0..<rows.count {
            guard let position = rows.int64(row, 0), let tx = rows.uint64(row, 1), let id = rows.uuid(row, 2),
                  let organization = rows.uuid(row, 3), let stream = rows.string(row, 4),
                  let version = rows.int64(row, 5), let type = rows.string(row, 6),
                  let schemaVersion = rows.int(row, 7), let data = rows.json(row, 8),
                  let metadata = rows.json(row, 9).flatMap(EventMetadata.init(json:)),
                  let occurredAt = rows.date(row, 10), let previous = rows.bytes(row, 11),
                  let hash = rows.bytes(row, 12) else {
                throw StorageError.unreadableRow(table: "events", key: rows.string(row, 0) ?? "?")
            }
            events.append(RecordedEvent(position: position, transactionID: tx, id: id, organizationID: organization,
                                        streamID: stream, version: version, type: type, schemaVersion: schemaVersion,
                                        data: data, metadata: metadata, occurredAt: occurredAt,
                                        previousHash: previous, hash: hash))
        }
        return events
    }
}
