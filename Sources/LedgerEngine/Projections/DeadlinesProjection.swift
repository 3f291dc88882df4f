import Foundation
import LedgerDomain
import LedgerStorage

/// `ledger.verification_deadlines`: when the expiry job should look at a verification. Its row is written
/// only when a command moves the deadline, and goes once the verification is terminal.
struct DeadlinesProjection: Projection {
    let name = "verification_deadlines"
    let version = 1
    let table = ProjectionTable(name: "verification_deadlines", columns: ["organization_id", "id", "due_at"],
                                versionColumn: nil, rowsCanDisappear: true)

    func rows(_ stream: StreamState) -> [ProjectionRow] {
        guard let due = Self.deadline(stream.state) else { return [] }
        return [ProjectionRow([stream.organizationID, stream.id, due])]
    }

    /// Its own expiry or its open attempt's, whichever comes first; never once it is terminal.
    static func deadline(_ state: VerificationState) -> Date? {
        guard !state.isTerminal, let invitation = state.invitation else { return nil }
        let attempt = state.openAttempt.flatMap { $0.status.allowedNext.contains(.expired) ? $0.expiresAt : nil }
        return [invitation.expiresAt, attempt].compactMap { $0 }.min()
    }
}
