import Foundation
import LedgerDomain
import XCTest

final class SandboxScenarioTests: XCTestCase {
    /// Every magic value of the README's table, read from an applicant id.
    func testTheMagicValues() {
        let rows: [(String, SandboxScenario)] = [
            ("cus_1", SandboxScenario()),
            ("3f62123a-6210-4000-8000-000000062101", SandboxScenario()),
            ("cus_62101", SandboxScenario(identity: .decline(code: 62101))),
            ("applicant-62304-jane", SandboxScenario(identity: .decline(code: 62304))),
            ("cus_decline_99001", SandboxScenario(identity: .decline(code: 99001))),
            ("cus_decline", SandboxScenario(identity: .decline(code: 62101))),
            ("cus_61302", SandboxScenario(identity: .retryThenApprove(.retryResult(code: 61302)))),
            ("cus_retry", SandboxScenario(identity: .retryThenApprove(.retryResult(code: 61301)))),
            ("cus_retry_61401", SandboxScenario(identity: .retryThenApprove(.retryResult(code: 61401)))),
            ("cus_retry_decline_62305", SandboxScenario(identity: .retryThenDecline(.retryResult(code: 61301), code: 62305))),
            ("cus_retry_61410_decline_62304", SandboxScenario(identity: .retryThenDecline(.retryResult(code: 61410), code: 62304))),
            ("cus_abort", SandboxScenario(identity: .retryThenApprove(.captureAborted))),
            ("cus_abort_decline_62102", SandboxScenario(identity: .retryThenDecline(.captureAborted, code: 62102))),
            ("cus_refuse", SandboxScenario(identity: .refuse)),
            ("cus_63001", SandboxScenario(identity: .refuse)),
            ("cus_inconclusive", SandboxScenario(identity: .inconclusive)),
            ("cus_expire", SandboxScenario(identity: .expireBeforeCapture)),
            ("cus_expire_after_capture", SandboxScenario(identity: .expireAfterCapture)),
            ("CUS-AML-MATCH", SandboxScenario(aml: .match)),
            ("cus_hold", SandboxScenario(background: .holdThenClear)),
            ("cus_hold_alert", SandboxScenario(background: .holdThenAlert)),
            ("cus_62101_aml_match_hold_alert", SandboxScenario(identity: .decline(code: 62101), aml: .match, background: .holdThenAlert)),
            ("cus_refused_jane", SandboxScenario()),
        ]
        for (id, scenario) in rows { XCTAssertEqual(SandboxScenario(entityID: id), scenario, id) }
    }

    struct Final: Equatable {
        var overall: OverallStatus
        var validation: String
        var customer: String
        var order: OrderStatus?
        var score: OrderScore
        /// Each report's errors, the sub-objects in Stripe's order (`verified` for none).
        var reports: [String]
    }

    /// Runs the sandbox's script for an applicant through the decider, as the engine will, and reads every view.
    func run(_ entityID: String, checks: [CheckType] = [.identityVerification], file: StaticString = #filePath,
             line: UInt = #line) -> (Final, Scenario) {
        var scenario = Scenario()
        var invitation = Scenario.invitation(checks)
        invitation.entityID = entityID
        scenario.run(.invite(invitation), file: file, line: line)
        let steps = SandboxScript.steps(for: invitation, scenario: SandboxScenario(entityID: entityID), attemptID: { "att_\($0)" },
                                        captureURL: { "https://sandbox.example/\($0)" }, attemptExpiresAt: attemptExpiry)
        for step in steps {
            XCTAssertEqual(step.atDeadline, step.command == .expire, "only expiry waits for the deadline", file: file, line: line)
            scenario.run(step.command, file: file, line: line)
        }
        let state = scenario.state
        let reports = StripeReportView.reports(verificationID: "ver_1", state: state).map { report in
            ["document", "email", "id_number", "phone", "selfie"].compactMap { key -> String? in
                guard let part = report.object[key], !part.isNull else { return nil }
                return part["error"]?["code"]?.stringValue ?? "verified"
            }.joined(separator: "+")
        }
        let final = Final(overall: state.overallStatus, validation: ValidationView.status(state),
                          customer: CustomerVerificationView.status(state), order: state.orderStatus, score: Views.orderScore(state),
                          reports: reports)
        XCTAssertEqual(CustomerVerificationView.object(id: "ver_1", organizationID: "org_1", actorID: "provider", state: state)["status"]?.stringValue,
                       final.customer, file: file, line: line)
        XCTAssertEqual(ValidationView.object(id: "ver_1", state: state)["status"]?.stringValue, final.validation, file: file, line: line)
        return (final, scenario)
    }

