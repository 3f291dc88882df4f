import Foundation
import LedgerDomain
import XCTest

/// The JSON type of a value, to check that each field of a view has the type its vendor documents.
enum JSONKind: Equatable {
    case null, bool, int, string, array, object

    init(_ value: JSONValue) {
        switch value {
        case .null: self = .null
        case .bool: self = .bool
        case .int, .double: self = .int
        case .string: self = .string
        case .array: self = .array
        case .object: self = .object
        }
    }
}

func keys(_ value: JSONValue?) -> [String] { value?.objectValue?.map(\.0) ?? [] }

final class StripeReportViewTests: XCTestCase {
    /// Every row of the one table, and the fall-back of each sub-object, as Stripe names them.
    func testEveryRowOfTheErrorTable() {
        typealias Row = (code: Int, check: StripeReportCheck, stripe: String)
        let rows: [Row] = [
            (62101, .document, "document_expired"),
            (62121, .document, "document_expired"),
            (62102, .document, "document_type_not_supported"),
            (62122, .document, "document_type_not_supported"),
            (62104, .document, "document_type_not_supported"),
            (62103, .document, "document_unverified_other"),
            (62201, .document, "document_unverified_other"),
            (62301, .document, "document_unverified_other"),
            (62304, .document, "document_unverified_other"),
            (61301, .document, "document_unverified_other"),
            (71901, .document, "document_unverified_other"),
            (99999, .document, "document_unverified_other"),
            (62304, .selfie, "selfie_face_mismatch"),
            (62321, .selfie, "selfie_face_mismatch"),
            (62305, .selfie, "selfie_manipulated"),
            (62306, .selfie, "selfie_manipulated"),
            (62307, .selfie, "selfie_manipulated"),
            (62405, .selfie, "selfie_unverified_other"),
            (61401, .selfie, "selfie_unverified_other"),
            (61414, .selfie, "selfie_unverified_other"),
            (61911, .selfie, "selfie_unverified_other"),
            (62101, .selfie, "selfie_unverified_other"),
            (62401, .idNumber, "id_number_mismatch"),
            (61112, .idNumber, "id_number_insufficient_document_data"),
            (61301, .idNumber, "id_number_insufficient_document_data"),
            (61315, .idNumber, "id_number_insufficient_document_data"),
            (61321, .idNumber, "id_number_insufficient_document_data"),
            (62399, .idNumber, "id_number_unverified_other"),
            (63001, .email, "email_verification_declined"),
            (62402, .email, "email_unverified_other"),
            (63001, .phone, "phone_verification_declined"),
            (71901, .phone, "phone_unverified_other"),
        ]
        for row in rows {
            XCTAssertEqual(StripeReportView.error(for: row.code, on: row.check).rawValue, row.stripe, "\(row.code) on \(row.check)")
        }
        for rule in StripeReportView.errorTable {
            XCTAssertEqual(rule.error.check, rule.check, "a row speaks for the sub-object its code belongs to: \(rule)")
            for code in [rule.codes.lowerBound, rule.codes.upperBound] {
                XCTAssertEqual(StripeReportView.error(for: code, on: rule.check), rule.error)
            }
        }
        let tabled = Set(StripeReportView.errorTable.map(\.error)).union(StripeReportCheck.allCases.map(\.otherError))
        XCTAssertEqual(tabled, Set(StripeErrorCode.allCases).subtracting([.selfieDocumentMissingPhoto]),
                       "every Stripe code is reachable but the one no code of ours means (the document has no photo)")
    }

