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
        // The validation moves pending → in_progress → approved: three of the verification's five statuses.
        XCTAssertEqual(produced, [
            ["VERIFICATION_STATUS_CHANGE", "VALIDATION_STATUS_CHANGE", "CHECK_STATUS_CHANGE"],
            ["VERIFICATION_STATUS_CHANGE", "CHECK_STATUS_CHANGE", "ATTEMPT_STATUS_CHANGE"],
            ["VERIFICATION_STATUS_CHANGE", "VALIDATION_STATUS_CHANGE", "CHECK_STATUS_CHANGE", "ATTEMPT_STATUS_CHANGE"],
            ["VERIFICATION_STATUS_CHANGE", "CHECK_STATUS_CHANGE", "ATTEMPT_STATUS_CHANGE", "ORDER_STATUS_CHANGE", "ORDER_SCORE_CHANGE"],
            ["VERIFICATION_STATUS_CHANGE", "VALIDATION_STATUS_CHANGE", "CHECK_STATUS_CHANGE", "ORDER_STATUS_CHANGE", "ORDER_SCORE_CHANGE"],
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

    /// The end of an approval's validity moves the validation (and the customer verification) to expired and
    /// nothing else: the verification stays approved and its order complete.
    func testTheEndOfValidityExpiresTheValidationOnly() {
        var scenario = Scenario.make([startAttempt, progress(.captureInProgress), progress(.completed), result(.approved)])
        let approved = scenario.state
        let approvedAt = approved.approvedAt ?? .distantFuture
        XCTAssertEqual(try VerificationDecider.run(.endValidity, approved, now: approvedAt.addingTimeInterval(364 * 86_400)).events, [],
                       "a year has not passed")
        let ended = try? VerificationDecider.run(.endValidity, approved, now: approvedAt.addingTimeInterval(365 * 86_400))
        XCTAssertEqual(ended?.events, [.validityEnded])
        guard let after = ended?.state else { return XCTFail("no state") }
        XCTAssertEqual(WebhookChanges.between(approved, after), [WebhookChange(type: .validationStatusChange, previous: ["status": "approved"])])
        XCTAssertEqual(after.overallStatus, .approved)
        XCTAssertEqual(after.orderStatus, approved.orderStatus)
        XCTAssertEqual(ValidationView.status(after), "expired")
        XCTAssertEqual(CustomerVerificationView.status(after), "expired")
        XCTAssertEqual(ValidityPolicy.standard.validUntil(after), approvedAt.addingTimeInterval(365 * 86_400))
        XCTAssertEqual(try VerificationDecider.run(.endValidity, after, now: approvedAt.addingTimeInterval(400 * 86_400)).events, [], "once")
        scenario.state.invitation?.validFor = 86_400
        XCTAssertEqual(try VerificationDecider.run(.endValidity, scenario.state, now: approvedAt.addingTimeInterval(86_400)).events,
                       [.validityEnded], "the validity the invite recorded")
    }
}
