import Foundation
import LedgerDomain
import XCTest

final class RulesetDomainTests: XCTestCase {
    /// Not SHA-256: the domain is handed its hash function, and these tests only need one that sees every byte.
    let digest: ([UInt8]) -> [UInt8] = { bytes in [UInt8(truncatingIfNeeded: bytes.count)] + bytes.prefix(64) + bytes.suffix(64) }

    func make(_ rules: JSONValue, description: String? = nil) throws -> Ruleset {
        try Ruleset(name: "risk", description: description, rules: rules, sha256: digest)
    }

    func testTheHashIsAFunctionOfTheContentAlone() throws {
        let a = try make(["x": ["var": "a"], "y": 1]), b = try make(["y": 1, "x": ["var": "a"]])
        XCTAssertEqual(a.hash, b.hash)
        XCTAssertNotEqual(a.hash, try make(["x": ["var": "a"], "y": 2]).hash)
        XCTAssertNotEqual(a.hash, try make(["x": ["var": "a"], "y": 1], description: "d").hash)
    }

    func testEachRuleGivesAScoreOrAFailureNamingItsPath() throws {
        let ruleset = try make(["band": ["if": [[">": [["var": "metadata.risk"], 5]], "high", "low"]], "bad": ["+": ["x"]],
                                "none": ["var": "nothing"], "seen": ["var": "now"]])
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let results = ruleset.evaluate(["metadata": ["risk": 7]], now: now)
        XCTAssertEqual(results.map(\.score), ["bad", "band", "none", "seen"])
        XCTAssertEqual(try results[1].result.get(), "high")
        XCTAssertEqual(try results[3].result.get(), .string(Timestamp.rfc3339(now)), "rules see now")
        guard case let .failure(nan) = results[0].result, case let .failure(notAScore) = results[2].result else { return XCTFail() }
        XCTAssertEqual(nan.type, "NaN")
        XCTAssertTrue(nan.message.hasPrefix("rules.bad"), nan.message)
        XCTAssertEqual(notAScore.type, "Not A Score", "null is no custom score")
    }

    func testFieldsTheRulesReadThatTheDocumentLacksAreReported() throws {
        let ruleset = try make(["a": ["and": [["var": "status"], ["var": "metadata.tier"], ["var": ["score", "x"]]]],
                                "b": ["some": [["var": "checks"], ["==": [["var": "status"], "declined"]]]]])
        XCTAssertEqual(ruleset.variablePaths, ["status", "metadata.tier", "score", "checks"], "not the paths inside some's body")
        XCTAssertEqual(ruleset.missingFields(in: ["status": "COMPLETE", "metadata": [:], "checks": []]), ["metadata.tier", "score"])
    }

    func testTheDocumentMembersTheRulesReadAreKnownOrSaidUnknown() throws {
        let ruleset = try make([
            "a": ["if": [["var": ["metadata.risk", ["var": "score"]]], ["val": ["alert"]], ["missing": ["status", "package_id.x"]]]],
            "b": ["reduce": [["var": "checks"], ["+": [["var": "accumulator"], ["var": "current.x"]]], ["var": "custom_scores.base"]]],
            "c": ["missing_some": [1, ["entity_id", "livemode"]]], "d": ["var": 3],
        ])
        XCTAssertEqual(ruleset.documentMembersRead,
                       ["metadata", "score", "alert", "status", "package_id", "checks", "custom_scores", "entity_id", "livemode", "3"],
                       "a reduce's initial value reads the document, its body the element")
        XCTAssertEqual(ruleset.variablePaths, ["metadata.risk", "score", "checks", "custom_scores.base"], "with the reduce's initial value")
        for unknown: JSONValue in [["var": ""], ["var": [["cat": ["me", "tadata"]]]], ["val": []], ["missing": [["var": "keys"]]],
                                   ["missing_some": [1, ["merge": [["a"]]]]], ["!!": [["var": nil]]]] {
            XCTAssertNil(try make(["x": ["var": "status"], "y": unknown]).documentMembersRead, unknown.jsonString)
        }
        XCTAssertEqual(try make(["x": ["map": [["var": "checks"], ["var": ""]]]]).documentMembersRead, ["checks"],
                       "the whole element, not the whole document")
    }

    func testOrderDocumentsReadTheSameWithoutTheirPersonalMembers() throws {
        let start = Date(timeIntervalSince1970: 1_790_000_000)
        let events: [VerificationEvent] = [
            .invited(PersonalDataPolicyTests.invitation), .resultRecorded(PersonalDataPolicyTests.result),
            .resultRecorded(CheckResult(check: .amlScreening, status: .approved, signals: Signals(aml: .clear),
                                        extractedData: ExtractedData(lastName: "Quackenbush-Øre"), raw: ["list": "sanctions"])),
        ]
        let state = events.enumerated().reduce(VerificationDecider.initialState) { state, step in
            VerificationDecider.evolve(state, step.element, at: start.addingTimeInterval(Double(step.offset)))
        }
        guard case let .object(full)? = OrderView.object(id: "ver_1", state: state),
              case let .object(plain)? = OrderView.object(id: "ver_1", state: state.personalDataRemoved) else { return XCTFail("no order") }
        XCTAssertEqual(full.map(\.0), plain.map(\.0))
        let differing = zip(full, plain).filter { $0.1 != $1.1 }.map(\.0.0)
        XCTAssertEqual(differing, ["user", "documents"], "there was personal data to remove")
        XCTAssertTrue(Set(differing).isSubset(of: OrderView.personalMembers))
    }

    func testNamesAndRulesAreChecked() {
        XCTAssertThrowsError(try Ruleset(name: "Bad Name", description: nil, rules: ["a": 1], sha256: digest)) {
            XCTAssertEqual(($0 as? Ruleset.Problem)?.param, "name")
        }
        XCTAssertThrowsError(try make(["a": ["nope": 1]])) {
            XCTAssertEqual(($0 as? Ruleset.Problem)?.jsonLogic?.type, "Unknown Operator")
            XCTAssertEqual(($0 as? Ruleset.Problem)?.param, "rules.a")
        }
        XCTAssertThrowsError(try make(.object((0...Ruleset.maxRules).map { ("s\($0)", 1) })))
        XCTAssertThrowsError(try make([String(repeating: "n", count: 41): 1]))
    }
}
