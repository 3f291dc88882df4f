import Foundation
import LedgerDomain
import XCTest

/// The history the views read beside the current state: every result with its attempt, every change of status.
final class StateHistoryTests: XCTestCase {
    func testResultsKeepTheirAttemptAndStatusChangesTheirReason() {
        let second = VerificationCommand.startAttempt(attemptID: "att_2", url: "https://verify.example/att_2", expiresAt: attemptExpiry)
        var scenario = Scenario.make(checks: [.identityVerification, .email], [
            startAttempt, progress(.captureInProgress), progress(.completed), result(.retryRequired, codes: [61301]),
            result(.email, .approved, codes: [10000]), second,
            .recordResult(CheckResult(check: .identityVerification, status: .approved, attemptID: "att_1")),
        ])
        XCTAssertEqual(scenario.state.results.map(\.attemptID), ["att_1", nil, "att_1"],
                       "a capture result without an attempt belongs to the one last started; others to none")
        XCTAssertEqual(scenario.state.results.map(\.result.status), [.retryRequired, .approved, .approved])
        XCTAssertEqual(scenario.state.statusChanges.map(\.status),
                       [.created, .retryRequired, .pending, .approved], "the email check, not yet checked, holds it at created at first")
        XCTAssertEqual(scenario.state.approvedAt, scenario.now)
        scenario.run(.override(.declined, reason: "sanctions hit by hand"))
        XCTAssertEqual(scenario.state.statusChanges.last, StatusChange(status: .declined, at: scenario.now, reason: "sanctions hit by hand"))
        XCTAssertNotNil(scenario.state.approvedAt, "it was approved once")
        scenario.run(.updateMetadata(["note": "x"]))
        XCTAssertEqual(scenario.state.statusChanges.count, 5, "no change of status, nothing recorded")
    }
}
