import Foundation
import LedgerAPI
import LedgerDomain
import LedgerTestSupport
import XCTest

final class JsonLogicAPITests: XCTestCase, ServiceTestCase {
    var service: ServiceFixture!

    override func setUpWithError() throws { try startService() }

    func evaluate(_ body: JSONValue, expect status: Int, file: StaticString = #filePath, line: UInt = #line) throws -> JSONValue {
        let response = try client.post("/v1/jsonlogic/evaluate", json: body, headers: .bearer(acme.readKey))
        XCTAssertEqual(response.status, status, response.text, file: file, line: line)
        return response.json ?? .null
    }

    /// A rule of `levels` nested `!!` operations over `true`: each is an object holding an array, two levels.
    func nested(levels: Int) -> JSONValue {
        (0..<levels).reduce(JSONValue.bool(true)) { inner, _ in ["!!": [inner]] }
    }

    func testARuleEvaluatesAgainstTheData() throws {
        let answer = try evaluate(["rule": ["if": [[">": [["var": "order.risk"], 10]], "high", "low"]], "data": ["order": ["risk": 12.5]]],
                                  expect: 200)
        XCTAssertEqual(answer.jsonString, #"{"result":"high"}"#)
        XCTAssertEqual(try evaluate(["rule": ["var": ["missing", 7]]], expect: 200)["result"], 7, "data absent is null")
    }

    /// The suites' `decimal` cases (and two of JavaScript's binary neighbours), compared as decimals read from the
    /// answer's own text: the tester must spell each number as the decimal it is, not as a longer binary neighbour.
    func testNumbersAnswerAsTheDecimalsTheyAre() throws {
        let cases: [(rule: JSONValue, decimal: String)] = [
            (["+": "1.5"], "1.5"), (["+": "-1.5"], "-1.5"), (["+": "0.5"], "0.5"), (["/": [2, 4]], "0.5"), (["/": [-1, 2]], "-0.5"),
            (["/": 2], "0.5"), (["%": [1, 0.5]], "0"), (["*": [0.1, 3]], "0.30000000000000004"), (["+": [0.1, 0.2]], "0.30000000000000004"),
            (["-": [1e21, 1]], "1e21"), (["/": [1, 3]], "0.3333333333333333"),
        ]
        for (rule, decimal) in cases {
            let response = try client.post("/v1/jsonlogic/evaluate", json: ["rule": rule], headers: .bearer(acme.readKey))
            XCTAssertEqual(response.status, 200, response.text)
            let text = response.text
            XCTAssertTrue(text.hasPrefix(#"{"result":"#) && text.hasSuffix("}"), text)
            let number = String(text.dropFirst(#"{"result":"#.count).dropLast())
            XCTAssertEqual(Decimal(string: number), Decimal(string: decimal), "\(rule.jsonString) answered \(text)")
        }
    }

    func testAFailingRuleIsA400WithTheSuitesErrorTypeAndThePath() throws {
        let nan = try evaluate(["rule": ["+": ["a"]], "data": .null], expect: 400)["error"]
        XCTAssertEqual(nan?["code"], "jsonlogic_error")
        XCTAssertEqual(nan?["type"], "NaN")
        let unknown = try evaluate(["rule": ["if": [true, ["bogus": [1]], 2]]], expect: 400)["error"]
        XCTAssertEqual(unknown?["type"], "Unknown Operator")
        XCTAssertEqual(unknown?["param"], "rule.if[1]")
        let malformed = try evaluate(["rule": ["==": 1]], expect: 400)["error"]
        XCTAssertEqual(malformed?["type"], "Invalid Arguments")
        XCTAssertEqual(try evaluate(["data": 1], expect: 400)["error"]?["param"], "rule")
        XCTAssertEqual(try evaluate(["rule": 1, "extra": 2], expect: 400)["error"]?["code"], "parameter_unknown")
    }

    func testTheBodyTakesARuleUpToTheRuleDepthLimitAndTheRuleLimitBinds() throws {
        let limit = JsonLogicLimits.standard.maxDepth
        XCTAssertEqual(try evaluate(["rule": nested(levels: limit / 2)], expect: 200)["result"], true, "a rule of \(limit) levels")
        let tooDeep = try evaluate(["rule": [nested(levels: limit / 2)]], expect: 400)["error"]
        XCTAssertEqual(tooDeep?["code"], "jsonlogic_error", "refused by the rule's limit, not the body's")
        XCTAssertEqual(tooDeep?["type"], "Limit Exceeded")
        let deeperThanBodies = try evaluate(["rule": nested(levels: RequestBody.maxDepth)], expect: 400)["error"]
        XCTAssertEqual(deeperThanBodies?["code"], "body_too_deep")
    }

    func testItNeedsAKey() throws {
        XCTAssertEqual(try client.post("/v1/jsonlogic/evaluate", json: ["rule": true]).status, 401)
    }
}
