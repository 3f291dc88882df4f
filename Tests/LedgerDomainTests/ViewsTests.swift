import Foundation
import LedgerDomain
import XCTest

final class ViewsTests: XCTestCase {
    /// Every row of the SPEC §4 table: overall → validation (seed 004), customer verification (seed 003), order.
    func testEveryRowOfTheMappingTable() {
        typealias Row = (OverallStatus, captureStarted: Bool, validation: String, customer: String, order: Views.OrderMapping)
        let rows: [Row] = [
            (.created, false, "pending", "pending", .none),
            (.pending, false, "pending", "pending", .none),
            (.captureInProgress, true, "in_progress", "pending", .none),
            (.checksInProgress, true, "in_progress", "pending", .status(.inProgress)),
            (.screeningInProgress, false, "in_progress", "pending", .status(.inProgress)),
            (.reviewRequired, true, "in_progress", "pending", .status(.pending)),
            (.retryRequired, true, "in_progress", "pending", .unchanged),
            (.approved, true, "approved", "verified", .status(.complete)),
            (.declined, true, "rejected", "failed", .status(.complete)),
            (.inconclusive, true, "rejected", "failed", .status(.incomplete)),
            (.refused, false, "abandoned", "failed", .status(.incomplete)),
            (.withdrawn, false, "abandoned", "failed", .status(.incomplete)),
            (.expired, false, "expired", "expired", .status(.incomplete)),
            (.expired, true, "abandoned", "expired", .status(.incomplete)),
        ]
        XCTAssertEqual(Set(rows.map(\.0)), Set(OverallStatus.allCases), "the table covers every overall status")
        for row in rows {
            XCTAssertEqual(Views.validationStatus(row.0, captureStarted: row.captureStarted), row.validation, "\(row.0)")
            XCTAssertEqual(Views.customerVerificationStatus(row.0), row.customer, "\(row.0)")
            XCTAssertEqual(Views.orderMapping(row.0), row.order, "\(row.0)")
        }
    }

    func state(_ checks: [(CheckType, CheckStatus)], aml: AMLOutcome? = nil, labels: [String] = [], ending: Ending? = nil) -> VerificationState {
        var state = VerificationState()
        state.invitation = Invitation(entityID: "e", checks: checks.map(\.0), expiresAt: Date())
        state.checks = checks.map { type, status in
            var check = CheckState(type: type, updatedAt: Date())
            check.status = status
            if type == .amlScreening { check.signals.aml = aml }
            if type == .backgroundCheck { check.riskLabels = labels }
            return check
        }
        state.ending = ending
        return state
    }

    func testOverallStatusCombinesChecksByPrecedence() {
        XCTAssertEqual(state([(.document, .approved), (.selfie, .declined), (.email, .refused)]).overallStatus, .declined)
        XCTAssertEqual(state([(.document, .refused), (.selfie, .inconclusive)]).overallStatus, .refused)
        XCTAssertEqual(state([(.document, .inconclusive), (.selfie, .reviewRequired)]).overallStatus, .inconclusive)
        XCTAssertEqual(state([(.document, .reviewRequired), (.selfie, .approved)]).overallStatus, .reviewRequired)
        XCTAssertEqual(state([(.document, .approved), (.selfie, .approved)]).overallStatus, .approved)
        XCTAssertEqual(state([(.document, .approved), (.selfie, .checksInProgress), (.email, .created)]).overallStatus, .created)
        XCTAssertEqual(state([(.document, .checksInProgress), (.amlScreening, .screeningInProgress)]).overallStatus, .checksInProgress)
        XCTAssertEqual(state([(.document, .retryRequired), (.email, .created)]).overallStatus, .retryRequired)
        XCTAssertEqual(state([(.document, .approved)], ending: .withdrawn).overallStatus, .withdrawn)
        XCTAssertEqual(state([(.document, .declined)], ending: .overridden(.approved)).overallStatus, .approved)
        XCTAssertEqual(state([(.document, .approved)], ending: .overridden(.expired)).overallStatus, .expired)
    }

