import Foundation
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
    /// An event's mode is its verification's. Only the filters given become conditions, so the planner picks
    /// the index of each (Schema/034) instead of one generic plan for all.
    public static func readHistory(_ connection: PostgresConnection, organizationID: UUID, livemode: Bool, filter: EventFilter,
                                   after cursor: FeedCursor, limit: Int) throws -> [RecordedEvent] {
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
        parameters.append(max(1, limit))
        let rows = try connection.query("""
            SELECT \(columns.split(separator: ",").map { "e." + $0.trimmingCharacters(in: .whitespaces) }.joined(separator: ", "))
            FROM ledger.events e
            JOIN ledger.verifications v ON v.organization_id = e.organization_id AND v.id = e.stream_id
            WHERE e.organization_id = $1 AND v.livemode = $2
              AND (e.transaction_id, e.position) > ($3::text::xid8, $4)
              AND e.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
              \(conditions.map { "AND " + $0 }.joined(separator: "\n  "))
            ORDER BY e.transaction_id, e.position
            LIMIT $\(parameters.count)
            """, parameters)
        return try decode(rows)
    }
}
