import Foundation
import LedgerDomain
import XCTest

/// The split of every verification event into a plain part and a personal part, and the merge back.
final class PersonalDataPolicyTests: XCTestCase {
    let policy = PersonalDataPolicy.verification
    static let deadline = Date(timeIntervalSince1970: 1_795_000_000)

    static let applicant = Applicant(firstName: "Jolanda", lastName: "Quackenbush-Øre", email: "jolanda.q@example.org",
                                     address: "12 Rue des Tilleuls, 75011 Paris")
    static let extracted = ExtractedData(firstName: "Jolanda", lastName: "Quackenbush-Øre", dateOfBirth: "1984-02-29",
                                         address: "12 Rue des Tilleuls, 75011 Paris",
                                         document: .init(type: "passport", number: "X7Q4410982", issuingCountry: "FR",
                                                         issueDate: "2019-06-03", expiryDate: "2029-06-02"))
    static let raw: JSONValue = ["provider_check": "chk_901", "mrz": "P<FRAQUACKENBUSH<ORE<<JOLANDA<<<<<<",
                                 "files": [["id": "file_front_77a", "purpose": "identity_document"]], "score": 97]
    /// Every value above that must never be readable without the entity's key.
    static let personalValues = ["Jolanda", "Quackenbush", "jolanda.q@example.org", "Rue des Tilleuls", "1984-02-29",
                                 "X7Q4410982", "2019-06-03", "2029-06-02", "P<FRAQUACKENBUSH", "file_front_77a"]

    static let invitation = Invitation(entityID: "cus_4410", clientReferenceID: "ref-9", packageID: "pkg_kyc",
                                       checks: [.identityVerification, .amlScreening], applicant: applicant,
                                       metadata: ["plan": "gold"], postbackURL: "https://client.example/hook",
                                       postbackEvents: ["ORDER_STATUS_CHANGE"], expiresAt: deadline)
    static let result = CheckResult(check: .identityVerification, status: .approved, responseCodes: [ResponseCode(code: 10000)],
                                    signals: Signals(documentAuthenticity: .pass, faceMatch: .pass, liveness: .pass),
                                    extractedData: extracted, riskLabels: ["low"], providerReference: "prov_55", raw: raw,
                                    attemptID: "att_1")

    /// One of each event, the two that carry personal data first.
    static let everyEvent: [VerificationEvent] = [
        .invited(invitation),
        .resultRecorded(result),
        .attemptStarted(attemptID: "att_1", url: "https://verify.example/att_1", expiresAt: deadline),
        .attemptStatusChanged(attemptID: "att_1", from: .pendingRedirection, to: .captureInProgress, code: nil),
        .scoreAssigned(score: .idVerified, reason: "reviewed"),
        .customScoreSet(name: "risk", value: "low", reason: nil),
        .disputeOpened(disputeID: "dsp_1", reason: "client disagrees"),
        .disputeResolved(disputeID: "dsp_1", outcome: .upheld, score: .idVerified, reason: "checked again"),
        .statusOverridden(status: .approved, reason: "manual review"),
        .withdrawn(reason: "customer left"),
        .metadataUpdated(changes: ["plan": "silver", "old": nil]),
        .expired,
    ]

    func testEveryEventWithPersonalDataRoundTripsAndItsPlainPartHoldsNoneOfIt() throws {
        let events = [VerificationEvent.invited(Self.invitation), .resultRecorded(Self.result)]
        for value in Self.personalValues {
            XCTAssertTrue(events.contains { $0.data.jsonString.contains(value) }, "\(value) is in no event, so proves nothing")
        }
        for event in events {
            let split = policy.split(eventType: event.type, data: event.data)
            let plain = split.plain.jsonString, personal = split.personal?.jsonString ?? ""
            for value in Self.personalValues where event.data.jsonString.contains(value) {
                XCTAssertFalse(plain.contains(value), "\(event.type): plain part shows \(value)")
                XCTAssertTrue(personal.contains(value), "\(event.type): personal part lacks \(value)")
            }
            let merged = policy.merge(eventType: event.type, plain: split.plain, personal: split.personal)
            XCTAssertEqual(merged.jsonString, event.data.jsonString, "member order is kept too")
            XCTAssertEqual(try VerificationEvent(type: event.type, data: merged), event)
        }
    }

    func testOnlyTheInviteAndTheResultCarryPersonalDataAndTheOthersAreLeftAlone() {
        for event in Self.everyEvent {
            let split = policy.split(eventType: event.type, data: event.data)
            XCTAssertEqual(split.personal != nil, ["VerificationInvited", "CheckResultRecorded"].contains(event.type), event.type)
            XCTAssertEqual(policy.carriesPersonalData(eventType: event.type), split.personal != nil, event.type)
            if split.personal == nil { XCTAssertEqual(split.plain.jsonString, event.data.jsonString, event.type) }
        }
        XCTAssertEqual(policy.paths(ofEventType: "VerificationInvited").map(\.description), ["applicant.*"])
        XCTAssertEqual(policy.paths(ofEventType: "CheckResultRecorded").map(\.description), ["extracted_data", "raw"])
    }