    /// Each identity scenario, through the decider, to its documented end in every view.
    func testEachIdentityScenarioReachesItsFinalStateInEveryView() {
        let rows: [(String, Final)] = [
            ("cus_1", Final(overall: .approved, validation: "approved", customer: "verified", order: .complete, score: .idVerified,
                            reports: ["verified+verified"])),
            ("cus_62101", Final(overall: .declined, validation: "rejected", customer: "failed", order: .complete, score: .idNotVerified,
                                reports: ["document_expired+verified"])),
            ("cus_decline_62304", Final(overall: .declined, validation: "rejected", customer: "failed", order: .complete, score: .idNotVerified,
                                        reports: ["verified+selfie_face_mismatch"])),
            ("cus_decline_99001", Final(overall: .declined, validation: "rejected", customer: "failed", order: .complete, score: .idNotVerified,
                                        reports: ["document_unverified_other+verified"])),
            ("cus_retry", Final(overall: .approved, validation: "approved", customer: "verified", order: .complete, score: .idVerified,
                                reports: ["document_unverified_other+selfie_unverified_other", "verified+verified"])),
            ("cus_retry_61401", Final(overall: .approved, validation: "approved", customer: "verified", order: .complete, score: .idVerified,
                                      reports: ["document_unverified_other+selfie_unverified_other", "verified+verified"])),
            ("cus_retry_decline_62305", Final(overall: .declined, validation: "rejected", customer: "failed", order: .complete,
                                              score: .idNotVerified, reports: ["document_unverified_other+selfie_unverified_other", "verified+selfie_manipulated"])),
            ("cus_abort", Final(overall: .approved, validation: "approved", customer: "verified", order: .complete, score: .idVerified,
                                reports: ["verified+verified"])),
            ("cus_abort_decline_62102", Final(overall: .declined, validation: "rejected", customer: "failed", order: .complete,
                                              score: .idNotVerified, reports: ["document_type_not_supported+verified"])),
            ("cus_61302", Final(overall: .approved, validation: "approved", customer: "verified", order: .complete, score: .idVerified,
                                reports: ["document_unverified_other+selfie_unverified_other", "verified+verified"])),
            ("cus_retry_61410_decline_62304", Final(overall: .declined, validation: "rejected", customer: "failed", order: .complete,
                                                    score: .idNotVerified,
                                                    reports: ["document_unverified_other+selfie_unverified_other", "verified+selfie_face_mismatch"])),
            ("cus_63001", Final(overall: .refused, validation: "abandoned", customer: "failed", order: .incomplete, score: .withdrawn, reports: [])),
            ("cus_refuse", Final(overall: .refused, validation: "abandoned", customer: "failed", order: .incomplete, score: .withdrawn, reports: [])),
            ("cus_inconclusive", Final(overall: .inconclusive, validation: "rejected", customer: "failed", order: .incomplete,
                                       score: .idNotVerified, reports: ["document_unverified_other+selfie_unverified_other"])),
            ("cus_expire", Final(overall: .expired, validation: "expired", customer: "expired", order: .incomplete, score: .pending, reports: [])),
            ("cus_expire_after_capture", Final(overall: .expired, validation: "abandoned", customer: "expired", order: .incomplete,
                                               score: .pending, reports: [])),
        ]
        for (id, expected) in rows { XCTAssertEqual(run(id).0, expected, id) }
    }

    func testAFaceCodeDeclinesTheSelfieCheckWhenThereIsOne() {
        let (final, scenario) = run("cus_62304", checks: [.document, .selfie])
        XCTAssertEqual(final.reports, ["verified+selfie_face_mismatch"])
        XCTAssertEqual(scenario.state.check(.document)?.status, .approved)
        XCTAssertEqual(scenario.state.check(.selfie)?.signals.faceMatch, .fail)
        XCTAssertEqual(run("cus_62101", checks: [.document, .selfie]).0.reports, ["document_expired+verified"])
        XCTAssertEqual(run("cus_62304", checks: [.document]).0.reports, ["document_unverified_other"])
    }

