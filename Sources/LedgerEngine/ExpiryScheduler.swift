import Foundation
import LedgerDomain
import LedgerLog
import LedgerStorage
import Synchronization

/// Expires verifications and attempts whose deadline passed, and ends approvals whose validity is over, as the
/// `system` actor.
///
/// A pass first claims what is due in a short transaction of its own: it moves each claimed deadline
/// `retryDelay` ahead, so several service instances share the work without doing it twice, and a
/// verification whose handling fails (or whose instance dies meanwhile) is due again after that delay rather
/// than at once, ahead of everything else. Then each claimed verification is handled in a transaction of its
/// own, which locks its stream before it writes its deadline, in the order commands take them, so that the
/// scheduler and commands never deadlock; one that fails is logged and counted, and blocks no other.
public final class ExpiryScheduler: Sendable {
    private let engine: CommandEngine
    private var pool: ConnectionPool { engine.pool }
    private let clock: @Sendable () -> Date
    private let retryDelay: Double

    private static let failed = Atomic<Int>(0)

    /// Verifications whose expiry failed in this process (each is tried again later).
    public static var failures: Int { failed.load(ordering: .relaxed) }

    /// - Parameter retryDelay: seconds after which a claimed verification is due again if its handling failed.
    /// Runs its commands through `engine`, whose state cache then learns what it changed.
    public init(engine: CommandEngine, clock: @escaping @Sendable () -> Date = { Date() }, retryDelay: Double = 300) {
        self.engine = engine
        self.clock = clock
        self.retryDelay = max(1, retryDelay)
    }

    /// With an engine of its own, which keeps no states.
    public convenience init(pool: ConnectionPool, clock: @escaping @Sendable () -> Date = { Date() }, retryDelay: Double = 300) {
        self.init(engine: CommandEngine(pool: pool, stateCacheSize: 0), clock: clock, retryDelay: retryDelay)
    }

    /// Handles what is due now, up to `batch` verifications; returns how many it changed. Throws only when
    /// nothing could be claimed (the database is unreachable); a verification that fails is skipped.
    @discardableResult
    public func runOnce(batch: Int = 100) throws -> Int {
        let now = clock()
        var changed = 0
        for (organizationID, id, livemode) in try claim(now: now, batch: batch) {
            do {
                if try expire(organizationID: organizationID, id: id, livemode: livemode, now: now) { changed += 1 }
            } catch {
                Self.failed.add(1, ordering: .relaxed)
                Log.warning("expiring a verification failed; it is due again later", [
                    "org_id": .string(organizationID.uuidString.lowercased()), "verification_id": .string(id),
                    "error": .string(Self.summary(error)), "retry_in_seconds": .double(retryDelay),
                ])
            }
        }
        return changed
    }

    /// The verifications due at `now`, oldest deadline first, with their mode (nil for a deadline whose
    /// verification has no read row: nothing to expire); their deadlines move `retryDelay` ahead.
    /// Rows locked by a command writing them are skipped (they are being rewritten anyway), so a claim
    /// never waits for anything.
    private func claim(now: Date, batch: Int) throws -> [(UUID, String, Bool?)] {
        let rows = try pool.transaction(scope: .system) { tx in
            try tx.query("""
                WITH due AS (
                    SELECT organization_id, id, due_at FROM ledger.verification_deadlines
                    WHERE due_at <= $1 ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED
                ), claimed AS (
                    UPDATE ledger.verification_deadlines d SET due_at = $3
                    FROM due WHERE d.organization_id = due.organization_id AND d.id = due.id
                    RETURNING d.organization_id, d.id, due.due_at
                )
                SELECT c.organization_id, c.id, v.livemode FROM claimed c
                LEFT JOIN ledger.verifications v ON v.organization_id = c.organization_id AND v.id = c.id
                ORDER BY c.due_at
                """, [now, batch, now.addingTimeInterval(retryDelay)])
        }
        return (0..<rows.count).compactMap { row in
            guard let organizationID = rows.uuid(row, 0), let id = rows.string(row, 1) else { return nil }
            return (organizationID, id, rows.bool(row, 2))
        }
    }

    /// Expires what is due of one verification through the engine; true when that changed it. The engine
    /// locks its stream first and writes its deadline again either way (the claim moved it).
    private func expire(organizationID: UUID, id: String, livemode: Bool?, now: Date) throws -> Bool {
        let request = livemode.map {
            CommandRequest(organizationID: organizationID, livemode: $0, streamID: id, commands: [.expireAttempt, .expire, .endValidity],
                           actor: EventMetadata(actorID: "expiry-scheduler", actorType: .system), now: now, rewritingReadModels: true)
        }
        do {
            guard let request else { throw CommandError.streamNotFound(id) }
            return try !engine.execute(request).events.isEmpty
        } catch CommandError.streamNotFound {
            _ = try pool.transaction(scope: .organization(organizationID)) {
                try $0.query("DELETE FROM ledger.verification_deadlines WHERE organization_id = $1 AND id = $2", [organizationID, id])
            }
            return false
        }
    }

    /// What went wrong, without anything a row or a statement carried (which may be personal data).
    private static func summary(_ error: Error) -> String {
        switch error {
        case let error as StorageError: return error.description
        case let error as PostgresError: return error.sqlState.map { "PostgreSQL error \($0)" } ?? "PostgreSQL unavailable"
        default: return String(describing: type(of: error))
        }
    }

    /// Runs `runOnce` every `interval` seconds on a thread of its own until the process ends.
    public func start(interval: Double) {
        let thread = Thread { [self] in
            while true {
                do {
                    while try runOnce() > 0 {}
                } catch {
                    Log.warning("expiry scheduler pass failed", ["error": .string(Self.summary(error))])
                }
                Thread.sleep(forTimeInterval: interval)
            }
        }
        thread.name = "ledger-expiry"
        thread.start()
    }
}
