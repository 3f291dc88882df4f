import Foundation
import LedgerDomain
import LedgerHTTP
import LedgerStorage

/// A verification as loaded from its stream.
struct LoadedVerification: Sendable {
    var id: String
    var state: VerificationState
    var version: Int64
    /// The verification object of this version as JSON text, when a command has already rendered it.
    var document: String? = nil
}

/// The imperative shell around the verification decider: load the stream, decide, append, project.
enum VerificationStore {
    /// Folds the stream, page by page; `lock` queues concurrent commands on the stream's row instead of
    /// failing them. With `asOf`, the fold stops at the first event after that time.
    static func load(_ connection: PostgresConnection, organizationID: UUID, id: String, lock: Bool = false,
                     asOf: Date? = nil) throws -> LoadedVerification? {
        var state = VerificationDecider.initialState
        var version: Int64 = 0
        try EventStore.forEachEvent(connection, organizationID: organizationID, streamID: id, lockingStream: lock) { recorded in
            if let asOf, recorded.occurredAt > asOf { return false }
            let event: VerificationEvent
            do {
                event = try VerificationEvent(type: recorded.type, data: recorded.data)
            } catch {
                throw StorageError.unreadableRow(table: "events", key: "\(recorded.position)")
            }
            state = VerificationDecider.evolve(state, event, at: recorded.occurredAt)
            version = recorded.version
            return true
        }
        return state.exists ? LoadedVerification(id: id, state: state, version: version) : nil
    }

    /// Runs one command; returns the verification after it and the events it produced (none for a no-op).
    /// The writes travel with the transaction's COMMIT; the state cache learns the result once it committed.
    static func execute(_ tx: PostgresConnection, context: RequestContext, id: String, command: VerificationCommand,
                        now: Date, actor: EventMetadata) throws -> (LoadedVerification, [VerificationEvent]) {
        let caller = try context.authenticated
        let expected = try ifMatch(context.request)
        let organizationID = caller.organizationID
        // Fast path: decide on the cached state without reading the stream; the append expects the cached
        // version, which a stale entry fails. A refusal or a no-op is decided again on the stream, so that it
        // never rests on a stale state.
        if context.mayUseCachedState, let cached = context.stateCache.get(organizationID: organizationID, id: id),
                  cached.state.invitation?.livemode == caller.livemode, expected == nil || expected == cached.version,
                  let events = try? VerificationDecider.decide(command, cached.state, now: now), !events.isEmpty {
            return (try record(tx, context: context, organizationID: organizationID, current: cached, events: events, now: now,
                               actor: actor, onConflict: expected == nil ? .runAgainFromStream : .refuse), events)
        }
        let existing: LoadedVerification?
        if case .invite = command {
            existing = nil
        } else {
            existing = try load(tx, organizationID: organizationID, id: id, lock: expected == nil)
            guard let existing, existing.state.invitation?.livemode == caller.livemode else {
                throw APIFailure.notFound("verification", id)
            }
            if let expected, expected != existing.version {
                throw APIFailure(status: 409, type: "invalid_request_error", code: "version_conflict",
                                 message: "the verification is at version \(existing.version), not \(expected)", param: "If-Match")
            }
        }
        let current = existing ?? LoadedVerification(id: id, state: VerificationDecider.initialState, version: 0)
        let events: [VerificationEvent]
        do {
            events = try VerificationDecider.decide(command, current.state, now: now)
        } catch {
            throw failure(error)
        }
        guard !events.isEmpty else {
            tx.afterCommit { context.stateCache.store(organizationID: organizationID, current) }
            return (current, [])
        }
        return (try record(tx, context: context, organizationID: organizationID, current: current, events: events, now: now,
                           actor: actor, onConflict: .refuse), events)
    }

    /// What a failed expected-version check of an append turns into.
    enum OnConflict {
        /// 409 `version_conflict`: the caller's own expectation (If-Match, or a stream read under lock) failed.
        case refuse
        /// The expectation came from the state cache, which was stale.
        case runAgainFromStream
    }

