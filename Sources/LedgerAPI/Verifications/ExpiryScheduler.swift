import Foundation
import LedgerDomain
import LedgerLog
import LedgerStorage

/// Expires verifications and attempts whose deadline passed, as the `system` actor.
///
/// Due rows are claimed with `FOR UPDATE SKIP LOCKED`, so several service instances share the work without
/// doing it twice; the decider makes a repeat a no-op anyway.
public final class ExpiryScheduler: Sendable {
    private let pool: ConnectionPool
    private let clock: @Sendable () -> Date

    public init(pool: ConnectionPool, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.pool = pool
        self.clock = clock
    }

    /// Handles what is due now, up to `batch` verifications; returns how many it changed.
    @discardableResult
    public func runOnce(batch: Int = 100) throws -> Int {
        let now = clock()
        return try pool.transaction { tx in
            let due = try tx.query("""
                SELECT organization_id, id FROM ledger.verification_deadlines
                WHERE due_at <= $1 ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED
                """, [now, batch])
            var changed = 0
            for row in 0..<due.count {
                guard let organization = due.uuid(row, 0), let id = due.string(row, 1) else { continue }
                guard let before = try VerificationStore.load(tx, organizationID: organization, id: id, lock: true) else { continue }
                var loaded = before
                var events: [VerificationEvent] = []
                for command in [VerificationCommand.expireAttempt, .expire] {
                    let produced = (try? VerificationDecider.decide(command, loaded.state, now: now)) ?? []
                    for event in produced { loaded.state = VerificationDecider.evolve(loaded.state, event, at: now) }
                    events += produced
                }
                if events.isEmpty {
                    try VerificationStore.project(tx, organizationID: organization, loaded)
                } else {
                    loaded.version += Int64(events.count)
                    VerificationStore.appendAndProject(tx, organizationID: organization, before: before, after: loaded, events: events,
                                                       now: now, actor: EventMetadata(actorID: "expiry-scheduler", actorType: .system))
                    changed += 1
                }
            }
            return changed
        }
    }

    /// Runs `runOnce` every `interval` seconds on a thread of its own until the process ends.
    public func start(interval: Double) {
        let thread = Thread { [self] in
            while true {
                do {
                    while try runOnce() > 0 {}
                } catch {
                    Log.warning("expiry scheduler pass failed", ["error": .string("\(error)")])
                }
                Thread.sleep(forTimeInterval: interval)
            }
        }
        thread.name = "ledger-expiry"
        thread.start()
    }
}
