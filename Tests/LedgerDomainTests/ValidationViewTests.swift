import Foundation
import LedgerDomain
import XCTest

final class ValidationViewTests: XCTestCase {
    /// Seed 004's column of the SPEC §4 table, row by row, and `decision` only when approved or rejected.
    func testEveryRowOfTheStatusTable() {
        let expected: [TableRow: String] = [
            .created: "pending", .pending: "pending", .captureInProgress: "in_progress", .checksInProgress: "in_progress",
            .screeningInProgress: "in_progress", .reviewRequired: "in_progress", .retryRequired: "in_progress", .approved: "approved",
            .declined: "rejected", .inconclusive: "rejected", .refused: "abandoned", .withdrawn: "abandoned",
            .expiredBeforeCapture: "expired", .expiredAfterCapture: "abandoned", .approvedThenExpired: "expired",
        ]
        XCTAssertEqual(Set(expected.keys), Set(TableRow.allCases))
        for row in TableRow.allCases {
            let state = row.scenario.state
            XCTAssertEqual(ValidationView.status(state), expected[row], "\(row)")
            let object = ValidationView.object(id: "ver_1", state: state)
            XCTAssertEqual(object["status"]?.stringValue, expected[row], "\(row)")
            let decided = expected[row] == "approved" || expected[row] == "rejected"
            XCTAssertEqual(object["decision"].map(JSONKind.init), decided ? .object : .null, "\(row)")
        }
    }

    /// camelCase like the source, each field of its type.
    func testCamelCaseFieldsWithTheirTypes() throws {
        let types: [(String, Set<JSONKind>)] = [
            ("id", [.string]), ("entityId", [.string]), ("entityType", [.string]), ("verificationType", [.string]),
            ("clientReferenceId", [.string, .null]), ("provider", [.string]), ("status", [.string]), ("decision", [.object, .null]),
            ("livemode", [.bool]), ("createdAt", [.string]), ("updatedAt", [.string]), ("verifiedAt", [.string, .null]),
            ("expiresAt", [.string]),
        ]
        for row in TableRow.allCases {
            let object = ValidationView.object(id: "ver_1", state: row.scenario.state)
            XCTAssertEqual(keys(object), types.map(\.0), "\(row)")
            for (key, allowed) in types { XCTAssertTrue(allowed.contains(JSONKind(object[key] ?? .null)), "\(row): \(key)") }
        }
        let approved = TableRow.approved.scenario.state
        let decision = try XCTUnwrap(ValidationView.object(id: "ver_1", state: approved)["decision"])
        XCTAssertEqual(keys(decision), ["documentAuthenticity", "faceMatch", "liveness", "aml", "responseCodes", "extractedData"])
        XCTAssertEqual(decision["documentAuthenticity"], "pass", "an approved check that said nothing passed")
        XCTAssertEqual(decision["aml"], .null, "no screening was part of it")
        XCTAssertEqual(decision["extractedData"], .null)
        XCTAssertEqual(ValidationView.object(id: "ver_1", state: approved)["verifiedAt"]?.stringValue, approved.approvedAt.map(Timestamp.rfc3339))
        XCTAssertEqual(ValidationView.object(id: "ver_1", state: VerificationState()), .null)
    }

    func testTheDecisionCombinesTheSignalsOfTheChecks() throws {
        let data = ExtractedData(firstName: "Jenny", lastName: "Rosen", dateOfBirth: "1990-01-15", address: nil,
                                 document: .init(type: "passport", number: "P1", issuingCountry: "GB", issueDate: nil, expiryDate: "2031-01-01"))
        let scenario = Scenario.make(checks: [.document, .selfie, .amlScreening], [
            startAttempt, progress(.captureInProgress), progress(.completed),
            .recordResult(CheckResult(check: .amlScreening, status: .approved, signals: Signals(aml: .clear))),
            .recordResult(CheckResult(check: .document, status: .approved, signals: Signals(documentAuthenticity: .pass), extractedData: data)),
            .recordResult(CheckResult(check: .selfie, status: .declined, responseCodes: [ResponseCode(code: 62304)],
                                      signals: Signals(faceMatch: .fail))),
        ])
        let object = ValidationView.object(id: "ver_1", state: scenario.state)
        XCTAssertEqual(object["status"], "rejected")
        let decision = try XCTUnwrap(object["decision"])
        XCTAssertEqual(decision["documentAuthenticity"], "pass")
        XCTAssertEqual(decision["faceMatch"], "fail")
        XCTAssertEqual(decision["liveness"], "pending", "the declined selfie said nothing of liveness")
        XCTAssertEqual(decision["aml"], "clear")
        XCTAssertEqual(decision["responseCodes"], [["code": 62304, "summary": "face_mismatch"]])
        XCTAssertEqual(decision["extractedData"], [
            "firstName": "Jenny", "lastName": "Rosen", "dateOfBirth": "1990-01-15", "address": nil,
            "document": ["type": "passport", "number": "P1", "issuingCountry": "GB", "issueDate": nil, "expiryDate": "2031-01-01"],
        ])
        let match = TableRow.reviewRequired.scenario.state
        XCTAssertEqual(ValidationView.aml(match), "match")
        XCTAssertEqual(ValidationView.aml(TableRow.screeningInProgress.scenario.state), "pending")
    }

    // MARK: KYC status

