import Foundation
import LedgerAPI
import LedgerDomain
import LedgerTestSupport
import XCTest

/// Two instances on one database, each with its own state cache: whatever one writes leaves the other's
/// cache stale, and commands must still be decided on the stream's latest state.
final class StateCacheTests: XCTestCase, TwoInstancesTestCase {
    var database: TestDatabase!
    var first: TestServer!
    var second: TestServer!
    var auth: [String: String] = [:]

    override func setUpWithError() throws { try startTwoInstances() }

    @discardableResult
    func post(_ server: TestServer, _ path: String, _ body: JSONValue, headers: [String: String] = [:], expect status: Int = 200,
              file: StaticString = #filePath, line: UInt = #line) throws -> JSONValue {
        let response = try TestClient(baseURL: server.baseURL).post(path, json: body, headers: auth.merging(headers) { $1 })
        XCTAssertEqual(response.status, status, response.text, file: file, line: line)
        return response.json ?? .null
    }

    func verification(_ id: String) throws -> JSONValue {
        try TestClient(baseURL: second.baseURL).get("/v1/verifications/\(id)", headers: auth).json ?? .null
    }

    /// Creates a verification through the first instance and starts an attempt there; both are then in its cache.
    func createWithAttempt() throws -> (id: String, attempt: String) {
        let id = try post(first, "/v1/verifications", ["entity_id": "cus_1", "checks": ["identity_verification"]], expect: 201)["id"]?.stringValue ?? ""
        let attempt = try post(first, "/v1/verifications/\(id)/attempts", [:], expect: 201)["id"]?.stringValue ?? ""
        return (id, attempt)
    }

    @discardableResult
    func progress(_ server: TestServer, _ id: String, _ attempt: String, _ status: String, expect: Int = 200,
                  headers: [String: String] = [:], file: StaticString = #filePath, line: UInt = #line) throws -> JSONValue {
        try post(server, "/v1/verifications/\(id)/attempts/\(attempt)/progress", ["status": .string(status)], headers: headers,
                 expect: expect, file: file, line: line)
    }

    func testACommandDecidedOnAStaleStateRunsAgainOnTheStream() throws {
        let (id, firstAttempt) = try createWithAttempt()
        let secondAttempt = try post(second, "/v1/verifications/\(id)/attempts", [:], expect: 201)["id"]?.stringValue ?? ""
        // The first instance still believes its attempt is open; the stream says the second one is.
        let third = try post(first, "/v1/verifications/\(id)/attempts", [:], expect: 201)
        let attempts = try verification(id)["attempts"]?.arrayValue ?? []
        XCTAssertEqual(attempts.map { $0["id"]?.stringValue ?? "" }, [firstAttempt, secondAttempt, third["id"]?.stringValue ?? "?"])
        XCTAssertEqual(attempts.map { $0["status"]?.stringValue ?? "" }, ["terminated", "terminated", "pending_redirection"],
                       "the attempt opened by the other instance was the one closed")
        XCTAssertEqual(try verification(id)["version"], 6)
    }

    func testARefusalOnAStaleStateIsDecidedAgainOnTheStream() throws {
        let (id, attempt) = try createWithAttempt()
        try progress(second, id, attempt, "capture_in_progress")
        // pending_redirection → checks_in_progress is refused, capture_in_progress → checks_in_progress is not.
        XCTAssertEqual(try progress(first, id, attempt, "checks_in_progress")["status"], "checks_in_progress")
    }

    func testAMoveAllowedOnAStaleStateIsRefusedWhenTheStreamForbidsIt() throws {
        let (id, attempt) = try createWithAttempt()
        try progress(first, id, attempt, "capture_in_progress")
        try progress(second, id, attempt, "completed")
        let refused = try progress(first, id, attempt, "checks_in_progress", expect: 409)
        XCTAssertEqual(refused["error"]?["code"], "invalid_transition")
        XCTAssertEqual(try verification(id)["attempts"]?.arrayValue?.first?["status"], "completed")
        XCTAssertEqual(try progress(first, id, attempt, "completed")["status"], "completed", "a repeat of the latest status is a no-op")
    }

    func testIfMatchIsCheckedAgainstTheStreamNotTheCache() throws {
        let (id, attempt) = try createWithAttempt()
        try progress(second, id, attempt, "capture_in_progress")
        let stale = try progress(first, id, attempt, "completed", expect: 409, headers: ["If-Match": "\"2\""])
        XCTAssertEqual(stale["error"]?["code"], "version_conflict")
        XCTAssertEqual(try progress(first, id, attempt, "completed", headers: ["If-Match": "\"3\""])["status"], "completed")
        XCTAssertEqual(try verification(id)["version"], 4)
    }
}
