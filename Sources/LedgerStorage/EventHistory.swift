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
                                             after: try start(connection, filter: filter, after: cursor), limit: limit)
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

    /// A page of a history as NDJSON, put together from PostgreSQL's text of each cell (so a long export parses
    /// and encodes only the events whose personal data it opens), with what the export's summary needs of its events.
    public struct HistoryPage: Sendable {
        /// Each event's JSON and a newline, in order.
        public var lines: [UInt8] = []
        /// How many events the page holds.
        public var eventCount = 0
        /// For each run of consecutive events of one stream, in order: the stream, and its last event's version and
        /// hash (hex). The heads of the streams follow from these, with no strings made for every event.
        public var streamRuns: [(streamID: String, version: Int64, hash: String)] = []
    }

    /// Every event of the history as `readHistory` orders it, each as the JSON of the audit event object (the
    /// members of `GET /v1/events`' items, equal as JSON: a test compares them), handed to `body` a page at a
    /// time. One query behind a cursor, in the caller's transaction: the events are found and ordered once,
    /// however many pages they fill, and only a page is in memory here, with the next one that PostgreSQL makes
    /// meanwhile. With a `vault`, an event holding sealed personal data (PostgreSQL tells which), or an erased
    /// entity's event that carries personal data (written before encryption, so in plain text), is parsed and its
    /// data opened as `readHistory` opens it, under its entity's key (the vault keeps the keys it unwrapped); the
    /// others' bytes pass as PostgreSQL wrote them.
    public static func forEachHistoryPage(_ transaction: PostgresConnection, organizationID: UUID, livemode: Bool, filter: EventFilter,
                                          pageSize: Int, vault: PersonalDataVault? = nil,
                                          _ body: (HistoryPage) throws -> Void) throws {
        // Each cell comes as PostgreSQL's text output and the line is put together here from its bytes, in the
        // members' order of GET /v1/events: concatenated in SQL, every line was copied once per member and the
        // rows the cursor sorts were twice as wide (measured: most of the export's time in PostgreSQL).
        let select = """
            e.stream_id, e.version, e.hash, e.event_id, e.type, e.schema_version, e.position,
            e.occurred_at AT TIME ZONE 'UTC', e.data, e.metadata, e.previous_hash,
            e.data ? '\(PersonalDataEnvelope.member)', v.entity_id, k.wrapped_key, k.erased_at IS NOT NULL
            """
        let (sql, parameters) = historyQuery(select: select, organizationID: organizationID, livemode: livemode, filter: filter,
                                             after: try start(transaction, filter: filter, after: .start), limit: nil)
        // Every row is read, so the plan is chosen for all of them: the default (10 % of the rows first) made
        // PostgreSQL walk the whole log's feed index to hand out an entity's first rows early.
        // Nor is it compiled (JIT): the entity's many index lookups cost enough for PostgreSQL to compile the plan's
        // expressions, which took longer (26–75 ms measured for 100,000 events) than it saved. The times come in
        // ISO form, whatever the server's default, for `appendEventLine` to rewrite.
        transaction.setForTransaction("cursor_tuple_fraction, jit, DateStyle",
                                      ("SELECT set_config('cursor_tuple_fraction', '1', true), set_config('jit', 'off', true), "
                                       + "set_config('DateStyle', 'ISO', true)", []))
        try transaction.query("DECLARE history_documents NO SCROLL CURSOR FOR " + sql, parameters)
        let pageSize = max(1, pageSize)
        let fetch = "FETCH \(pageSize) FROM history_documents"
        var rows = try transaction.query(fetch)
        while true {
            let fetched = rows
            func use() throws {
                let page = try historyPage(fetched, organizationID: organizationID, vault: vault)
                if page.eventCount > 0 { try body(page) }
            }
            guard fetched.count == pageSize else {
                try use()
                break
            }
            // PostgreSQL makes the next page while this one is put together and handed on (on two cores, the
            // export took the sum of both sides' time when each waited for the other).
            rows = try transaction.query(fetch, meanwhile: use)
        }
        try transaction.query("CLOSE history_documents")
    }

    /// The page of `forEachHistoryPage`'s fetched rows.
    private static func historyPage(_ rows: PostgresRows, organizationID: UUID, vault: PersonalDataVault?) throws -> HistoryPage {
        var page = HistoryPage()
        page.eventCount = rows.count
        page.lines.reserveCapacity(rows.count * 512)
        for row in 0..<rows.count {
            let lineStart = page.lines.count
            guard appendEventLine(rows, row, to: &page.lines) else {
                throw StorageError.unreadableRow(table: "events", key: rows.string(row, 0) ?? "?")
            }
            // Sealed personal data is opened; so is an erased entity's event written before encryption, whose
            // personal values are in plain text and must read as null.
            let sealed = rows.bool(row, 11) ?? false, erased = rows.bool(row, 14) ?? false
            if let vault, sealed || erased, let type = rows.string(row, 4),
               sealed || PersonalDataPolicy.verification.carriesPersonalData(eventType: type),
               let eventID = rows.uuid(row, 3), let entity = rows.string(row, 12),
               case var .object(members)? = try? JSONValue.parse(Array(page.lines[lineStart...]), maxDepth: 512),
               let index = members.firstIndex(where: { $0.0 == "data" }) {
                let owner = DataKeyOwner(organizationID: organizationID, entityID: entity)
                members[index].1 = try vault.open(eventType: type, stored: members[index].1, eventID: eventID, owner: owner,
                                                  key: try vault.key(owner, wrapped: rows.bytes(row, 13), erased: erased))
                page.lines.removeSubrange(lineStart...)
                JSONValue.object(members).write(to: &page.lines)
            }
            page.lines.append(UInt8(ascii: "\n"))
            let runEnds = row + 1 == rows.count || rows.withText(row, 0, { stream in
                rows.withText(row + 1, 0) { next in !stream.elementsEqual(next) } ?? true
            }) ?? true
            if runEnds {
                guard let stream = rows.string(row, 0), let version = rows.int64(row, 1),
                      let hash = rows.withText(row, 2, { String(decoding: $0.dropFirst(2), as: UTF8.self) }) else {
                    throw StorageError.unreadableRow(table: "events", key: rows.string(row, 0) ?? "?")
                }
                page.streamRuns.append((stream, version, hash))
            }
        }
        return page
    }

    /// The audit event object of row `row` of `forEachHistoryPage`'s cursor, as JSON bytes: false when a cell is
    /// missing or not in the form its column's output has.
    private static func appendEventLine(_ rows: PostgresRows, _ row: Int, to line: inout [UInt8]) -> Bool {
        func append(_ text: StaticString) {
            text.withUTF8Buffer { line.append(contentsOf: $0) }
        }
        func cell(_ column: Int) -> Bool { rows.appendText(row, column, to: &line) }
        /// A bytea cell (`\x` then hex digits) as its hex digits.
        func hex(_ column: Int) -> Bool {
            rows.withText(row, column) { text -> Bool in
                guard text.count >= 2, text[0] == UInt8(ascii: "\\"), text[1] == UInt8(ascii: "x") else { return false }
                line.append(contentsOf: text.dropFirst(2))
                return true
            } ?? false
        }
        /// A `timestamp` cell in ISO form (`2026-01-01 00:00:01.5`) as RFC 3339 to the millisecond, digits after them
        /// dropped (`2026-01-01T00:00:01.500Z`), as `GET /v1/events` writes it: PostgreSQL's to_char took an eighth
        /// of the export's time there (measured: 40 ms for 100,000 events).
        func milliseconds(_ column: Int) -> Bool {
            rows.withText(row, column) { text -> Bool in
                guard let space = text.firstIndex(of: UInt8(ascii: " ")), text.count >= space + 9,
                      text[space + 3] == UInt8(ascii: ":"), text[space + 6] == UInt8(ascii: ":") else { return false }
                let fraction = text[(space + 9)...]
                guard fraction.isEmpty || (fraction.first == UInt8(ascii: ".") && fraction.count <= 7
                                           && fraction.dropFirst().allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else {
                    return false
                }
                line.append(contentsOf: text[..<space])
                line.append(UInt8(ascii: "T"))
                line.append(contentsOf: text[(space + 1)..<(space + 9)])
                line.append(UInt8(ascii: "."))
                let digits = fraction.dropFirst().prefix(3)
                line.append(contentsOf: digits)
                line.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: 3 - digits.count))
                line.append(UInt8(ascii: "Z"))
                return true
            } ?? false
        }
        append(#"{"id":""#)
        guard cell(3) else { return false }
        append(#"","object":"event","type":"#)
        guard rows.withText(row, 4, { JSONValue.writeString(utf8: $0, to: &line) }) != nil else { return false }
        append(#","schema_version":"#)
        guard cell(5) else { return false }
        append(#","version":"#)
        guard cell(1) else { return false }
        append(#","position":"#)
        guard cell(6) else { return false }
        append(#","occurred_at":""#)
        guard milliseconds(7) else { return false }
        append(#"","data":"#)
        guard cell(8) else { return false }
        append(#","metadata":"#)
        guard cell(9) else { return false }
        append(#","hash":""#)
        guard hex(2) else { return false }
        append(#"","verification_id":"#)
        guard rows.withText(row, 0, { JSONValue.writeString(utf8: $0, to: &line) }) != nil else { return false }
        append(#","previous_hash":""#)
        guard hex(10) else { return false }
        append(#""}"#)
        return true
    }

    /// Where the walk of the feed starts: after `cursor` or, for `occurredAfter`, after the last leaf of the tree
    /// whose event and every earlier one occurred at or before that time (Schema/052), whichever is later, so
    /// that the events before it are not read only to be filtered out.
    static func start(_ connection: PostgresConnection, filter: EventFilter, after cursor: FeedCursor) throws -> FeedCursor {
        guard let time = filter.occurredAfter else { return cursor }
        let rows = try connection.query("""
            SELECT transaction_id::text, position FROM ledger.merkle_leaves
            WHERE latest_occurred_at <= $1::timestamptz ORDER BY latest_occurred_at DESC, leaf_index DESC LIMIT 1
            """, [time])
        guard let transactionID = rows.uint64(0, 0), let position = rows.int64(0, 1) else { return cursor }
        return max(cursor, FeedCursor(transactionID: transactionID, position: position))
    }

    /// Only the filters given become conditions, so the planner picks the index of each (Schema/034) instead
    /// of one generic plan for all. The whole history of an entity (no `limit`) is read from its verifications,
    /// each one's events by the stream's index, then sorted: O(the entity's events), where the join the planner
    /// picks for a large entity reads every event of the organization (measured: the export's query took ~40 %
    /// less on a log of 1,000,000 events whose largest entity has 100,000). A page walks the feed and stops early.
    static func historyQuery(select: String, organizationID: UUID, livemode: Bool, filter: EventFilter,
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
        // ledger.event_actor, not ->>, so that the condition can use its index under row-level security (Schema/065).
        condition({ "ledger.event_actor(e.metadata, 'actor_type') = \($0)" }, filter.actorType)
        condition({ "ledger.event_actor(e.metadata, 'actor_id') = \($0)" }, filter.actorID)
        condition({ "e.occurred_at > \($0)::timestamptz" }, filter.occurredAfter)
        condition({ "e.occurred_at < \($0)::timestamptz" }, filter.occurredBefore)
        if let limit { parameters.append(max(1, limit)) }
        // OFFSET 0 keeps the streams' events a subquery of each verification, which the planner would otherwise
        // fold back into the join; the entity's key is looked up once per verification rather than per event.
        let events = filter.entityID != nil && limit == nil
            ? """
              ledger.verifications v
              LEFT JOIN ledger.data_keys k ON k.organization_id = v.organization_id AND k.livemode = v.livemode AND k.entity_id = v.entity_id
              CROSS JOIN LATERAL (SELECT * FROM ledger.events e WHERE e.organization_id = v.organization_id AND e.stream_id = v.id OFFSET 0) e
              """
            : """
              ledger.events e
              JOIN ledger.verifications v ON v.organization_id = e.organization_id AND v.id = e.stream_id
              LEFT JOIN ledger.data_keys k ON k.organization_id = e.organization_id AND k.livemode = v.livemode AND k.entity_id = v.entity_id
              """
        return ("""
            SELECT \(select)
            FROM \(events)
            WHERE e.organization_id = $1 AND v.organization_id = $1 AND v.livemode = $2
              AND (e.transaction_id, e.position) > ($3::text::xid8, $4)
              AND e.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
              \(conditions.map { "AND " + $0 }.joined(separator: "\n  "))
            ORDER BY e.transaction_id, e.position
            \(limit == nil ? "" : "LIMIT $\(parameters.count)")
            """, parameters)
    }
}
