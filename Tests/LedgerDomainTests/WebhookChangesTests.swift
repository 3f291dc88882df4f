import Foundation
import LedgerDomain
import XCTest

final class WebhookChangesTests: XCTestCase {
    /// Runs the commands and collects the webhook event types each produced.
    func types(_ checks: [CheckType], _ commands: [VerificationCommand]) -> [[String]] {
        var scenario = Scenario()
        var produced: [[String]] = []
        for command in [VerificationCommand.invite(Scenario.invitation(checks))] + commands {
            let before = scenario.state
            scenario.run(command)
            produced.append(WebhookChanges.between(before, scenario.state).map(\.type.rawValue))
        }
        return produced
    }

    func testAFullLifecycleProducesTheExpectedSequence() {
        let produced = types([.identityVerification], [
            startAttempt, progress(.captureInProgress), progress(.completed), result(.approved),
            .setCustomScore(name: "tier", value: "gold", reason: nil), .openDispute(disputeID: "dsp_1", reason: "r"),
            .resolveDispute(disputeID: "dsp_1", outcome: .overturned, score: .preAdverse, reason: "r"),
        ])
        XCTAssertEqual(produced, [
            ["VERIFICATION_STATUS_CHANGE", "CHECK_STATUS_CHANGE"],
            ["VERIFICATION_STATUS_CHANGE", "CHECK_STATUS_CHANGE", "ATTEMPT_STATUS_CHANGE"],
            ["VERIFICATION_STATUS_CHANGE", "CHECK_STATUS_CHANGE", "ATTEMPT_STATUS_CHANGE"],
            ["VERIFICATION_STATUS_CHANGE", "CHECK_STATUS_CHANGE", "ATTEMPT_STATUS_CHANGE", "ORDER_STATUS_CHANGE", "ORDER_SCORE_CHANGE"],
            ["VERIFICATION_STATUS_CHANGE", "CHECK_STATUS_CHANGE", "ORDER_STATUS_CHANGE", "ORDER_SCORE_CHANGE"],
            ["ORDER_CUSTOM_SCORE_CHANGE"],
            ["ORDER_STATUS_CHANGE"],
            ["ORDER_STATUS_CHANGE", "ORDER_SCORE_CHANGE", "ORDER_DISPUTE_RESOLVED"],
        ])
    }

    func testPreviousValuesAreTheOldOnes() {
        var scenario = Scenario.make([startAttempt, progress(.captureInProgress), progress(.completed)])
        let before = scenario.state
        scenario.run(result(.declined, codes: [62301]))
        let changes = WebhookChanges.between(before, scenario.state)
        XCTAssertEqual(changes.first { $0.type == .verificationStatusChange }?.previous, ["status": "checks_in_progress"])
        XCTAssertEqual(changes.first { $0.type == .checkStatusChange }?.previous, ["check": "identity_verification", "status": "checks_in_progress"])
        XCTAssertEqual(changes.first { $0.type == .orderStatusChange }?.previous, ["status": "IN_PROGRESS"])
        XCTAssertEqual(changes.first { $0.type == .orderScoreChange }?.previous, ["score": "PENDING"])
        XCTAssertEqual(WebhookChanges.between(scenario.state, scenario.state), [], "no change, no webhook")
    }

    func testANewAttemptReportsBothAttempts() {
        var scenario = Scenario.make([startAttempt, progress(.captureInProgress)])
        let before = scenario.state
        scenario.run(.startAttempt(attemptID: "att_2", url: "u", expiresAt: attemptExpiry))
        let attempts = WebhookChanges.between(before, scenario.state).filter { $0.type == .attemptStatusChange }.map(\.previous)
        XCTAssertEqual(attempts, [["attempt_id": "att_1", "status": "capture_in_progress"], ["attempt_id": "att_2", "status": nil]])
    }
}
