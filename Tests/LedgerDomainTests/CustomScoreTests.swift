import Foundation
import LedgerDomain
import XCTest

final class CustomScoreTests: XCTestCase {
    let completed = [startAttempt, progress(.captureInProgress), progress(.completed), result(.approved)]

    func testEachScalarKindKeepsItsTypeThroughTheEventTheStateAndTheOrder() throws {
        let values: [(String, JSONValue)] = [("risk", .double(12.5)), ("count", .int(3)), ("band", "high"), ("flag", true)]
        let scenario = Scenario.make(completed + values.map { .setCustomScore(name: $0.0, value: $0.1, reason: nil) })
        for (name, value) in values {
            XCTAssertEqual(scenario.state.customScores[name]?.jsonString, value.jsonString, name)
        }
        let stored = try scenario.events.suffix(values.count).map { try VerificationEvent(type: $0.type, data: $0.data) }
        XCTAssertEqual(stored, Array(scenario.events.suffix(values.count)))
        XCTAssertEqual(stored.map { $0.data["value"]?.jsonString }, values.map { $0.1.jsonString })
        let order = try XCTUnwrap(OrderView.object(id: "ver_1", state: scenario.state))
        XCTAssertEqual(order["custom_scores"]?.jsonString, #"{"band":"high","count":3,"flag":true,"risk":12.5}"#)
    }

    func testSettingTheSameValueAgainIsANoOpButAnotherTypeIsAChange() throws {
        var scenario = Scenario.make(completed + [.setCustomScore(name: "flag", value: true, reason: nil)])
        XCTAssertEqual(scenario.run(.setCustomScore(name: "flag", value: true, reason: "again")), [])
        XCTAssertEqual(scenario.run(.setCustomScore(name: "flag", value: "true", reason: nil)).count, 1, "the string is not the boolean")
        scenario.run(.setCustomScore(name: "risk", value: .int(12), reason: nil))
        XCTAssertEqual(scenario.run(.setCustomScore(name: "risk", value: .double(12), reason: nil)), [], "12 and 12.0 are one number")
    }

    func testAChangeToAnyKindIsAWebhookWithThePreviousValueInItsOwnType() {
        var scenario = Scenario.make(completed + [.setCustomScore(name: "risk", value: .double(0.5), reason: nil)])
        let before = scenario.state
        scenario.run(.setCustomScore(name: "risk", value: false, reason: nil))
        let changes = WebhookChanges.between(before, scenario.state)
        XCTAssertEqual(changes.map(\.type), [.orderCustomScoreChange])
        XCTAssertEqual(changes.first?.previous.jsonString, #"{"custom_scores":{"risk":0.5}}"#)
    }

    func testNullArraysObjectsAndOversizedValuesAreRefusedNamingTheParameter() {
        let state = Scenario.make(completed).state
        let refused: [(String, JSONValue, String)] = [
            ("risk", .null, "value"), ("risk", [1], "value"), ("risk", ["a": 1], "value"), ("risk", "", "value"),
            ("risk", .string(String(repeating: "x", count: 101)), "value"), ("risk", .double(.infinity), "value"),
            ("", 1, "name"), (String(repeating: "n", count: 41), 1, "name"),
        ]
        for (name, value, param) in refused {
            XCTAssertThrowsError(try VerificationDecider.decide(.setCustomScore(name: name, value: value, reason: nil), state, now: Scenario.start)) { error in
                guard case let .invalidParameter(refusedParam, _)? = error as? VerificationError else { return XCTFail("\(error)") }
                XCTAssertEqual(refusedParam, param, "\(value)")
            }
        }
        XCTAssertNoThrow(try VerificationDecider.decide(.setCustomScore(name: String(repeating: "n", count: 40),
                                                                        value: .string(String(repeating: "x", count: 100)), reason: nil),
                                                        state, now: Scenario.start))
    }

    func testAStringValueWrittenBeforeScalarsReadsUnchangedAndARulesetReferenceSurvives() throws {
        let old = try VerificationEvent(type: "CustomScoreSet", schemaVersion: 1, data: ["name": "tier", "value": "gold", "reason": .null])
        XCTAssertEqual(old, .customScoreSet(name: "tier", value: "gold", reason: nil))
        let reference = RulesetReference(name: "risk", version: 2, hash: "sha256:ab")
        let event = VerificationEvent.customScoreSet(name: "tier", value: 7, reason: nil, ruleset: reference)
        XCTAssertEqual(try VerificationEvent(type: event.type, data: event.data), event)
        XCTAssertThrowsError(try VerificationEvent(type: "CustomScoreSet", data: ["name": "tier", "value": ["nested": 1]]))
        XCTAssertThrowsError(try VerificationEvent(type: "CustomScoreSet", data: ["name": "tier", "value": 1, "ruleset": "risk"]))
    }
}
