import Foundation
import LedgerDomain
import LedgerStorage

/// `ledger.verification_deadlines`: when the expiry job should look at a verification. Its row is written
/// only when a command moves the deadline, and goes once the verification is terminal.
struct DeadlinesProjection: Projection {
    let name = "verification_deadlines"
    let version = 2
    let table = ProjectionTable(name: "verification_deadlines", columns: ["organization_id", "id", "due_at"],
                                versionColumn: nil, rowsCanDisappear: true)

    func rows(_ stream: StreamState) -> [ProjectionRow] {
        guard let due = Self.deadline(stream.state) else { return [] }
        return [ProjectionRow([stream.organizationID, stream.id, due])]
    }

    /// Its own expiry or its open attempt's, whichever comes first; once it is terminal, the end of its
    /// approval's validity (version 2), and nothing after that or for any other ending.
    static func deadline(_ state: VerificationState) -> Date? {
        guard let invitation = state.invitation else { return nil }
        if state.isTerminal {
            guard state.overallStatus == .approved, state.validityEndedAt == nil else { return nil }
            return ValidityPolicy.standard.validUntil(state)
        }
        let attempt = state.openAttempt.flatMap { $0.status.allowedNext.contains(.expired) ? $0.expiresAt : nil }
        return [invitation.expiresAt, attempt].compactMap { $0 }.min()
    }
}
