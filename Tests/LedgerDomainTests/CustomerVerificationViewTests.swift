import Foundation
import LedgerDomain
import XCTest

/// A verification in each row of the SPEC §4 status table, reached through the decider.
enum TableRow: CaseIterable {
    case created, pending, captureInProgress, checksInProgress, screeningInProgress, reviewRequired, retryRequired
    case approved, declined, inconclusive, refused, withdrawn, expiredBeforeCapture, expiredAfterCapture
    /// Approved, then expired (the validity ended or an admin expired it): a row the table has no column for.
    case approvedThenExpired

    var overall: OverallStatus {
        switch self {
        case .created: return .created
        case .pending: return .pending
        case .captureInProgress: return .captureInProgress
        case .checksInProgress: return .checksInProgress
        case .screeningInProgress: return .screeningInProgress
        case .reviewRequired: return .reviewRequired
        case .retryRequired: return .retryRequired
        case .approved: return .approved
        case .declined: return .declined
        case .inconclusive: return .inconclusive
        case .refused: return .refused
        case .withdrawn: return .withdrawn
        case .expiredBeforeCapture, .expiredAfterCapture, .approvedThenExpired: return .expired
        }
    }

    var scenario: Scenario {
        let capture = [startAttempt, progress(.captureInProgress)]
        let approve = capture + [progress(.completed), result(.approved, codes: [10000])]
        switch self {
        case .created: return Scenario.make([])
        case .pending: return Scenario.make([startAttempt])
        case .captureInProgress: return Scenario.make(capture)
        case .checksInProgress: return Scenario.make(capture + [progress(.checksInProgress)])
        case .screeningInProgress: return Scenario.make(checks: [.amlScreening], [result(.amlScreening, .screeningInProgress)])
        case .reviewRequired: return Scenario.make(checks: [.amlScreening], [result(.amlScreening, .reviewRequired, aml: .match)])
        case .retryRequired: return Scenario.make(capture + [progress(.captureAborted)])
        case .approved: return Scenario.make(approve)
        case .declined: return Scenario.make(capture + [progress(.completed), result(.declined, codes: [62101])])
        case .inconclusive: return Scenario.make(capture + [progress(.checksInProgress), progress(.checksInconclusive)])
        case .refused: return Scenario.make([startAttempt, progress(.captureRefused)])
        case .withdrawn: return Scenario.make([.withdraw(reason: "changed their mind")])
        case .expiredBeforeCapture: return Scenario.make([startAttempt, .expire])
        case .expiredAfterCapture: return Scenario.make(capture + [.expire])
        case .approvedThenExpired: return Scenario.make(approve + [.override(.expired, reason: "validity ended")])
        }
    }
}

final class CustomerVerificationViewTests: XCTestCase {
    /// Seed 003's column of the SPEC §4 table, row by row, as the status function and the object say it.
    func testEveryRowOfTheStatusTable() {
        let expected: [TableRow: String] = [
            .created: "pending", .pending: "pending", .captureInProgress: "pending", .checksInProgress: "pending",
            .screeningInProgress: "pending", .reviewRequired: "pending", .retryRequired: "pending", .approved: "verified",
            .declined: "failed", .inconclusive: "failed", .refused: "failed", .withdrawn: "failed",
            .expiredBeforeCapture: "expired", .expiredAfterCapture: "expired", .approvedThenExpired: "expired",
        ]
        XCTAssertEqual(Set(expected.keys), Set(TableRow.allCases))
        for row in TableRow.allCases {
            let state = row.scenario.state
            XCTAssertEqual(state.overallStatus, row.overall, "\(row)")
            XCTAssertEqual(CustomerVerificationView.status(state), expected[row], "\(row)")
            let object = CustomerVerificationView.object(id: "ver_1", organizationID: "org_1", actorID: nil, state: state)
            XCTAssertEqual(object["status"]?.stringValue, expected[row], "\(row)")
        }
    }

    /// Exactly the seed's sixteen fields, each of the JSON type it documents, in every row.
    /// The event whose actor is `actor_id`: the last that moved the seed-003 status, or an override or withdrawal;
    /// steps that keep it pending and changes that decide nothing (metadata) leave it.
    func testTheStatusDecisionIsTheEventThatLastDecidedTheStatus() {
        var scenario = Scenario.make([startAttempt, progress(.captureInProgress), progress(.completed)])
        XCTAssertEqual(scenario.state.statusDecisionVersion, 1, "still pending: the invite's")
        XCTAssertEqual(scenario.state.eventCount, Int64(scenario.events.count))
        scenario.run(result(.identityVerification, .approved, codes: [10000]))
        let approval = Int64(scenario.events.count)
        XCTAssertEqual(CustomerVerificationView.status(scenario.state), "verified")
        XCTAssertEqual(scenario.state.statusDecisionVersion, approval)
        scenario.run(.updateMetadata(["note": "called"]))
        XCTAssertEqual(scenario.state.statusDecisionVersion, approval, "metadata decides nothing")
        scenario.run(.override(.approved, reason: "checked by hand"))
        XCTAssertEqual(scenario.state.statusDecisionVersion, Int64(scenario.events.count), "an override decides, even one that confirms")
        scenario.now = Scenario.start.addingTimeInterval(400 * 86_400)
        scenario.run(.endValidity)
        XCTAssertEqual(CustomerVerificationView.status(scenario.state), "expired")
        XCTAssertEqual(scenario.state.statusDecisionVersion, Int64(scenario.events.count), "the end of validity expires it")
        XCTAssertEqual(scenario.state.eventCount, Int64(scenario.events.count))
        XCTAssertEqual(TableRow.withdrawn.scenario.state.statusDecisionVersion, 2)
    }