    func testTheRetryScenariosMakeASecondAttempt() {
        for id in ["cus_retry", "cus_abort", "cus_retry_decline_62305", "cus_abort_decline_62102"] {
            let state = run(id).1.state
            XCTAssertEqual(state.attempts.map(\.id), ["att_1", "att_2"], id)
            XCTAssertEqual(state.attempts.last?.status, .completed, id)
        }
        XCTAssertEqual(run("cus_abort").1.state.attempts.first?.status, .captureAborted)
        XCTAssertEqual(run("cus_retry").1.state.attempts.first?.status, .completed)
    }

    func testScreeningScenarios() throws {
        let checks: [CheckType] = [.identityVerification, .amlScreening]
        XCTAssertEqual(run("cus_1", checks: checks).0, Final(overall: .approved, validation: "approved", customer: "verified", order: .complete,
                                                             score: .noAlerts, reports: ["verified+verified"]))
        let (match, matched) = run("cus_aml_match", checks: checks)
        XCTAssertEqual(match, Final(overall: .reviewRequired, validation: "in_progress", customer: "pending", order: .pending,
                                    score: .alertsFound, reports: ["verified+verified"]))
        XCTAssertEqual(ValidationView.aml(matched.state), "match")
        let screeningOnly = run("cus_aml_match", checks: [.amlScreening]).0
        XCTAssertEqual(screeningOnly.score, .screeningAlert)
        XCTAssertEqual(run("cus_1", checks: [.amlScreening]).0.score, .screeningNoAlert)
    }

    func testBackgroundChecksHoldThenClearOrAlert() throws {
        let checks: [CheckType] = [.document, .backgroundCheck]
        for (id, score) in [("cus_hold", OrderScore.noAlerts), ("cus_hold_alert", .alertsFound)] {
            let (final, scenario) = run(id, checks: checks)
            XCTAssertEqual(final, Final(overall: .approved, validation: "approved", customer: "verified", order: .complete, score: score,
                                        reports: ["verified"]), id)
            var state = VerificationDecider.initialState
            var scores: [OrderScore] = []
            for (index, event) in scenario.events.enumerated() {
                state = VerificationDecider.evolve(state, event, at: Scenario.start.addingTimeInterval(Double(index)))
                scores.append(Views.automaticScore(state))
            }
            XCTAssertTrue(scores.contains(.onHold), "\(id) sits ON_HOLD on the way: \(scores)")
            XCTAssertEqual(Views.orderAlert(scenario.state), score == .alertsFound ? .alertsFound : .noAlertsFound, id)
        }
        XCTAssertFalse(run("cus_1", checks: checks).1.state.checks.contains { $0.riskLabels.contains("on_hold") })
    }

    func testChecksWithoutCaptureTakeTheStoryAsResults() {
        let checks: [CheckType] = [.idNumber, .email]
        XCTAssertEqual(run("cus_decline_62401", checks: checks).0,
                       Final(overall: .declined, validation: "rejected", customer: "failed", order: .complete, score: .alertsFound,
                             reports: ["verified", "id_number_mismatch"]))
        XCTAssertEqual(run("cus_retry", checks: checks).0,
                       Final(overall: .approved, validation: "approved", customer: "verified", order: .complete, score: .noAlerts,
                             reports: ["verified", "id_number_insufficient_document_data", "verified"]))
        XCTAssertEqual(run("cus_refuse", checks: [.email]).0,
                       Final(overall: .refused, validation: "abandoned", customer: "failed", order: .incomplete, score: .withdrawn,
                             reports: ["email_verification_declined"]))
        XCTAssertEqual(run("cus_expire", checks: checks).0,
                       Final(overall: .expired, validation: "expired", customer: "expired", order: .incomplete, score: .pending,
                             reports: ["verified"]))
        XCTAssertEqual(run("cus_inconclusive", checks: [.idNumber]).0.overall, .inconclusive)
    }

    func testScriptsAreDeterministicAndCarryTheSandboxsData() throws {
        let invitation = Scenario.invitation([.identityVerification, .amlScreening])
        let make = {
            SandboxScript.steps(for: invitation, scenario: SandboxScenario(entityID: "cus_retry"), attemptID: { "att_\($0)" },
                                captureURL: { "https://sandbox.example/\($0)" }, attemptExpiresAt: attemptExpiry)
        }
        XCTAssertEqual(make(), make())
        let state = run("cus_1").1.state
        XCTAssertEqual(state.check(.identityVerification)?.extractedData, SandboxScript.extractedData)
        XCTAssertEqual(state.check(.identityVerification)?.providerReference, "sbx_identity_verification_1")
        XCTAssertEqual(state.attempts.first?.url, "https://sandbox.example/att_1")
    }
}