    private static func record(_ tx: PostgresConnection, context: RequestContext, organizationID: UUID, current: LoadedVerification,
                               events: [VerificationEvent], now: Date, actor: EventMetadata,
                               onConflict: OnConflict) throws -> LoadedVerification {
        var updated = current
        updated.state = VerificationDecider.evolve(updated.state, events, at: now)
        updated.version += Int64(events.count)
        let cache = context.stateCache
        updated.document = appendAndProject(tx, organizationID: organizationID, before: current, after: updated, events: events,
                                            now: now, actor: actor) { conflict in
            switch onConflict {
            case .refuse: return conflict
            case .runAgainFromStream:
                cache.remove(organizationID: organizationID, id: current.id)
                return StaleCachedState()
            }
        }
        let committed = updated
        tx.afterCommit { cache.store(organizationID: organizationID, committed) }
        return updated
    }

    /// Queues the append and the read-model writes to travel with the transaction's next round trip, and
    /// returns the verification document written. A failed expected-version check becomes a 409
    /// `version_conflict`, or what `conflict` makes of it. `rewritingDeadline`: the stored deadline may not be
    /// `before`'s (the expiry scheduler's claim moved it), so it is written even when the command left it as is.
    @discardableResult
    static func appendAndProject(_ tx: PostgresConnection, organizationID: UUID, before: LoadedVerification,
                                 after: LoadedVerification, events: [VerificationEvent], now: Date, actor: EventMetadata,
                                 rewritingDeadline: Bool = false,
                                 conflict: @escaping (APIFailure) -> Error = { $0 }) -> String {
        let expected: ExpectedVersion = before.version == 0 ? .noStream : .exact(before.version)
        let newEvents = events.map { NewEvent(id: UUID(), type: $0.type, data: $0.data, occurredAt: now) }
        let append = EventStore.appendStatement(organizationID: organizationID, streamID: after.id, expectedVersion: expected,
                                                events: newEvents, metadata: actor)
        let documents = Documents(after)
        let messages = Outbox.statements(organizationID: organizationID, before: before.state, after: after, documents: documents,
                                         causedBy: newEvents.last?.id, now: now)
        let streamID = after.id
        let statements = projection(organizationID: organizationID, after, documents,
                                    deadlineUnchanged: !rewritingDeadline && before.version > 0
                                        && deadline(before.state) == deadline(after.state))
        // Every statement here reaches its rows by key, so one generic plan each is right; left to itself,
        // PostgreSQL keeps planning the outbox statement again because its custom plans fold away the
        // branches that the parameters switch off.
        let genericPlans: PostgresStatement = ("SET LOCAL plan_cache_mode = force_generic_plan", [])
        tx.sendWithNextRoundTrip([genericPlans, append] + statements + messages) { error in
            guard case let AppendError.wrongExpectedVersion(_, _, current) = EventStore.appendError(error, streamID: streamID,
                                                                                                  expectedVersion: expected) else {
                return error
            }
            return conflict(APIFailure(status: 409, type: "invalid_request_error", code: "version_conflict",
                                       message: "the verification changed meanwhile (now at version \(current)); read it and retry",
                                       param: nil))
        }
        tx.afterCommit { EventStore.countAppended(newEvents.count) }
        return documents.verification
    }

    /// Writes the read models of one verification.
    static func project(_ tx: PostgresConnection, organizationID: UUID, _ loaded: LoadedVerification) throws {
        _ = try tx.pipeline(projection(organizationID: organizationID, loaded, Documents(loaded)))
    }

    /// The statements that bring the read models of one verification up to date.
    /// The verification and order objects as JSON text, made once per command for the read models and the outbox.
    struct Documents {
        let verification: String
        let order: String?

        init(_ loaded: LoadedVerification) {
            verification = Representations.verification(id: loaded.id, state: loaded.state, version: loaded.version).jsonString
            order = Representations.order(id: loaded.id, state: loaded.state)?.jsonString
        }
    }

    /// When the expiry scheduler should look at a verification: its own expiry or its open attempt's, whichever
    /// comes first; never once it is terminal.
    static func deadline(_ state: VerificationState) -> Date? {
        guard !state.isTerminal, let invitation = state.invitation else { return nil }
        let attempt = state.openAttempt.flatMap { $0.status.allowedNext.contains(.expired) ? $0.expiresAt : nil }
        return [invitation.expiresAt, attempt].compactMap { $0 }.min()
    }

