import Foundation
import LedgerDomain
import XCTest

/// The state without personal data is exactly the fold of the same events read without the entity's key, and the
/// erasure event says so in every view.
final class PersonalDataErasureStateTests: XCTestCase {
    let policy = PersonalDataPolicy.verification
    let start = Date(timeIntervalSince1970: 1_790_000_000)

    var events: [VerificationEvent] {
        [.invited(PersonalDataPolicyTests.invitation),
         .attemptStarted(attemptID: "att_1", url: "https://capture.example/att_1", expiresAt: start.addingTimeInterval(900)),
         .resultRecorded(PersonalDataPolicyTests.result),
         .resultRecorded(CheckResult(check: .amlScreening, status: .approved, signals: Signals(aml: .clear),
                                     extractedData: ExtractedData(lastName: "Quackenbush-Øre"), raw: ["list": "sanctions"]))]
    }

    func fold(_ events: [VerificationEvent]) -> VerificationState {
        events.enumerated().reduce(VerificationDecider.initialState) { state, step in
            VerificationDecider.evolve(state, step.element, at: start.addingTimeInterval(Double(step.offset)))
        }
    }

    func testRemovingPersonalDataFromAStateIsFoldingItsEventsWithoutTheKey() throws {
        let withoutKey = try events.map { event in
            try VerificationEvent(type: event.type, data: policy.merge(eventType: event.type, plain: policy.split(eventType: event.type, data: event.data).plain,
                                                                        personal: nil))
        }
        let removed = fold(events).personalDataRemoved
        XCTAssertEqual(removed, fold(withoutKey))
        XCTAssertNotEqual(removed, fold(events), "there was personal data to remove")
        for value in PersonalDataPolicyTests.personalValues {
            XCTAssertFalse(VerificationView.object(id: "ver_1", state: removed, version: 4).jsonString.contains(value), value)
            XCTAssertFalse(OrderView.object(id: "ver_1", state: removed)?.jsonString.contains(value) == true, value)
        }
    }

    func testTheErasureEventRemovesThePersonalDataMarksTheViewsAndChangesNoStatus() throws {
        let before = fold(events)
        let erasure = try VerificationDecider.decide(.erasePersonalData(reason: "asked", overrideRetention: true), before, now: start)
        XCTAssertEqual(erasure, [.personalDataErased(reason: "asked", overrideRetention: true)])
        let stored = try XCTUnwrap(erasure.first)
        XCTAssertEqual(try VerificationEvent(type: stored.type, data: stored.data), stored, "the event reads back as written")
        XCTAssertFalse(policy.carriesPersonalData(eventType: stored.type), "the erasure event holds no personal data")
        let after = VerificationDecider.evolve(before, stored, at: start.addingTimeInterval(10))
        XCTAssertTrue(after.personalDataErased)
        XCTAssertEqual(after.overallStatus, before.overallStatus)
        XCTAssertEqual(after.invitation?.applicant, Applicant())
        let view = PersonalDataMarker.marking(VerificationView.object(id: "ver_1", state: after, version: 5), after)
        XCTAssertEqual(view["personal_data"], "erased")
        XCTAssertEqual(PersonalDataMarker.marking(VerificationView.object(id: "ver_1", state: before, version: 4), before)["personal_data"], nil)
    }

    func testAHoldIsPlacedOnceLiftedOnceAndChangesNoView() throws {
        let before = fold(events)
        let placed = try VerificationDecider.decide(.placeLegalHold(reason: "court order"), before, now: start)
        XCTAssertEqual(placed, [.legalHoldPlaced(reason: "court order")])
        XCTAssertEqual(try placed.map { try VerificationEvent(type: $0.type, data: $0.data) }, placed, "the events read back as written")
        let held = VerificationDecider.evolve(before, placed, at: start.addingTimeInterval(10))
        XCTAssertEqual(held.legalHold, "court order")
        XCTAssertEqual(try VerificationDecider.decide(.placeLegalHold(reason: "another"), held, now: start), [], "a held stream keeps its first hold")
        XCTAssertEqual(try VerificationDecider.decide(.liftLegalHold(reason: "closed"), before, now: start), [], "a stream not held lifts nothing")
        XCTAssertEqual(VerificationView.object(id: "ver_1", state: held, version: 5), VerificationView.object(id: "ver_1", state: before, version: 5),
                       "a hold is no change of the verification")
        let lifted = try VerificationDecider.decide(.liftLegalHold(reason: "closed"), held, now: start)
        XCTAssertEqual(lifted, [.legalHoldLifted(reason: "closed")])
        XCTAssertNil(VerificationDecider.evolve(held, lifted, at: start.addingTimeInterval(20)).legalHold)
    }
}
