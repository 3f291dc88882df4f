import Foundation
import LedgerCrypto
import LedgerDomain

/// What a history query keeps: the events of one organization and mode, narrowed by any of these.
public struct EventFilter: Sendable, Equatable {
    public var type: String?
    public var verificationID: String?
    public var entityID: String?
    public var actorType: String?
    public var actorID: String?
    public var occurredAfter: Date?
    public var occurredBefore: Date?

    public init(type: String? = nil, verificationID: String? = nil, entityID: String? = nil, actorType: String? = nil,
                actorID: String? = nil, occurredAfter: Date? = nil, occurredBefore: Date? = nil) {
        self.type = type
        self.verificationID = verificationID
        self.entityID = entityID
        self.actorType = actorType
        self.actorID = actorID
        self.occurredAfter = occurredAfter
        self.occurredBefore = occurredBefore
    }
}

extension EventStore {
    /// The organization's events in one mode after `cursor`, in the order of the gap-safe feed (see
    /// Schema/007_read_feed.sql): only events of transactions older than every running one are handed out, so
    /// an event that commits late always sorts after a cursor handed out before it committed.
    ///
    /// An event's mode is its verification's. With a `vault`, each event's personal data is opened under its
    /// entity's key as the database holds it now: shown while the key exists, gone once it is destroyed.
    public static func readHistory(_ connection: PostgresConnection, organizationID: UUID, livemode: Bool, filter: EventFilter,
                                   after cursor: FeedCursor, limit: Int, vault: PersonalDataVault? = nil) throws -> [RecordedEvent] {
        let select = columns.split(separator: ",").map { "e." + $0.trimmingCharacters(in: .whitespaces) }.joined(separator: ", ")
            + ", v.entity_id, k.wrapped_key, k.erased_at IS NOT NULL"
        let (sql, parameters) = historyQuery(select: select, organizationID: organizationID, livemode: livemode, filter: filter,
                                             after: cursor, limit: limit)
        let rows = try connection.query(sql, parameters)
        let events = try decode(rows)
        guard let vault else { return events }
        let keyColumn = columns.split(separator: ",").count
        return try events.enumerated().map { row, event in
            guard let entity = rows.string(row, keyColumn) else { return event }
            let owner = DataKeyOwner(organizationID: organizationID, entityID: entity)
            var opened = event
            opened.data = try vault.open(eventType: event.type, stored: event.data, eventID: event.id, owner: owner,
                                         key: try vault.key(owner, wrapped: rows.bytes(row, keyColumn + 1), erased: rows.bool(row, keyColumn + 2) ?? false))
            return opened
        }
    }

    /// One event of a history as its JSON text, rendered by PostgreSQL (so a long export costs no parsing and
    /// encoding here), with what the export's summary needs.
    public struct HistoryDocument: Sendable {
        public var cursor: FeedCursor
        public var streamID: String
        public var version: Int64
        public var hash: [UInt8]
        public var json: String
    }

