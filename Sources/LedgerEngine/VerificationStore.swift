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
    /// Folds the stream, page by page, from its snapshot if it has one (a long stream; not with `asOf`, nor
    /// `fromSnapshot` false, as a rebuild from the log alone asks); `lock` queues concurrent commands on the
    /// stream's row instead of failing them. With `asOf`, the fold stops at the first event after that time. With a
    /// `vault`, personal data is decrypted under the entity's key as the database holds it now: once it is
    /// destroyed, the state (at any time) has none. Without one, a stream holding encrypted personal data does not fold.
    public static func load(_ connection: PostgresConnection, organizationID: UUID, id: String, lock: Bool = false,
                            asOf: Date? = nil, fromSnapshot: Bool = true, vault: PersonalDataVault? = nil) throws -> LoadedVerification? {
        var state = VerificationDecider.initialState
        var version: Int64 = 0
        var opener = StreamOpener(organizationID: organizationID, vault: vault)
        if fromSnapshot, asOf == nil,
           let snapshot = try self.snapshot(connection, organizationID: organizationID, id: id, opener: &opener) {
            (state, version) = snapshot
        }
        try EventStore.forEachEvent(connection, organizationID: organizationID, streamID: id, afterVersion: version,
                                    lockingStream: lock) { recorded in
            if let asOf, recorded.occurredAt > asOf { return false }
            let data = try opener.open(connection, type: recorded.type, data: recorded.data, eventID: recorded.id, state: state)
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
        state = opener.finished(state)
        return state.exists ? LoadedVerification(id: id, state: state, version: version) : nil
    }

    /// The stream's snapshot, unless it has none, it does not decode, or its personal data is sealed under a key
    /// this connection cannot read (then the stream is folded whole).
    static func snapshot(_ connection: PostgresConnection, organizationID: UUID, id: String,
                         opener: inout StreamOpener) throws -> (VerificationState, Int64)? {
        let rows = try connection.query("SELECT version, state FROM ledger.stream_snapshots WHERE organization_id = $1 AND id = $2",
                                        [organizationID, id])
        guard rows.count == 1, let version = rows.int64(0, 0), let text = rows.string(0, 1),
              let stored = SnapshotsProjection.decode(text) else { return nil }
        guard text.contains(PersonalDataEnvelope.member) else { return (stored, version) }
        guard let vault = opener.vault, let invitation = stored.invitation else { return nil }
        let owner = DataKeyOwner(organizationID: organizationID, entityID: invitation.entityID)
        let key = try vault.key(connection, owner, livemode: invitation.livemode)
        guard let opened = try? vault.openDocument(text, documentID: SnapshotsProjection.documentID(id), owner: owner, key: key),
              let state = SnapshotsProjection.decode(opened) else { return nil }
        opener.entity = (owner, key)
        return (state, version)
    }

    /// Queues the append, the read-model writes and the reactions to travel with the transaction's next
    /// round trip, and returns the verification document written. A failed expected-version check becomes
    /// what `conflict` makes of the stream's current version. `rewritingReadModels`: the stored rows may not be
    /// `before`'s (the expiry scheduler's claim moved its deadline), so every row is written. The check of `sealing`'s
    /// kept key, if it has one, is sent here.
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
        // The kept data key's check ends the read-model statement rather than being a statement of its own.
        let projections = Projections.combined(Projections.statements(before: rewritingReadModels ? nil : streamBefore, after: streamAfter),
                                               then: sealing?.check?.statement)
        let reactions = Reactions.inline.flatMap { $0.statements(before: streamBefore, after: streamAfter, causedBy: newEvents.last?.id, now: now) }
        let streamID = after.id
        // Every statement here reaches its rows by key, so one generic plan each is right; left to itself,
        // PostgreSQL keeps planning the outbox statement again because its custom plans fold away the
        // branches that the parameters switch off.
        tx.setForTransaction("plan_cache_mode", ("SET LOCAL plan_cache_mode = force_generic_plan", []))
        let keyCheck = sealing?.check
        tx.sendWithNextRoundTrip([append] + projections + reactions) { error in
            guard case let AppendError.wrongExpectedVersion(_, _, current) = EventStore.appendError(error, streamID: streamID,
                                                                                                  expectedVersion: expected) else {
                return keyCheck?.mapError(error) ?? error
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

/// Opens a stream's personal data as its events are folded: under the entity's key as the database holds it now
/// (found with the first event that carries personal data), or, once that key is destroyed, without it.
struct StreamOpener {
    let organizationID: UUID
    let vault: PersonalDataVault?
    /// Where the entity's key is read from: the database, or a replay's keys read once per entity.
    let keys: ReplayKeys?
    var entity: (owner: DataKeyOwner, key: PersonalDataKey)?

    init(organizationID: UUID, vault: PersonalDataVault?, keys: ReplayKeys? = nil) {
        self.organizationID = organizationID
        self.vault = vault
        self.keys = keys
    }

    /// The event's data as the fold reads it; `state` is the fold so far.
    mutating func open(_ connection: PostgresConnection, type: String, data stored: JSONValue, eventID: UUID,
                       state: VerificationState) throws -> JSONValue {
        guard PersonalDataPolicy.verification.carriesPersonalData(eventType: type) else { return stored }
        if entity == nil, let entityID = state.invitation?.entityID ?? stored["entity_id"]?.stringValue,
           let livemode = state.invitation?.livemode ?? stored["livemode"]?.boolValue {
            let owner = DataKeyOwner(organizationID: organizationID, entityID: entityID)
            entity = (owner, try keys?.key(connection, owner, livemode: livemode) ?? vault?.key(connection, owner, livemode: livemode) ?? .notIssued)
        }
        guard let entity else { return stored }
        let context = PersonalDataContext(organizationID: organizationID, entityID: entity.owner.entityID, eventID: eventID)
        // The entity's key is not in this transaction's scope (a stream of the other mode, which the caller is
        // about to refuse): the stream is read without its personal data.
        let key: PersonalDataKey
        if case .notIssued = entity.key, vault != nil, stored[PersonalDataEnvelope.member] != nil { key = .erased } else { key = entity.key }
        return try PersonalDataEnvelope.open(eventType: type, stored: stored, context: context, key: key)
    }

    /// The folded state, its personal data gone when the entity's key is destroyed.
    func finished(_ state: VerificationState) -> VerificationState {
        guard case .erased? = entity?.key, !state.personalDataErased else { return state }
        var erased = state.personalDataRemoved
        erased.personalDataErased = true
        return erased
    }
}