    let day: TimeInterval = 86_400

    func approved(at offset: TimeInterval = 0) -> VerificationState {
        var scenario = TableRow.approved.scenario
        if offset != 0 { scenario.state.statusChanges = scenario.state.statusChanges.map { var c = $0; c.at += offset; return c } }
        scenario.state.createdAt = scenario.state.createdAt.map { $0.addingTimeInterval(offset) }
        return scenario.state
    }

    func created(_ row: TableRow, at offset: TimeInterval) -> VerificationState {
        var state = row.scenario.state
        state.createdAt = state.createdAt.map { $0.addingTimeInterval(offset) }
        return state
    }

    func testKYCStatusOverAnEntitysValidations() throws {
        let single = approved()
        let approvedAt = try XCTUnwrap(single.approvedAt)
        let none = KYCStatus.of([], at: approvedAt)
        XCTAssertEqual(none, KYCStatus(verified: false, status: "not_started", verifiedAt: nil, expiresAt: nil, needsReverification: false,
                                       currentValidationID: nil))

        let fresh = KYCStatus.of([("ver_1", single)], at: approvedAt.addingTimeInterval(day))
        XCTAssertEqual(fresh, KYCStatus(verified: true, status: "approved", verifiedAt: approvedAt, expiresAt: approvedAt.addingTimeInterval(365 * day),
                                        needsReverification: false, currentValidationID: "ver_1"))
        let due = KYCStatus.of([("ver_1", single)], at: approvedAt.addingTimeInterval(335 * day))
        XCTAssertTrue(due.verified)
        XCTAssertTrue(due.needsReverification, "inside the 30 days before expiry")
        XCTAssertFalse(KYCStatus.of([("ver_1", single)], at: approvedAt.addingTimeInterval(335 * day - 1)).needsReverification)
        let lapsed = KYCStatus.of([("ver_1", single)], at: approvedAt.addingTimeInterval(365 * day))
        XCTAssertEqual(lapsed, KYCStatus(verified: false, status: "expired", verifiedAt: approvedAt, expiresAt: approvedAt.addingTimeInterval(365 * day),
                                         needsReverification: true, currentValidationID: "ver_1"))

        let policy = ValidityPolicy(validity: 10 * day, reverificationWindow: 2 * day)
        XCTAssertTrue(KYCStatus.of([("ver_1", single)], at: approvedAt.addingTimeInterval(8 * day), policy: policy).needsReverification)
        XCTAssertFalse(KYCStatus.of([("ver_1", single)], at: approvedAt.addingTimeInterval(10 * day), policy: policy).verified)

        let reverifying = KYCStatus.of([("ver_1", single), ("ver_2", created(.captureInProgress, at: 300 * day))],
                                       at: approvedAt.addingTimeInterval(340 * day))
        XCTAssertEqual(reverifying.currentValidationID, "ver_1", "the approval that still counts is current while the next one runs")
        XCTAssertTrue(reverifying.verified)
        XCTAssertTrue(reverifying.needsReverification)
        let renewed = KYCStatus.of([("ver_1", single), ("ver_2", approved(at: 300 * day))], at: approvedAt.addingTimeInterval(370 * day))
        XCTAssertEqual(renewed.currentValidationID, "ver_2")
        XCTAssertEqual(renewed.verifiedAt, approvedAt.addingTimeInterval(300 * day))
        XCTAssertFalse(renewed.needsReverification)

        let rejectedSince = KYCStatus.of([("ver_1", single), ("ver_2", created(.declined, at: 10 * day))], at: approvedAt.addingTimeInterval(20 * day))
        XCTAssertFalse(rejectedSince.verified, "a later rejection outweighs an earlier approval")
        XCTAssertEqual(rejectedSince.status, "rejected")
        XCTAssertEqual(rejectedSince.currentValidationID, "ver_2")

        let unused = KYCStatus.of([("ver_1", created(.refused, at: 0)), ("ver_2", created(.expiredBeforeCapture, at: day))], at: approvedAt)
        XCTAssertEqual(unused.status, "not_started", "abandoned validations and sessions that expired unused do not count")
        XCTAssertNil(unused.currentValidationID)
        let pending = KYCStatus.of([("ver_1", created(.refused, at: 0)), ("ver_2", created(.pending, at: day))], at: approvedAt)
        XCTAssertEqual(pending.status, "pending")
        XCTAssertEqual(pending.currentValidationID, "ver_2")

        let expiredByAdmin = TableRow.approvedThenExpired.scenario.state
        let expiredAt = try XCTUnwrap(expiredByAdmin.statusChanges.last?.at)
        let ended = KYCStatus.of([("ver_1", expiredByAdmin)], at: expiredAt.addingTimeInterval(1))
        XCTAssertEqual(ended, KYCStatus(verified: false, status: "expired", verifiedAt: expiredByAdmin.approvedAt, expiresAt: expiredAt,
                                        needsReverification: true, currentValidationID: "ver_1"))
        XCTAssertEqual(keys(ended.object), ["verified", "status", "verifiedAt", "expiresAt", "needsReverification", "currentValidationId"])
        XCTAssertEqual(ended.object["verified"], false)
        XCTAssertEqual(ended.object["expiresAt"]?.stringValue, Timestamp.rfc3339(expiredAt))
        XCTAssertEqual(none.object["currentValidationId"], .null)
    }
}
