import Foundation
import LedgerDomain
import LedgerLog
import LedgerStorage

/// What one run of a provider's steps recorded.
public struct ProviderRunOutcome: Sendable {
    /// The verification after the run.
    public var verification: LoadedVerification
    /// The steps that appended events this time, and those events' types, in order.
    public var appendedSteps: Int
    public var eventTypes: [String]
    /// Why the run stopped before the provider's last step: it waits for the verification's deadline (the
    /// expiry scheduler takes it from there), or the verification no longer allows it (an admin ended it).
    public var stoppedAt: Stop?

    public enum Stop: Sendable, Equatable {
        case deadline
        case refused(String)
    }
}

/// Drives verifications through their providers' steps, each a command of the `provider` actor through the
/// engine, in a transaction of its own, under a seed made of the verification and the step's position:
/// running the steps again (a sync, a repeated delivery) appends only those not yet in the log.
public final class ProviderRunner: Sendable {
    private let engine: CommandEngine
    private let providers: [String: any VerificationProvider]
    private let clock: @Sendable () -> Date
    /// Seconds between two steps of a background run (0: one after the other).
    private let stepDelay: Double

    public init(engine: CommandEngine, providers: [any VerificationProvider], clock: @escaping @Sendable () -> Date = { Date() },
                stepDelay: Double = 0) {
        self.engine = engine
        self.providers = Dictionary(providers.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.clock = clock
        self.stepDelay = max(0, stepDelay)
    }

    public func provides(_ name: String) -> Bool { providers[name] != nil }

    /// The seed of the step at `index` of a verification's provider run.
    static func seed(provider: String, verificationID: String, index: Int) -> String { "provider/\(provider)/\(verificationID)/\(index)" }

    /// Runs every step of the verification's provider now, in order; nil when it has no provider this runner
    /// knows. `delay` seconds pass before each step that appends.
    public func run(organizationID: UUID, livemode: Bool, verificationID: String, delay: Double = 0) throws -> ProviderRunOutcome? {
        guard let loaded = try engine.pool.transaction(scope: .tenant(organizationID: organizationID, livemode: livemode), {
            try VerificationStore.load($0, organizationID: organizationID, id: verificationID)
        }), let invitation = loaded.state.invitation, invitation.livemode == livemode,
              let provider = providers[invitation.provider], let startedAt = loaded.state.createdAt else { return nil }
        let actor = EventMetadata(actorID: provider.name, actorType: .provider)
        var outcome = ProviderRunOutcome(verification: loaded, appendedSteps: 0, eventTypes: [], stoppedAt: nil)
        for (index, step) in provider.steps(verificationID: verificationID, invitation: invitation, startedAt: startedAt).enumerated() {
            if step.atDeadline {
                outcome.stoppedAt = .deadline
                break
            }
            let seed = Self.seed(provider: provider.name, verificationID: verificationID, index: index)
            if delay > 0, try !recorded(organizationID: organizationID, livemode: livemode, seed: seed) {
                Thread.sleep(forTimeInterval: delay)
            }
            let request = CommandRequest(organizationID: organizationID, livemode: livemode, streamID: verificationID,
                                         command: step.command, actor: actor, idempotencySeed: seed, now: clock())
            do {
                let result = try engine.execute(request)
                outcome.verification = result.verification
                if !result.events.isEmpty {
                    outcome.appendedSteps += 1
                    outcome.eventTypes += result.events.map(\.type)
                }
            } catch let CommandError.refused(error) {
                outcome.stoppedAt = .refused(error.description)
                break
            }
        }
        return outcome
    }

    /// Whether the step of this seed is in the log already (a background run sleeps only before new steps).
    private func recorded(organizationID: UUID, livemode: Bool, seed: String) throws -> Bool {
        try engine.pool.transaction(scope: .tenant(organizationID: organizationID, livemode: livemode)) {
            try $0.query("SELECT 1 FROM ledger.events WHERE organization_id = $1 AND event_id = $2",
                         [organizationID, CommandRequest.eventID(seed: seed, index: 0)]).count > 0
        }
    }

    /// Runs the steps on a thread of its own, `stepDelay` apart; a failure is logged (a sync takes it up again).
    public func start(organizationID: UUID, livemode: Bool, verificationID: String) {
        let delay = stepDelay
        let thread = Thread { [self] in
            do {
                _ = try run(organizationID: organizationID, livemode: livemode, verificationID: verificationID, delay: delay)
            } catch {
                Log.warning("a provider run stopped; a sync takes it up again", [
                    "org_id": .string(organizationID.uuidString.lowercased()), "verification_id": .string(verificationID),
                    "error": .string(String(describing: type(of: error))),
                ])
            }
        }
        thread.name = "ledger-provider"
        thread.start()
    }
}