    /// `deadlineUnchanged`: the stored deadline is already this state's (it was written with the state before).
    static func projection(organizationID: UUID, _ loaded: LoadedVerification, _ documents: Documents,
                           deadlineUnchanged: Bool = false) -> [PostgresStatement] {
        let state = loaded.state
        guard let invitation = state.invitation, let created = state.createdAt, let updated = state.updatedAt else { return [] }
        var statements: [PostgresStatement] = [("""
            INSERT INTO ledger.verifications (organization_id, id, livemode, version, status, entity_id, client_reference_id,
                                              package_id, created_at, updated_at, document)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
            ON CONFLICT (organization_id, id) DO UPDATE
            SET version = excluded.version, status = excluded.status, updated_at = excluded.updated_at, document = excluded.document
            WHERE ledger.verifications.version < excluded.version
            """, [organizationID, loaded.id, invitation.livemode, loaded.version, state.overallStatus.rawValue, invitation.entityID,
                  invitation.clientReferenceID, invitation.packageID, created, updated,
                  documents.verification])]
        if let order = documents.order, let status = state.orderStatus {
            statements.append(("""
                INSERT INTO ledger.orders (organization_id, id, livemode, status, score, package_id, entity_id, created_at,
                                           updated_at, document, version)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                ON CONFLICT (organization_id, id) DO UPDATE
                SET status = excluded.status, score = excluded.score, updated_at = excluded.updated_at, document = excluded.document,
                    version = excluded.version
                WHERE ledger.orders.version < excluded.version
                """, [organizationID, loaded.id, invitation.livemode, status.rawValue, Views.orderScore(state).rawValue,
                      invitation.packageID, invitation.entityID, state.orderOpenedAt ?? updated, updated, order, loaded.version]))
        }
        guard !deadlineUnchanged else { return statements }
        if let due = deadline(state) {
            statements.append(("""
                INSERT INTO ledger.verification_deadlines (organization_id, id, due_at) VALUES ($1, $2, $3)
                ON CONFLICT (organization_id, id) DO UPDATE SET due_at = excluded.due_at
                """, [organizationID, loaded.id, due]))
        } else {
            statements.append(("DELETE FROM ledger.verification_deadlines WHERE organization_id = $1 AND id = $2", [organizationID, loaded.id]))
        }
        return statements
    }

    /// `If-Match: "3"` (or 3, or W/"3"); nil when absent.
    static func ifMatch(_ request: HTTPRequest) throws -> Int64? {
        guard let header = request.header("If-Match") else { return nil }
        var text = Substring(header.trimmingCharacters(in: .whitespaces))
        if text.hasPrefix("W/") { text = text.dropFirst(2) }
        if text.count >= 2, text.hasPrefix("\""), text.hasSuffix("\"") { text = text.dropFirst().dropLast() }
        // Digits only (no sign), and Int64's failable parse: a version too large for it is refused, not wrapped.
        guard !text.isEmpty, text.utf8.allSatisfy({ (48...57).contains($0) }), let version = Int64(text) else {
            throw APIFailure.invalid("If-Match", "If-Match takes the ETag of a read, a version number like \"3\"")
        }
        return version
    }

    static func failure(_ error: VerificationError) -> APIFailure {
        switch error {
        case .notFound: return APIFailure.notFound("verification", "")
        case .alreadyExists:
            return APIFailure(status: 409, type: "invalid_request_error", code: "resource_exists", message: error.description, param: nil)
        case .invalidTransition:
            return APIFailure(status: 409, type: "invalid_request_error", code: "invalid_transition", message: error.description, param: nil)
        case let .invalidParameter(param, message): return APIFailure.invalid(param, message)
        case let .attemptNotFound(id): return APIFailure.notFound("attempt", id, param: "attempt_id")
        case let .disputeNotFound(id): return APIFailure.notFound("dispute", id, param: "dispute_id")
        }
    }
}