    /// Every event of the history as `readHistory` orders it, each as the JSON of the audit event object (the
    /// members of `GET /v1/events`' items, equal as JSON: a test compares them), handed to `body` a page at a
    /// time. One query behind a cursor, in the caller's transaction: the events are found and ordered once,
    /// however many pages they fill, and only a page is in memory here. With a `vault`, an event holding sealed
    /// personal data, or an erased entity's event that carries personal data, is parsed and its data opened as
    /// `readHistory` opens it (the others pass as PostgreSQL wrote them).
    public static func forEachHistoryDocument(_ transaction: PostgresConnection, organizationID: UUID, livemode: Bool, filter: EventFilter,
                                              pageSize: Int, vault: PersonalDataVault? = nil,
                                              _ body: ([HistoryDocument]) throws -> Void) throws {
        let select = """
            e.transaction_id::text, e.position, e.stream_id, e.version, e.hash, jsonb_build_object(
                'id', e.event_id, 'object', 'event', 'type', e.type, 'schema_version', e.schema_version, 'version', e.version,
                'position', e.position, 'occurred_at', to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                'data', e.data, 'metadata', e.metadata, 'hash', encode(e.hash, 'hex'), 'verification_id', e.stream_id,
                'previous_hash', encode(e.previous_hash, 'hex'))::text,
            e.type, e.event_id, v.entity_id, k.wrapped_key, k.erased_at IS NOT NULL
            """
        let (sql, parameters) = historyQuery(select: select, organizationID: organizationID, livemode: livemode, filter: filter,
                                             after: .start, limit: nil)
        try transaction.query("DECLARE history_documents NO SCROLL CURSOR FOR " + sql, parameters)
        let pageSize = max(1, pageSize)
        while true {
            let rows = try transaction.query("FETCH \(pageSize) FROM history_documents")
            var documents: [HistoryDocument] = []
            documents.reserveCapacity(rows.count)
            for row in 0..<rows.count {
                guard let transactionID = rows.uint64(row, 0), let position = rows.int64(row, 1), let stream = rows.string(row, 2),
                      let version = rows.int64(row, 3), let hash = rows.bytes(row, 4), var json = rows.string(row, 5) else {
                    throw StorageError.unreadableRow(table: "events", key: rows.string(row, 1) ?? "?")
                }
                // Sealed personal data is opened; so is an erased entity's event written before encryption, whose
                // personal values are in plain text and must read as null.
                let erased = rows.bool(row, 10) ?? false
                if let vault, let type = rows.string(row, 6), PersonalDataPolicy.verification.carriesPersonalData(eventType: type),
                   erased || json.contains(PersonalDataEnvelope.member), let eventID = rows.uuid(row, 7),
                   let entity = rows.string(row, 8), case var .object(members)? = try? JSONValue.parse(Array(json.utf8), maxDepth: 512),
                   let index = members.firstIndex(where: { $0.0 == "data" }) {
                    let owner = DataKeyOwner(organizationID: organizationID, entityID: entity)
                    members[index].1 = try vault.open(eventType: type, stored: members[index].1, eventID: eventID, owner: owner,
                                                      key: try vault.key(owner, wrapped: rows.bytes(row, 9), erased: erased))
                    json = JSONValue.object(members).jsonString
                }
                documents.append(HistoryDocument(cursor: FeedCursor(transactionID: transactionID, position: position), streamID: stream,
                                                 version: version, hash: hash, json: json))
            }
            if !documents.isEmpty { try body(documents) }
            if rows.count < pageSize { break }
        }
        try transaction.query("CLOSE history_documents")
    }

    /// Only the filters given become conditions, so the planner picks the index of each (Schema/034) instead
    /// of one generic plan for all.
    private static func historyQuery(select: String, organizationID: UUID, livemode: Bool, filter: EventFilter,
                                     after cursor: FeedCursor, limit: Int?) -> PostgresStatement {
        var conditions: [String] = []
        var parameters: [(any PostgresEncodable)?] = [organizationID, livemode, cursor.transactionID, cursor.position]
        func condition(_ sql: (String) -> String, _ value: (any PostgresEncodable)?) {
            guard let value else { return }
            parameters.append(value)
            conditions.append(sql("$\(parameters.count)"))
        }
        condition({ "e.type = \($0)" }, filter.type)
        condition({ "e.stream_id = \($0)" }, filter.verificationID)
        condition({ "v.entity_id = \($0)" }, filter.entityID)
        condition({ "e.metadata ->> 'actor_type' = \($0)" }, filter.actorType)
        condition({ "e.metadata ->> 'actor_id' = \($0)" }, filter.actorID)
        condition({ "e.occurred_at > \($0)::timestamptz" }, filter.occurredAfter)
        condition({ "e.occurred_at < \($0)::timestamptz" }, filter.occurredBefore)
        if let limit { parameters.append(max(1, limit)) }
        return ("""
            SELECT \(select)
            FROM ledger.events e
            JOIN ledger.verifications v ON v.organization_id = e.organization_id AND v.id = e.stream_id
            LEFT JOIN ledger.data_keys k ON k.organization_id = e.organization_id AND k.livemode = v.livemode AND k.entity_id = v.entity_id
            WHERE e.organization_id = $1 AND v.livemode = $2
              AND (e.transaction_id, e.position) > ($3::text::xid8, $4)
              AND e.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
              \(conditions.map { "AND " + $0 }.joined(separator: "\n  "))
            ORDER BY e.transaction_id, e.position
            \(limit == nil ? "" : "LIMIT $\(parameters.count)")
            """, parameters)
    }
}
