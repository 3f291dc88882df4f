import Foundation
import LedgerCrypto
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
    /// Folds the stream, page by page; `lock` queues concurrent commands on the stream's row instead of
    /// failing them. With `asOf`, the fold stops at the first event after that time. With a `vault`, personal data
    /// is decrypted under the entity's key as the database holds it now: once it is destroyed, the state (at any
    /// time) has none. Without one, a stream holding encrypted personal data does not fold.
    public static func load(_ connection: PostgresConnection, organizationID: UUID, id: String, lock: Bool = false,
                            asOf: Date? = nil, vault: PersonalDataVault? = nil) throws -> LoadedVerification? {
        var state = VerificationDecider.initialState
        var version: Int64 = 0
        var entity: (owner: DataKeyOwner, key: PersonalDataKey)?
        try EventStore.forEachEvent(connection, organizationID: organizationID, streamID: id, lockingStream: lock) { recorded in
            if let asOf, recorded.occurredAt > asOf { return false }
            var data = recorded.data
            if PersonalDataPolicy.verification.carriesPersonalData(eventType: recorded.type) {
                if entity == nil, let entityID = state.invitation?.entityID ?? data["entity_id"]?.stringValue,
                   let livemode = state.invitation?.livemode ?? data["livemode"]?.boolValue {
                    let owner = DataKeyOwner(organizationID: organizationID, entityID: entityID)
                    entity = (owner, try vault?.key(connection, owner, livemode: livemode) ?? .notIssued)
                }
                if let entity {
                    let context = PersonalDataContext(organizationID: organizationID, entityID: entity.owner.entityID, eventID: recorded.id)
                    do {
                        data = try PersonalDataEnvelope.open(eventType: recorded.type, stored: data, context: context, key: entity.key)
                    } catch PersonalDataError.keyMissing where vault != nil {
                        // The entity's key is not in this transaction's scope (a stream of the other mode, which the
                        // caller is about to refuse): the stream is read without its personal data.
                        data = try PersonalDataEnvelope.open(eventType: recorded.type, stored: data, context: context, key: .erased)
                    }
                }
            }
            let event: VerificationEvent
            do {
                event = try VerificationEvent(type: recorded.type, schemaVersion: recorded.schemaVersion, data: data)
            } catch {
                throw StorageError.unreadableRow(table: "events", key: "\(recorded.position)")
            }
            state = VerificationDecider.evolve(state, event, at: recorded.occurredAt)
            version = recorded.version
            return true
        }
        if case .erased? = entity?.key, !state.personalDataErased {
            state = state.personalDataRemoved
            state.personalDataErased = true
        }
        return state.exists ? LoadedVerification(id: id, state: state, version: version) : nil
    }

    /// Queues the append, the read-model writes and the reactions to travel with the transaction's next
    /// round trip, and returns the verification document written. A failed expected-version check becomes
    /// what `conflict` makes of the stream's current version. `rewritingReadModels`: the stored rows may not be
    /// `before`'s (the expiry scheduler's claim moved its deadline), so every row is written.
    static func appendAndProject(_ tx: PostgresConnection, organizationID: UUID, before: LoadedVerification,
                                 after: LoadedVerification, events: [VerificationEvent], eventIDs: [UUID], now: Date,
                                 actor: EventMetadata, rewritingReadModels: Bool, sealing: StreamSealing? = nil,
                                 conflict: @escaping (_ currentVersion: Int64) -> Error) throws -> String {
        let expected: ExpectedVersion = before.version == 0 ? .noStream : .exact(before.version)
        let newEvents = try zip(eventIDs, events).map { id, event in
            let data = try sealing.map {
                try $0.vault.seal(eventType: event.type, data: event.data, eventID: id, owner: $0.owner, key: $0.key)
            } ?? event.data
            return NewEvent(id: id, type: event.type, schemaVersion: event.schemaVersion, data: data, occurredAt: now)
        }
        let append = EventStore.appendStatement(organizationID: organizationID, streamID: after.id, expectedVersion: expected,
                                                events: newEvents, metadata: actor)
        let streamBefore = StreamState(organizationID: organizationID, before, sealing: sealing)
        let streamAfter = StreamState(organizationID: organizationID, after, sealing: sealing)
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
        return streamAfter.views.shownVerification
    }

    /// Writes every read model of one verification, whatever its stored rows hold: the rebuild's write.
    static func project(_ tx: PostgresConnection, organizationID: UUID, _ loaded: LoadedVerification, sealing: StreamSealing? = nil) throws {
        _ = try tx.pipeline(Projections.statements(before: nil, after: StreamState(organizationID: organizationID, loaded, sealing: sealing)))
    }
}