    func testACombinedCheckBlamesTheDocumentOrTheSelfieForItsOwnCodesAndSignals() {
        func outcomes(_ status: CheckStatus, _ codes: [Int], _ signals: Signals = Signals()) -> [String?] {
            let result = CheckResult(check: .identityVerification, status: status, responseCodes: codes.map { ResponseCode(code: $0) }, signals: signals)
            return [StripeReportCheck.document, .selfie].map {
                StripeReportView.outcome($0, result: result, source: .identityVerification)?.rawValue
            }
        }
        XCTAssertEqual(outcomes(.approved, [10000]), [nil, nil])
        XCTAssertEqual(outcomes(.declined, [62304], Signals(documentAuthenticity: .pass)), [nil, "selfie_face_mismatch"])
        XCTAssertEqual(outcomes(.declined, [62304]), ["document_unverified_other", "selfie_face_mismatch"],
                       "the document is verified only if its own signal passed")
        XCTAssertEqual(outcomes(.declined, [62101], Signals(faceMatch: .pass)), ["document_expired", nil])
        XCTAssertEqual(outcomes(.declined, [62101, 62305], Signals(documentAuthenticity: .pass, faceMatch: .pass)),
                       ["document_expired", "selfie_manipulated"])
        XCTAssertEqual(outcomes(.declined, [], Signals(documentAuthenticity: .pass, faceMatch: .fail)), [nil, "selfie_face_mismatch"])
        XCTAssertEqual(outcomes(.declined, [], Signals(liveness: .fail)), ["document_unverified_other", "selfie_manipulated"])
        XCTAssertEqual(outcomes(.declined, [], Signals(documentAuthenticity: .fail, faceMatch: .pass)), ["document_unverified_other", nil])
        XCTAssertEqual(outcomes(.inconclusive, [71901], Signals(faceMatch: .pass)), ["document_unverified_other", nil])
        XCTAssertEqual(outcomes(.inconclusive, [71901]), ["document_unverified_other", "selfie_unverified_other"],
                       "an internal error is neither part's fault: both fail")
        XCTAssertEqual(outcomes(.retryRequired, [61401], Signals(documentAuthenticity: .pass)), [nil, "selfie_unverified_other"])
        XCTAssertEqual(outcomes(.declined, [], Signals(documentAuthenticity: .pass, faceMatch: .pass)),
                       ["document_unverified_other", "selfie_unverified_other"], "nothing blames either part: both fail")
        let document = CheckResult(check: .document, status: .declined, responseCodes: [ResponseCode(code: 62304)])
        XCTAssertEqual(StripeReportView.outcome(.document, result: document, source: .document), .documentUnverifiedOther,
                       "a document check alone answers for every code")
        let selfie = CheckResult(check: .selfie, status: .declined, signals: Signals(documentAuthenticity: .fail, liveness: .fail))
        XCTAssertEqual(StripeReportView.outcome(.selfie, result: selfie, source: .selfie), .selfieManipulated)
    }

    func testIDsLeadBackToTheVerification() {
        XCTAssertEqual(StripeReportView.sessionID(verificationID: "ver_00ab"), "vs_00ab")
        XCTAssertEqual(StripeReportView.verificationID(sessionID: "vs_00ab"), "ver_00ab")
        XCTAssertNil(StripeReportView.verificationID(sessionID: "vs_"))
        XCTAssertNil(StripeReportView.verificationID(sessionID: "vr_00ab"))
        let id = StripeReportView.reportID(verificationID: "ver_00ab", key: "a2")
        XCTAssertEqual(id, "vr_00ab_a2")
        XCTAssertEqual(StripeReportView.parseReportID(id)?.verificationID, "ver_00ab")
        XCTAssertEqual(StripeReportView.parseReportID(id)?.key, "a2")
        for bad in ["vr_", "vr__a1", "vr_00ab_", "vr_00ab", "vs_00ab_a1", ""] {
            XCTAssertNil(StripeReportView.parseReportID(bad), bad)
        }
    }

    func testDocumentTypesAndDates() {
        XCTAssertEqual(StripeReportView.documentType("PASSPORT"), "passport")
        XCTAssertEqual(StripeReportView.documentType("national_id"), "id_card")
        XCTAssertEqual(StripeReportView.documentType("drivers_license"), "driving_license")
        XCTAssertNil(StripeReportView.documentType("residence_permit"))
        XCTAssertNil(StripeReportView.documentType(nil))
    }

