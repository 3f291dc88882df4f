import Foundation
import LedgerCrypto
import LedgerDomain
import LedgerStorage

/// One command for one verification stream, as every caller states it (a REST resource, the expiry job,
/// and whatever comes next); no transport in it.
public struct CommandRequest: Sendable {
    public var organizationID: UUID
    /// Live or test mode: a stream of the other mode is not found.
    public var livemode: Bool
    public var streamID: String
    /// Decided in turn, each on the state the previous left, and appended together (the expiry job expires
    /// an attempt, then the verification); most callers give one.
    public var commands: [VerificationCommand]
    /// The version the caller last saw; nil to decide on whatever is latest.
    public var expectedVersion: Int64?
    public var actor: EventMetadata
    /// Makes the event ids a function of this seed, so that the same delivery recorded twice appends once:
    /// the second time finds its first event already in the log and appends nothing.
    public var idempotencySeed: String?
    /// The time the events are recorded at.
    public var now: Date
    /// The caller changed this stream's read rows itself (the expiry job's claim moves its deadline), so they
    /// are written again even where the command leaves them as they were, and by a no-op too.
    public var rewritingReadModels: Bool

    public init(organizationID: UUID, livemode: Bool, streamID: String, commands: [VerificationCommand],
                expectedVersion: Int64? = nil, actor: EventMetadata, idempotencySeed: String? = nil, now: Date,
                rewritingReadModels: Bool = false) {
        self.organizationID = organizationID
        self.livemode = livemode
        self.streamID = streamID
        self.commands = commands
        self.expectedVersion = expectedVersion
        self.actor = actor
        self.idempotencySeed = idempotencySeed
        self.now = now
        self.rewritingReadModels = rewritingReadModels
    }

    public init(organizationID: UUID, livemode: Bool, streamID: String, command: VerificationCommand,
                expectedVersion: Int64? = nil, actor: EventMetadata, idempotencySeed: String? = nil, now: Date) {
        self.init(organizationID: organizationID, livemode: livemode, streamID: streamID, commands: [command],
                  expectedVersion: expectedVersion, actor: actor, idempotencySeed: idempotencySeed, now: now)
    }

    /// The id of the `index`th event this request appends under its seed.
    static func eventID(seed: String, index: Int) -> UUID { Digest.uuid(fromSeed: "\(seed)/\(index)") }
}

/// What a command did.
public struct CommandOutcome: Sendable {
    /// The verification after the command (as it was, for a no-op).
    public var verification: LoadedVerification
    /// The events appended, in order; none for a no-op or a repeat.
    public var events: [VerificationEvent]
    public var eventIDs: [UUID]
    /// The request's seed named events already in the log: it was recorded before, and nothing was appended.
    public var repeated: Bool
}

/// Why a command was not recorded.
public enum CommandError: Error, Equatable, CustomStringConvertible {
    /// No such verification in this organization and mode.
    case streamNotFound(String)
    /// The caller's expected version is not the stream's.
    case expectedVersionMismatch(expected: Int64, current: Int64)
    /// Another writer appended between this command's read and its append.
    case changedMeanwhile(current: Int64)
    /// The decider does not allow the command.
    case refused(VerificationError)

    public var description: String {
        switch self {
        case let .streamNotFound(id): return "no verification \(id)"
        case let .expectedVersionMismatch(expected, current): return "the verification is at version \(current), not \(expected)"
        case let .changedMeanwhile(current): return "the verification changed meanwhile (now at version \(current))"
        case let .refused(error): return error.description
        }
    }
}

/// The one command path: decide on the latest state (cached, or read from the stream under its lock), append
/// with the expected version, write the read models and queue the webhooks, all in the command's transaction.
public final class CommandEngine: Sendable {
    public let pool: ConnectionPool
    let stateCache: VerificationStateCache
    /// Encrypts personal data before it is appended or projected, and decrypts it in folds; nil: encryption off.
    public let vault: PersonalDataVault?

    /// - Parameter stateCacheSize: verifications whose latest committed state a command may decide on without
    ///   reading the stream; 0 reads every stream.
    public init(pool: ConnectionPool, stateCacheSize: Int, vault: PersonalDataVault? = nil) {
        self.pool = pool
        stateCache = VerificationStateCache(capacity: stateCacheSize)
        self.vault = vault
    }