    func testAutomaticScoresPerPackage() {
        // Identity checks only.
        XCTAssertEqual(Views.automaticScore(state([(.document, .checksInProgress), (.selfie, .pending)])), .pending)
        XCTAssertEqual(Views.automaticScore(state([(.document, .approved), (.idNumber, .approved)])), .idVerified)
        XCTAssertEqual(Views.automaticScore(state([(.document, .declined)])), .idNotVerified)
        XCTAssertEqual(Views.automaticScore(state([(.document, .inconclusive)])), .idNotVerified)
        XCTAssertEqual(Views.automaticScore(state([(.document, .reviewRequired)])), .reviewRequired)
        // Screening only.
        XCTAssertEqual(Views.automaticScore(state([(.amlScreening, .screeningInProgress)])), .screeningPending)
        XCTAssertEqual(Views.automaticScore(state([(.amlScreening, .approved)], aml: .clear)), .screeningNoAlert)
        XCTAssertEqual(Views.automaticScore(state([(.amlScreening, .reviewRequired)])), .screeningAlert)
        XCTAssertEqual(Views.automaticScore(state([(.amlScreening, .screeningInProgress)], aml: .match)), .screeningAlert)
        // Background checks and mixed packages.
        XCTAssertEqual(Views.automaticScore(state([(.document, .approved), (.backgroundCheck, .checksInProgress)])), .pending)
        XCTAssertEqual(Views.automaticScore(state([(.backgroundCheck, .checksInProgress)], labels: ["on_hold"])), .onHold)
        XCTAssertEqual(Views.automaticScore(state([(.document, .approved), (.backgroundCheck, .approved)])), .noAlerts)
        XCTAssertEqual(Views.automaticScore(state([(.document, .approved), (.backgroundCheck, .approved)], labels: ["alert"])), .alertsFound)
        XCTAssertEqual(Views.automaticScore(state([(.document, .declined), (.amlScreening, .approved)])), .alertsFound)
        XCTAssertEqual(Views.automaticScore(state([(.document, .approved), (.amlScreening, .approved)], aml: .match)), .alertsFound)
        XCTAssertEqual(Views.automaticScore(state([(.email, .reviewRequired), (.amlScreening, .approved)])), .reviewRequired)
        // Withdrawn or refused, whatever the package.
        XCTAssertEqual(Views.automaticScore(state([(.document, .pending)], ending: .withdrawn)), .withdrawn)
        XCTAssertEqual(Views.automaticScore(state([(.amlScreening, .refused)])), .withdrawn)
    }

    func testAlertsOnlyOnceCompleteAndForTheRightReasons() {
        var approved = state([(.document, .approved)])
        XCTAssertNil(Views.orderAlert(approved))
        approved.orderStatus = .complete
        XCTAssertEqual(Views.orderAlert(approved), .noAlertsFound)
        approved.checks[0].responseCodes = [ResponseCode(code: 62402)]
        XCTAssertEqual(Views.orderAlert(approved), .alertsFound, "suspicious behaviour code")
        var reviewed = state([(.document, .approved)])
        reviewed.orderStatus = .complete
        for score in OrderScore.allCases {
            reviewed.manualScore = score
            XCTAssertEqual(Views.orderAlert(reviewed), score.meansAlert ? .alertsFound : .noAlertsFound, score.rawValue)
        }
        XCTAssertEqual(Set(OrderScore.allCases.filter(\.meansAlert)), [.idNotVerified, .alertsFound, .screeningAlert, .preAdverse, .adverseAction])
    }

    /// `LEDGER_REFERENCE_DIR/check-codes.md`, else `shared/reference/check-codes.md` in the nearest folder above
    /// this repository that has one (a worktree sits deeper than the main checkout).
    static func checkCodesReference() -> URL? {
        if let folder = ProcessInfo.processInfo.environment["LEDGER_REFERENCE_DIR"], !folder.isEmpty {
            return URL(fileURLWithPath: folder).appendingPathComponent("check-codes.md")
        }
        var folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        while folder.path != "/" {
            folder = folder.deletingLastPathComponent()
            let candidate = folder.appendingPathComponent("shared/reference/check-codes.md")
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
        }
        return nil
    }

    func testResponseCodesComeFromTheReference() throws {
        XCTAssertEqual(ResponseCode(code: 10000).summary, "approved")
        XCTAssertEqual(ResponseCode(code: 64001).summary, "forcibly_closed")
        XCTAssertEqual(ResponseCode(code: 61321).summary, "secondary_document_blurry")
        XCTAssertEqual(ResponseCode(code: 62331).summary, "secondary_document_counterfeit")
        XCTAssertEqual(ResponseCode(code: 99999).summary, nil, "an unknown code is kept without a summary")
        XCTAssertEqual(ResponseCode(code: 99999, summary: "vendor_special").summary, "vendor_special")
        XCTAssertEqual(ResponseCode.reference.count, 51)
        XCTAssertEqual(OrderScore.allCases.count, 15)

        // The generated table is the reference: a missing reference fails, it never passes unchecked.
        guard let reference = Self.checkCodesReference() else {
            return XCTFail("shared/reference/check-codes.md is in no folder above this repository; set LEDGER_REFERENCE_DIR to its folder")
        }
        let text = try String(contentsOf: reference, encoding: .utf8)
        for entry in ResponseCode.reference {
            XCTAssertTrue(text.contains("| \(entry.code) | \(entry.summary) |"), "\(entry.code)")
        }
        for status in CheckStatus.allCases { XCTAssertTrue(text.contains("| `\(status.rawValue)` |"), status.rawValue) }
        for status in AttemptStatus.allCases { XCTAssertTrue(text.contains("| `\(status.rawValue)` |"), status.rawValue) }
    }
}
