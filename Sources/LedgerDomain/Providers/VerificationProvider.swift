import Foundation

/// A verification provider as the seed-003 create and the seed-004 sync call it: starting a check hands it the
/// invitation, and its result is what it has done with the verification, step by step, as commands of the
/// `provider` actor. Reading the result again gives the same steps in the same order, so the caller can
/// record each one under a seed of its own and a step delivered twice appends once.
public protocol VerificationProvider: Sendable {
    /// The invite's `provider` that selects it.
    var name: String { get }
    /// Every step of the provider's check of `verificationID`, from its start at `startedAt` (when the
    /// verification was created) on.
    func steps(verificationID: String, invitation: Invitation, startedAt: Date) -> [SandboxStep]
}

/// The built-in deterministic provider: the scenario comes from the magic values of the applicant's id
/// (`SandboxScenario`), the steps from `SandboxScript`.
public struct SandboxProvider: VerificationProvider {
    public let name = "sandbox"
    /// Where an attempt's capture flow is; the attempt id is appended.
    public var captureBaseURL: String
    /// How long each attempt's capture link lives from the verification's start.
    public var attemptLifetime: TimeInterval

    public init(captureBaseURL: String, attemptLifetime: TimeInterval = 900) {
        self.captureBaseURL = captureBaseURL
        self.attemptLifetime = attemptLifetime
    }

    /// Attempt ids are the verification's own with the attempt's number, so reading the steps again names the
    /// same attempts.
    public func steps(verificationID: String, invitation: Invitation, startedAt: Date) -> [SandboxStep] {
        let base = verificationID.hasPrefix("ver_") ? String(verificationID.dropFirst(4)) : verificationID
        return SandboxScript.steps(for: invitation, scenario: SandboxScenario(entityID: invitation.entityID),
                                   attemptID: { "att_\(base)_\($0)" }, captureURL: { captureBaseURL + $0 },
                                   attemptExpiresAt: startedAt.addingTimeInterval(attemptLifetime))
    }
}