    func testWhatIsNotPersonalStaysInThePlainPart() {
        let invite = policy.split(eventType: "VerificationInvited", data: VerificationEvent.invited(Self.invitation).data).plain
        XCTAssertEqual(invite["entity_id"], "cus_4410")
        XCTAssertEqual(invite["client_reference_id"], "ref-9")
        XCTAssertEqual(invite["metadata"], ["plan": "gold"], "metadata is the client's, stored as given")
        XCTAssertEqual(invite["checks"], ["identity_verification", "aml_screening"])
        let result = policy.split(eventType: "CheckResultRecorded", data: VerificationEvent.resultRecorded(Self.result).data).plain
        XCTAssertEqual(result["status"], "approved")
        XCTAssertEqual(result["response_codes"]?.arrayValue?.first?["code"], 10000)
        XCTAssertEqual(result["signals"]?["face_match"], "pass")
        XCTAssertEqual(result["risk_labels"], ["low"])
        XCTAssertEqual(result["provider_reference"], "prov_55")
        XCTAssertEqual(result["attempt_id"], "att_1")
    }

    func testAnErasedMergeGivesNullForEveryPersonalFieldAndStillDecodes() throws {
        let invite = VerificationEvent.invited(Self.invitation)
        let erasedInvite = policy.merge(eventType: invite.type, plain: policy.split(eventType: invite.type, data: invite.data).plain,
                                        personal: nil)
        XCTAssertEqual(erasedInvite["applicant"], ["first_name": nil, "last_name": nil, "email": nil, "address": nil])
        guard case let .invited(readInvite) = try VerificationEvent(type: invite.type, data: erasedInvite) else {
            return XCTFail("not an invite")
        }
        var expectedInvite = Self.invitation
        expectedInvite.applicant = Applicant()
        XCTAssertEqual(readInvite, expectedInvite)

        let result = VerificationEvent.resultRecorded(Self.result)
        let erasedResult = policy.merge(eventType: result.type, plain: policy.split(eventType: result.type, data: result.data).plain,
                                        personal: nil)
        XCTAssertEqual(erasedResult["extracted_data"], .null)
        XCTAssertEqual(erasedResult["raw"], .null)
        var expectedResult = Self.result
        expectedResult.extractedData = nil
        expectedResult.raw = nil
        XCTAssertEqual(try VerificationEvent(type: result.type, data: erasedResult), .resultRecorded(expectedResult))
        for value in Self.personalValues {
            XCTAssertFalse(erasedInvite.jsonString.contains(value) || erasedResult.jsonString.contains(value), value)
        }
    }

    func testAnErasedMergeAlsoHidesPersonalDataOfEventsWrittenBeforeTheSplit() {
        for event in [VerificationEvent.invited(Self.invitation), .resultRecorded(Self.result)] {
            let erased = policy.merge(eventType: event.type, plain: event.data, personal: nil).jsonString
            for value in Self.personalValues { XCTAssertFalse(erased.contains(value), "\(event.type) shows \(value)") }
        }
    }

    func testAbsentMembersStayAbsentAndAnEventWithoutPersonalValuesHasNoPersonalPart() throws {
        var invitation = Self.invitation
        invitation.applicant = Applicant(email: "only@example.org")
        let split = policy.split(eventType: "VerificationInvited", data: VerificationEvent.invited(invitation).data)
        XCTAssertEqual(split.plain["applicant"], ["email": nil])
        XCTAssertEqual(split.personal, ["applicant": ["email": "only@example.org"]])

        invitation.applicant = Applicant()
        XCTAssertNil(policy.split(eventType: "VerificationInvited", data: VerificationEvent.invited(invitation).data).personal)
        let screening = CheckResult(check: .amlScreening, status: .approved)
        let bare = policy.split(eventType: "CheckResultRecorded", data: VerificationEvent.resultRecorded(screening).data)
        XCTAssertNil(bare.personal)
        XCTAssertNil(bare.plain["extracted_data"], "no null is added where nothing was")
        XCTAssertEqual(policy.merge(eventType: "CheckResultRecorded", plain: bare.plain, personal: nil).jsonString,
                       VerificationEvent.resultRecorded(screening).data.jsonString)
    }

    func testAMergeWritesOnlyThePolicysPathsWhateverThePersonalPartHolds() {
        let data = VerificationEvent.resultRecorded(Self.result).data
        let plain = policy.split(eventType: "CheckResultRecorded", data: data).plain
        let forged: JSONValue = ["status": "declined", "attempt_id": "att_other", "raw": ["ok": true]]
        let merged = policy.merge(eventType: "CheckResultRecorded", plain: plain, personal: forged)
        XCTAssertEqual(merged["status"], "approved")
        XCTAssertEqual(merged["attempt_id"], "att_1")
        XCTAssertEqual(merged["raw"], ["ok": true])
        XCTAssertEqual(merged["extracted_data"], .null)
    }

    func testAMemberNamedTwiceIsSplitOffBothTimes() throws {
        // Documents kept as `json` may name a member twice; neither copy may stay readable.
        let stored = try JSONValue.parse(#"{"check":"document","status":"approved","raw":{"a":"secret-1"},"raw":"secret-2"}"#)
        let split = policy.split(eventType: "CheckResultRecorded", data: stored)
        XCTAssertFalse(split.plain.jsonString.contains("secret"))
        XCTAssertTrue(split.personal?.jsonString.contains("secret-1") == true && split.personal?.jsonString.contains("secret-2") == true)
    }
}