    static let extracted = ExtractedData(firstName: "Jenny", lastName: "Rosen", dateOfBirth: "1990-02-28", address: "1234 Main St.",
                                         document: .init(type: "driving_license", number: "D1", issuingCountry: "US",
                                                         issueDate: "2020-12-01", expiryDate: "2025-13-01"))

    func approvedResult(_ check: CheckType, attempt: String? = nil) -> VerificationCommand {
        .recordResult(CheckResult(check: check, status: .approved, responseCodes: [ResponseCode(code: 10000)],
                                  extractedData: Self.extracted, attemptID: attempt))
    }

    func testOneReportPerCompletedAttemptWithStripesShape() throws {
        var invitation = Scenario.invitation([.identityVerification])
        invitation.clientReferenceID = "user_7"
        var scenario = Scenario()
        scenario.run(.invite(invitation))
        scenario.run(startAttempt)
        XCTAssertEqual(StripeReportView.reports(verificationID: "ver_1", state: scenario.state), [])
        scenario.run(progress(.captureInProgress))
        scenario.run(progress(.captureAborted))
        let second = VerificationCommand.startAttempt(attemptID: "att_2", url: "https://verify.example/att_2", expiresAt: attemptExpiry)
        scenario.run(second)
        scenario.run(progress(.captureInProgress, "att_2"))
        scenario.run(progress(.checksInProgress, "att_2"))
        scenario.run(progress(.completed, "att_2"))
        scenario.run(.recordResult(CheckResult(check: .identityVerification, status: .retryRequired, responseCodes: [ResponseCode(code: 61301)],
                                               signals: Signals(faceMatch: .pass, liveness: .pass))))
        XCTAssertEqual(StripeReportView.reports(verificationID: "ver_1", state: scenario.state).map(\.id), ["vr_1_a2"],
                       "an aborted attempt has no report; a completed one has once its result is in")
        let third = VerificationCommand.startAttempt(attemptID: "att_3", url: "https://verify.example/att_3", expiresAt: attemptExpiry)
        scenario.run(third)
        scenario.run(progress(.captureInProgress, "att_3"))
        scenario.run(progress(.completed, "att_3"))
        XCTAssertEqual(StripeReportView.reports(verificationID: "ver_1", state: scenario.state).count, 1, "checks still in progress: no report yet")
        scenario.run(approvedResult(.identityVerification, attempt: "att_3"))
        let reports = StripeReportView.reports(verificationID: "ver_1", state: scenario.state)
        XCTAssertEqual(reports.map(\.id), ["vr_1_a2", "vr_1_a3"])
        XCTAssertEqual(reports.map(\.type), [.document, .document])
        XCTAssertEqual(reports.map(\.verificationSession), ["vs_1", "vs_1"])
        XCTAssertEqual(reports.map(\.clientReferenceID), ["user_7", "user_7"])

        let failed = reports[0].object, passed = reports[1].object
        XCTAssertEqual(keys(passed), ["id", "object", "client_reference_id", "created", "document", "email", "id_number", "livemode",
                                      "options", "phone", "selfie", "type", "verification_flow", "verification_session"])
        let types: [String: JSONKind] = [
            "id": .string, "object": .string, "client_reference_id": .string, "created": .int, "document": .object, "email": .null,
            "id_number": .null, "livemode": .bool, "options": .object, "phone": .null, "selfie": .object, "type": .string,
            "verification_flow": .null, "verification_session": .string,
        ]
        for (key, kind) in types { XCTAssertEqual(passed[key].map(JSONKind.init), kind, key) }
        XCTAssertEqual(passed["object"], "identity.verification_report")
        XCTAssertEqual(passed["livemode"], false)
        XCTAssertEqual(passed["created"]?.intValue, Int64(reports[1].created.timeIntervalSince1970))
        XCTAssertEqual(passed["options"], ["document": ["require_matching_selfie": true]])

        let document = try XCTUnwrap(passed["document"])
        XCTAssertEqual(keys(document), ["address", "dob", "error", "expiration_date", "files", "first_name", "issued_date",
                                        "issuing_country", "last_name", "status", "type"])
        XCTAssertEqual(document["status"], "verified")
        XCTAssertEqual(document["error"], .null)
        XCTAssertEqual(document["first_name"], "Jenny")
        XCTAssertEqual(document["last_name"], "Rosen")
        XCTAssertEqual(document["address"], ["city": nil, "country": nil, "line1": "1234 Main St.", "line2": nil, "postal_code": nil, "state": nil])
        XCTAssertEqual(document["dob"], ["day": 28, "month": 2, "year": 1990])
        XCTAssertEqual(document["issued_date"], ["day": 1, "month": 12, "year": 2020])
        XCTAssertEqual(document["expiration_date"], .null, "a date that does not exist is not made up")
        XCTAssertEqual(document["files"], [])
        XCTAssertEqual(document["type"], "driving_license")
        XCTAssertEqual(document["issuing_country"], "US")
        XCTAssertEqual(passed["selfie"], ["document": nil, "error": nil, "selfie": nil, "status": "verified"])

        XCTAssertEqual(failed["document"]?["status"], "unverified")
        XCTAssertEqual(failed["document"]?["error"]?["code"], "document_unverified_other")
        XCTAssertEqual(JSONKind(failed["document"]?["error"]?["reason"] ?? .null), .string)
        XCTAssertEqual(failed["selfie"]?["status"], "verified", "a document capture problem is not the selfie's")
        XCTAssertEqual(failed["document"]?["first_name"], .null, "nothing extracted from a failed pass")
    }

