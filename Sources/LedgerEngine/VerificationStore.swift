import Foundation
import LedgerDomain
import LedgerStorage

/// A verification as loaded from its stream.
public struct LoadedVerification: Sendable {
    public var id: String
    public var state: VerificationState
    public var version: Int64
    /// The verification object of this version as JSON text, when a command has already rendered it.
    public var document: String? = nil

    public init(id: String, state: VerificationState, version: Int64, document: String? = nil) {
        self.id = id
        self.state = state
        self.version = version
        self.document = document
    }
}

/// A verification's stream and read models: the fold of its stream, and the writes that follow a command.
public enum VerificationStore {
    /// Folds the stream, page by page, from its snapshot if it has one (a long stream; not with `asOf`, nor
    /// `fromSnapshot` false, as a rebuild from the log alone asks); `lock` queues concurrent commands on the
    /// stream's row instead of failing them. With `asOf`, the fold stops at the first event after that time.
    public static func load(_ connection: PostgresConnection, organizationID: UUID, id: String, lock: Bool = false,
                            asOf: Date? = nil, fromSnapshot: Bool = true) throws -> LoadedVerification? {
        var state = VerificationDecider.initialState
        var version: Int64 = 0
        if fromSnapshot, asOf == nil, let snapshot = try self.snapshot(connection, organizationID: organizationID, id: id) {
            (state, version) = snapshot
        }
        try EventStore.forEachEvent(connection, organizationID: organizationID, streamID: id, afterVersion: version,
                                    lockingStream: lock) { recorded in
            if let asOf, recorded.occurredAt > asOf { return false }
            let event: VerificationEvent
            do {
                event = try VerificationEvent(type: recorded.type, schemaVersion: recorded.schemaVersion, data: recorded.data)
            } catch {
                throw StorageError.unreadableRow(table: "events", key: "\(recorded.position)")
            }
            state = VerificationDecider.evolve(state, event, at: recorded.occurredAt)
            version = recorded.version
            return true
        }
        return state.exists ? LoadedVerification(id: id, state: state, version: version) : nil
    }

    /// The stream's snapshot, unless it has none or it does not decode (then the stream is folded whole).
    static func snapshot(_ connection: PostgresConnection, organizationID: UUID, id: String) throws -> (VerificationState, Int64)? {
        let rows = try connection.query("SELECT version, state FROM ledger.stream_snapshots WHERE organization_id = $1 AND id = $2",
                                        [organizationID, id])
        guard rows.count == 1, let version = rows.int64(0, 0), let text = rows.string(0, 1),
              let state = SnapshotsProjection.decode(text) else { return nil }
        return (state, version)
    }

    /// Queues the append, the read-model writes and the reactions to travel with the transaction's next
    /// round trip, and returns the verification document written. A failed expected-version check becomes
    /// what `conflict` makes of the stream's current version. `rewritingReadModels`: the stored rows may not be
    /// `before`'s (the expiry scheduler's claim moved its deadline), so every row is written.
    static func appendAndProject(_ tx: PostgresConnection, organizationID: UUID, before: LoadedVerification,
                                 after: LoadedVerification, events: [VerificationEvent], eventIDs: [UUID], now: Date,
                                 actor: EventMetadata, rewritingReadModels: Bool,
                                 conflict: @escaping (_ currentVersion: Int64) -> Error) -> String {
        let expected: ExpectedVersion = before.version == 0 ? .noStream : .exact(before.version)
        let newEvents = zip(eventIDs, events).map {
            NewEvent(id: $0, type: $1.type, schemaVersion: $1.schemaVersion, data: $1.data, occurredAt: now)
        }
        let append = EventStore.appendStatement(organizationID: organizationID, streamID: after.id, expectedVersion: expected,
                                                events: newEvents, metadata: actor)
        let streamBefore = StreamState(organizationID: organizationID, before), streamAfter = StreamState(organizationID: organizationID, after)
        let projections = Projections.statements(before: rewritingReadModels ? nil : streamBefore, after: streamAfter)
        let reactions = Reactions.inline.flatMap { $0.statements(before: streamBefore, after: streamAfter, causedBy: newEvents.last?.id, now: now) }
        let streamID = after.id
        // Every statement here reaches its rows by key, so one generic plan each is right; left to itself,
        // PostgreSQL keeps planning the outbox statement again because its custom plans fold away the
        // branches that the parameters switch off.
        let genericPlans: PostgresStatement = ("SET LOCAL plan_cache_mode = force_generic_plan", [])
        tx.sendWithNextRoundTrip([genericPlans, append] + projections + reactions) { error in
            guard case let AppendError.wrongExpectedVersion(_, _, current) = EventStore.appendError(error, streamID: streamID,
                                                                                                  expectedVersion: expected) else {
                return error
            }
            return conflict(current)
        }
        tx.afterCommit { EventStore.countAppended(newEvents.count) }
        return streamAfter.views.verification
    }

    /// Writes every read model of one verification, whatever its stored rows hold: the rebuild's write.
    static func project(_ tx: PostgresConnection, organizationID: UUID, _ loaded: LoadedVerification) throws {
        _ = try tx.pipeline(Projections.statements(before: nil, after: StreamState(organizationID: organizationID, loaded)))
    }
}
