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