    func sealing(_ tx: PostgresConnection, organizationID: UUID, _ state: VerificationState,
                 offeringKey: Bool = false, checkSentByWriter: Bool = false) throws -> StreamSealing? {
        try StreamSealing.writing(tx, vault: vault, organizationID: organizationID, state, offeringKey: offeringKey,
                                  checkSentByWriter: checkSentByWriter)
    }

    /// Runs `request` in a transaction of its own, under its organization and mode (row-level security).
    @discardableResult
    public func execute(_ request: CommandRequest) throws -> CommandOutcome {
        try execute({ request }, inTransaction: {
            try pool.transaction(scope: .tenant(organizationID: request.organizationID, livemode: request.livemode), $0)
        }, answer: { outcome, _ in outcome })
    }

    /// Runs a command in a transaction that `open` provides, for callers that keep something of their own in
    /// it: `open` runs its body in a transaction (or answers without running it, as an idempotent replay
    /// does); `request` is made once, inside the first transaction; `answer` turns the outcome into what the
    /// caller keeps, in the same transaction.
    ///
    /// A command decided on a cached state that turned out stale (its append, sent with the commit, failed
    /// its expected version) runs once more, in a new transaction, from the stream; so does one that sealed under a
    /// kept data key that another instance destroyed meanwhile, and an invitation whose new key met a stored one.
    public func execute<Answer>(_ request: @escaping () throws -> CommandRequest,
                                inTransaction open: ((PostgresConnection) throws -> Answer) throws -> Answer,
                                answer: @escaping (CommandOutcome, PostgresConnection) throws -> Answer) throws -> Answer {
        var made: CommandRequest?
        var mayUseCachedState = true, keyReadAfresh = false
        while true {
            do {
                return try open { tx in
                    let command = try made ?? Self.atStoredPrecision(try request())
                    made = command
                    return try answer(try run(tx, command, mayUseCachedState: mayUseCachedState, mayOfferKey: !keyReadAfresh), tx)
                }
            } catch is StaleCachedState where mayUseCachedState {
                mayUseCachedState = false
            } catch let error where (error is DataKeyDestroyedMeanwhile || error is DataKeyStoredMeanwhile) && !keyReadAfresh {
                // The vault dropped the kept key, or the entity had one where the command offered a new one: the command
                // runs again, its key read from the database.
                keyReadAfresh = true
            }
        }
    }

    /// The request with its time as the log will give it back (PostgreSQL keeps microseconds), so that the
    /// state a command leaves is the state its stream folds to.
    static func atStoredPrecision(_ request: CommandRequest) -> CommandRequest {
        var stored = request
        stored.now = Timestamp.parse(PostgresTimestamp.format(request.now)) ?? request.now
        return stored
    }

    /// `commands` decided on `state`, and the state after the events as the log will give them back: each
    /// goes through its codec, which keeps times to the millisecond, so that the cache, the read models and
    /// the answer hold what a fold of the stream holds.
    static func decide(_ commands: [VerificationCommand], _ state: VerificationState,
                       now: Date) throws -> (events: [VerificationEvent], state: VerificationState) {
        let events = try VerificationDecider.run(commands, state, now: now).events
        let stored = try events.map { try VerificationEvent(type: $0.type, schemaVersion: $0.schemaVersion, data: $0.data) }
        return (stored, VerificationDecider.evolve(state, stored, at: now))
    }