    func testExactlyTheSeedsFieldsWithTheirTypes() {
        let nullable: Set<String> = ["actor_id", "expires_at", "last_checked_at", "provider_reference", "reason", "verified_at"]
        let objects: Set<String> = ["result_payload"]
        for row in TableRow.allCases {
            let object = CustomerVerificationView.object(id: "ver_1", organizationID: "org_1", actorID: "key_1", state: row.scenario.state)
            XCTAssertEqual(keys(object), CustomerVerificationView.fields, "\(row)")
            for key in CustomerVerificationView.fields {
                let kind = JSONKind(object[key] ?? .null)
                let allowed: Set<JSONKind> = objects.contains(key) ? [.object] : nullable.contains(key) ? [.string, .null] : [.string]
                XCTAssertTrue(allowed.contains(kind), "\(row): \(key) is \(kind)")
            }
            for key in ["created_at", "updated_at", "expires_at", "verified_at", "last_checked_at"] {
                if let text = object[key]?.stringValue { XCTAssertNotNil(Timestamp.parse(text), "\(row): \(key) is RFC 3339") }
            }
        }
    }

    func testTheFieldsSayWhatHappened() throws {
        var scenario = TableRow.approved.scenario
        let approvedAt = try XCTUnwrap(scenario.state.approvedAt)
        var object = CustomerVerificationView.object(id: "ver_1", organizationID: "org_1", actorID: "key_admin", state: scenario.state)
        XCTAssertEqual(object["id"], "ver_1")
        XCTAssertEqual(object["organization_id"], "org_1")
        XCTAssertEqual(object["actor_id"], "key_admin")
        XCTAssertEqual(object["customer_id"], "cus_1")
        XCTAssertEqual(object["check_type"], "identity_verification")
        XCTAssertEqual(object["verification_type"], "kyc")
        XCTAssertEqual(object["provider"], "sandbox")
        XCTAssertEqual(object["verified_at"]?.stringValue, Timestamp.rfc3339(approvedAt))
        XCTAssertEqual(object["expires_at"]?.stringValue, Timestamp.rfc3339(approvedAt.addingTimeInterval(365 * 86_400)), "valid a year")
        XCTAssertEqual(object["last_checked_at"]?.stringValue, Timestamp.rfc3339(approvedAt))
        XCTAssertEqual(object["reason"], .null)
        XCTAssertEqual(object["result_payload"]?["status"], "approved")
        XCTAssertEqual(object["result_payload"]?["checks"]?.arrayValue?.first?["response_codes"], [["code": 10000, "summary": "approved"]])
        let shorter = ValidityPolicy(validity: 86_400, reverificationWindow: 3600)
        object = CustomerVerificationView.object(id: "ver_1", organizationID: "org_1", actorID: nil, state: scenario.state, policy: shorter)
        XCTAssertEqual(object["expires_at"]?.stringValue, Timestamp.rfc3339(approvedAt.addingTimeInterval(86_400)))

        scenario.run(.override(.expired, reason: "documents out of date"))
        object = CustomerVerificationView.object(id: "ver_1", organizationID: "org_1", actorID: "key_admin", state: scenario.state)
        XCTAssertEqual(object["status"], "expired")
        XCTAssertEqual(object["reason"], "documents out of date")
        XCTAssertEqual(object["verified_at"]?.stringValue, Timestamp.rfc3339(approvedAt), "it was verified, once")
        XCTAssertEqual(object["expires_at"]?.stringValue, Timestamp.rfc3339(scenario.now), "it ended when it was expired")

        let declined = CustomerVerificationView.object(id: "v", organizationID: "o", actorID: nil, state: TableRow.declined.scenario.state)
        XCTAssertEqual(declined["reason"], "document_expired")
        XCTAssertEqual(declined["verified_at"], .null)
        XCTAssertEqual(declined["expires_at"], .null)
        let withdrawn = CustomerVerificationView.object(id: "v", organizationID: "o", actorID: nil, state: TableRow.withdrawn.scenario.state)
        XCTAssertEqual(withdrawn["reason"], "changed their mind")
        let pending = TableRow.pending.scenario.state
        let pendingObject = CustomerVerificationView.object(id: "v", organizationID: "o", actorID: nil, state: pending)
        XCTAssertEqual(pendingObject["expires_at"]?.stringValue, pending.invitation.map { Timestamp.rfc3339($0.expiresAt) })
        XCTAssertEqual(pendingObject["last_checked_at"], .null)

        var several = Scenario()
        var invitation = Scenario.invitation([.document, .amlScreening])
        invitation.packageID = "pkg_kyc"
        several.run(.invite(invitation))
        several.run(.recordResult(CheckResult(check: .amlScreening, status: .approved, providerReference: "ref_aml")))
        let packaged = CustomerVerificationView.object(id: "v", organizationID: "o", actorID: nil, state: several.state)
        XCTAssertEqual(packaged["check_type"], "pkg_kyc")
        XCTAssertEqual(packaged["provider_reference"], "ref_aml")
        XCTAssertEqual(CustomerVerificationView.object(id: "v", organizationID: "o", actorID: nil, state: VerificationState()), .null)
    }
}
