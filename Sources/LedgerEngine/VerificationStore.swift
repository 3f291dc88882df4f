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
    /// Folds the stream, page by page; `lock` queues concurrent commands on the stream's row instead of
    /// failing them. With `asOf`, the fold stops at the first event after that time.
    public static func load(_ connection: PostgresConnection, organizationID: UUID, id: String, lock: Bool = false,
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

    /// Queues the append and the read-model writes to travel with the transaction's next round trip, and
    /// returns the verification document written. A failed expected-version check becomes what `conflict`
    /// makes of the stream's current version. `rewritingDeadline`: the stored deadline may not be `before`'s
    /// (the expiry scheduler's claim moved it), so it is written even when the command left it as is.
    static func appendAndProject(_ tx: PostgresConnection, organizationID: UUID, before: LoadedVerification,
                                 after: LoadedVerification, events: [VerificationEvent], eventIDs: [UUID], now: Date,
                                 actor: EventMetadata, rewritingDeadline: Bool,
                                 conflict: @escaping (_ currentVersion: Int64) -> Error) -> String {
        let expected: ExpectedVersion = before.version == 0 ? .noStream : .exact(before.version)
        let newEvents = zip(eventIDs, events).map { NewEvent(id: $0, type: $1.type, data: $1.data, occurredAt: now) }
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
            return conflict(current)
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
}