    /// `mayOfferKey`: a new stream's first command may store its entity's new data key with its writes (see
    /// `PersonalDataVault.keyForWriting`, `offering`) rather than read or store it in a round trip of its own.
    private func run(_ tx: PostgresConnection, _ request: CommandRequest, mayUseCachedState: Bool, mayOfferKey: Bool) throws -> CommandOutcome {
        let organizationID = request.organizationID, id = request.streamID, expected = request.expectedVersion
        // Fast path: decide on the cached state without reading the stream; the append expects the cached
        // version, which a stale entry fails. A refusal or a no-op is decided again on the stream, so that it
        // never rests on a stale state. A seeded request reads the stream, where its earlier delivery is, and
        // one rewriting read models reads it under lock before it writes them.
        if mayUseCachedState, request.idempotencySeed == nil, !request.rewritingReadModels,
           let cached = stateCache.get(organizationID: organizationID, id: id), cached.state.invitation?.livemode == request.livemode,
           expected == nil || expected == cached.version,
           let decided = try? Self.decide(request.commands, cached.state, now: request.now), !decided.events.isEmpty {
            return try record(tx, request, before: cached, events: decided.events, after: decided.state,
                          onConflict: expected == nil ? .runAgainFromStream : .refuse)
        }
        let existing: LoadedVerification?
        if case .invite? = request.commands.first {
            existing = nil
        } else {
            existing = try VerificationStore.load(tx, organizationID: organizationID, id: id, lock: expected == nil, vault: vault)
            guard let existing, existing.state.invitation?.livemode == request.livemode else { throw CommandError.streamNotFound(id) }
            if let expected, expected != existing.version {
                throw CommandError.expectedVersionMismatch(expected: expected, current: existing.version)
            }
        }
        if let seed = request.idempotencySeed,
           try tx.query("SELECT 1 FROM ledger.events WHERE organization_id = $1 AND event_id = $2",
                        [organizationID, CommandRequest.eventID(seed: seed, index: 0)]).count > 0 {
            guard let recorded = try existing ?? VerificationStore.load(tx, organizationID: organizationID, id: id, vault: vault) else {
                throw CommandError.streamNotFound(id)
            }
            return CommandOutcome(verification: recorded, events: [], eventIDs: [], repeated: true)
        }
        let current = existing ?? LoadedVerification(id: id, state: VerificationDecider.initialState, version: 0)
        let decided: (events: [VerificationEvent], state: VerificationState)
        do {
            decided = try Self.decide(request.commands, current.state, now: request.now)
        } catch let error as VerificationError {
            throw CommandError.refused(error)
        }
        guard !decided.events.isEmpty else {
            if request.rewritingReadModels {
                try VerificationStore.project(tx, organizationID: organizationID, current,
                                              sealing: try sealing(tx, organizationID: organizationID, current.state))
            }
            let cache = stateCache
            tx.afterCommit { cache.store(organizationID: organizationID, current) }
            return CommandOutcome(verification: current, events: [], eventIDs: [], repeated: false)
        }
        return try record(tx, request, before: current, events: decided.events, after: decided.state, onConflict: .refuse,
                          offeringKey: mayOfferKey && current.version == 0)
    }

    /// What a failed expected-version check of an append turns into.
    private enum OnConflict {
        /// The caller's own expectation (its expected version, or a stream read under lock) failed.
        case refuse
        /// The expectation came from the state cache, which was stale.
        case runAgainFromStream
    }

    private func record(_ tx: PostgresConnection, _ request: CommandRequest, before: LoadedVerification, events: [VerificationEvent],
                        after: VerificationState, onConflict: OnConflict, offeringKey: Bool = false) throws -> CommandOutcome {
        let organizationID = request.organizationID
        var updated = before
        updated.state = after
        updated.version += Int64(events.count)
        let eventIDs = events.indices.map { index in request.idempotencySeed.map { CommandRequest.eventID(seed: $0, index: index) } ?? UUID() }
        let cache = stateCache
        updated.document = try VerificationStore.appendAndProject(tx, organizationID: organizationID, before: before, after: updated,
                                                                  events: events, eventIDs: eventIDs, now: request.now, actor: request.actor,
                                                                  rewritingReadModels: request.rewritingReadModels,
                                                                  sealing: try sealing(tx, organizationID: organizationID, after,
                                                                                       offeringKey: offeringKey, checkSentByWriter: true)) { current in
            switch onConflict {
            case .refuse: return CommandError.changedMeanwhile(current: current)
            case .runAgainFromStream:
                cache.remove(organizationID: organizationID, id: before.id)
                return StaleCachedState()
            }
        }
        let committed = updated
        tx.afterCommit { cache.store(organizationID: organizationID, committed) }
        return CommandOutcome(verification: updated, events: events, eventIDs: eventIDs, repeated: false)
    }
}
