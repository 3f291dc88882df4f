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