    func testChecksWithoutCaptureGetAReportPerResult() {
        var invitation = Scenario.invitation([.idNumber, .email, .phone, .amlScreening])
        invitation.applicant.email = "jenny@example.com"
        invitation.packageID = "pkg_contact"
        var scenario = Scenario()
        scenario.run(.invite(invitation))
        scenario.run(result(.amlScreening, .approved, aml: .clear))
        scenario.run(result(.email, .approved, codes: [10000]))
        scenario.run(result(.idNumber, .checksInProgress))
        scenario.run(result(.phone, .retryRequired, codes: [61205]))
        scenario.run(result(.phone, .approved, codes: [10000]))
        scenario.run(result(.idNumber, .declined, codes: [62401]))
        let reports = StripeReportView.reports(verificationID: "ver_2", state: scenario.state)
        XCTAssertEqual(reports.map(\.id), ["vr_2_e1", "vr_2_p1", "vr_2_p2", "vr_2_n1"], "in progress is not a report; screening has none")
        XCTAssertEqual(reports.map(\.type), [.verificationFlow, .verificationFlow, .verificationFlow, .idNumber])
        XCTAssertEqual(reports.map { $0.created.timeIntervalSince1970 }, reports.map { $0.created.timeIntervalSince1970 }.sorted())
        XCTAssertEqual(reports[0].object["email"], ["email": "jenny@example.com", "error": nil, "status": "verified"])
        XCTAssertEqual(reports[0].object["verification_flow"], "pkg_contact")
        XCTAssertEqual(reports[0].object["options"], .object([]))
        XCTAssertEqual(reports[0].object["document"], .null)
        XCTAssertEqual(reports[1].object["phone"]?["error"]?["code"], "phone_unverified_other")
        XCTAssertEqual(reports[2].object["phone"]?["status"], "verified")
        XCTAssertEqual(keys(reports[3].object["id_number"]), ["dob", "error", "first_name", "id_number_type", "last_name", "status"])
        XCTAssertEqual(reports[3].object["id_number"]?["error"]?["code"], "id_number_mismatch")
        XCTAssertEqual(reports[3].object["options"], ["id_number": .object([])])
        XCTAssertEqual(reports[3].object["verification_flow"], .null)
    }

    func testAnInconclusiveAttemptReportsWhatItCould() {
        let scenario = Scenario.make(checks: [.document, .selfie],
                                     [startAttempt, progress(.captureInProgress), progress(.checksInProgress), progress(.checksInconclusive)])
        let reports = StripeReportView.reports(verificationID: "ver_3", state: scenario.state)
        XCTAssertEqual(reports.map(\.id), ["vr_3_a1"])
        XCTAssertEqual(reports.first?.object["document"]?["error"]?["code"], "document_unverified_other")
        XCTAssertEqual(reports.first?.object["selfie"]?["error"]?["code"], "selfie_unverified_other")
        XCTAssertEqual(reports.first?.object["options"], ["document": ["require_matching_selfie": true]])
    }

    func testASecondAttemptReportsOnlyTheChecksStillOpen() {
        let second = VerificationCommand.startAttempt(attemptID: "att_2", url: "https://verify.example/att_2", expiresAt: attemptExpiry)
        let scenario = Scenario.make(checks: [.document, .selfie], [
            startAttempt, progress(.captureInProgress), progress(.completed),
            approvedResult(.document, attempt: "att_1"),
            .recordResult(CheckResult(check: .selfie, status: .retryRequired, responseCodes: [ResponseCode(code: 61410)], attemptID: "att_1")),
            second, progress(.captureInProgress, "att_2"), progress(.completed, "att_2"),
            .recordResult(CheckResult(check: .selfie, status: .declined, responseCodes: [ResponseCode(code: 62304)], attemptID: "att_2")),
        ])
        let reports = StripeReportView.reports(verificationID: "ver_4", state: scenario.state)
        XCTAssertEqual(reports.map(\.id), ["vr_4_a1", "vr_4_a2"])
        XCTAssertEqual(reports[0].object["document"]?["status"], "verified")
        XCTAssertEqual(reports[0].object["selfie"]?["error"]?["code"], "selfie_unverified_other")
        XCTAssertEqual(reports[1].object["document"], .null, "the document was settled in the first attempt")
        XCTAssertEqual(reports[1].object["selfie"]?["error"]?["code"], "selfie_face_mismatch")
        XCTAssertEqual(reports[1].object["options"], ["document": ["require_matching_selfie": true]])
    }

    func testAReportKeepsTheFirstDecisiveResultOfItsAttempt() {
        let scenario = Scenario.make(checks: [.identityVerification], [
            startAttempt, progress(.captureInProgress), progress(.completed),
            .recordResult(CheckResult(check: .identityVerification, status: .retryRequired, responseCodes: [ResponseCode(code: 61301)],
                                      attemptID: "att_1")),
            approvedResult(.identityVerification, attempt: "att_1"),
        ])
        let reports = StripeReportView.reports(verificationID: "ver_6", state: scenario.state)
        XCTAssertEqual(reports.map(\.id), ["vr_6_a1"])
        XCTAssertEqual(reports.first?.object["document"]?["status"], "unverified", "a report, once written, does not change")
    }

    func testReportsOnlyGrowAsTheStreamGoesOn() {
        let scenario = Scenario.make(checks: [.identityVerification, .email], [
            startAttempt, progress(.captureInProgress), progress(.completed), result(.email, .approved, codes: [10000]),
            approvedResult(.identityVerification),
        ])
        var state = VerificationDecider.initialState
        var previous: [StripeReport] = []
        for (index, event) in scenario.events.enumerated() {
            state = VerificationDecider.evolve(state, event, at: Scenario.start.addingTimeInterval(Double(index) * 60))
            let now = StripeReportView.reports(verificationID: "ver_5", state: state)
            XCTAssertEqual(Array(now.prefix(previous.count)), previous, "after event \(index)")
            previous = now
        }
        XCTAssertEqual(previous.map(\.id), ["vr_5_e1", "vr_5_a1"])
    }
}
