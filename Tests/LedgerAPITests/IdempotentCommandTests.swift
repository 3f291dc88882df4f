import Foundation
import LedgerAPI
import LedgerDomain
import LedgerStorage
import LedgerTestSupport
import XCTest

/// Verification commands retried with an Idempotency-Key, on two instances over one database (each with its
/// own state cache, commands committed by the commit threads): every retry answers as the first answer did,
/// body and headers, and the log holds the command's events once.
final class IdempotentCommandTests: XCTestCase, TwoInstancesTestCase {
    var database: TestDatabase!
    var first: TestServer!
    var second: TestServer!
    var auth: [String: String] = [:]

    override func setUpWithError() throws { try startTwoInstances() }

    func post(_ server: TestServer, _ path: String, _ body: JSONValue, key: String? = nil) throws -> TestResponse {
        try TestClient(baseURL: server.baseURL).post(path, json: body, headers: auth.merging(key.map { ["Idempotency-Key": $0] } ?? [:]) { $1 })
    }

    func eventTypes(_ id: String) throws -> [String] {
        let events = try TestClient(baseURL: second.baseURL).get("/v1/verifications/\(id)/events", headers: auth).json?["data"]?.arrayValue
        return (events ?? []).compactMap { $0["type"]?.stringValue }
    }

    func version(_ id: String) throws -> String? {
        try TestClient(baseURL: second.baseURL).get("/v1/verifications/\(id)", headers: auth).header("ETag")
    }

    /// Sends the first request, then retries it on both instances; every retry must be the first answer again.
    @discardableResult
    func assertReplays(_ path: String, _ body: JSONValue, key: String, on server: TestServer, expect status: Int,
                       file: StaticString = #filePath, line: UInt = #line) throws -> TestResponse {
        let original = try post(server, path, body, key: key)
        XCTAssertEqual(original.status, status, original.text, file: file, line: line)
        XCTAssertNotNil(original.header("ETag"), "a command's answer carries the stream version", file: file, line: line)
        XCTAssertNil(original.header("Idempotent-Replayed"), file: file, line: line)
        for retryServer in [server] + [first, second].compactMap({ $0 }) {
            let retry = try post(retryServer, path, body, key: key)
            XCTAssertEqual(retry.status, original.status, retry.text, file: file, line: line)
            XCTAssertEqual(retry.body, original.body, "the same body", file: file, line: line)
            XCTAssertEqual(retry.header("ETag"), original.header("ETag"), "the same stream version", file: file, line: line)
            XCTAssertEqual(retry.header("Content-Type"), original.header("Content-Type"), file: file, line: line)
            XCTAssertEqual(retry.header("Idempotent-Replayed"), "true", file: file, line: line)
        }
        return original
    }

    func testCreateAttemptAndResultReplayWithTheirVersionAndRunOnce() throws {
        let created = try assertReplays("/v1/verifications", ["entity_id": "cus_1", "checks": ["identity_verification"]],
                                        key: "create-1", on: first, expect: 201)
        XCTAssertEqual(created.header("ETag"), "\"1\"")
        guard let id = created.json?["id"]?.stringValue else { return XCTFail(created.text) }

        // In the first instance's cache: decided on the cached state.
        let attempt = try assertReplays("/v1/verifications/\(id)/attempts", [:], key: "attempt-1", on: first, expect: 201)
        XCTAssertEqual(attempt.header("ETag"), "\"2\"", "an attempt's answer carries the stream version")
        guard let attemptID = attempt.json?["id"]?.stringValue else { return XCTFail(attempt.text) }
        for status in ["capture_in_progress", "completed"] {
            XCTAssertEqual(try post(first, "/v1/verifications/\(id)/attempts/\(attemptID)/progress", ["status": .string(status)]).status, 200)
        }
        let result = try assertReplays("/v1/verifications/\(id)/results", ["check": "identity_verification", "status": "approved"],
                                       key: "result-1", on: first, expect: 200)
        XCTAssertEqual(result.header("ETag"), "\"5\"")
        XCTAssertEqual(result.json?["status"], "approved")

        XCTAssertEqual(try eventTypes(id), ["VerificationInvited", "AttemptStarted", "AttemptStatusChanged", "AttemptStatusChanged",
                                            "CheckResultRecorded"], "each command's events once")
        XCTAssertEqual(try version(id), "\"5\"")
    }

    func testACommandRerunOnTheStreamAfterAStaleCacheReplaysItsOwnAnswer() throws {
        let created = try post(first, "/v1/verifications", ["entity_id": "cus_1", "checks": ["identity_verification"]])
        guard let id = created.json?["id"]?.stringValue else { return XCTFail(created.text) }
        // The second instance moves the stream on; the first still holds version 1 in its cache.
        XCTAssertEqual(try post(second, "/v1/verifications/\(id)/attempts", [:]).status, 201)
        let attempt = try assertReplays("/v1/verifications/\(id)/attempts", [:], key: "attempt-stale", on: first, expect: 201)
        XCTAssertEqual(attempt.header("ETag"), "\"4\"", "decided again on the stream: the open attempt closed, a new one started")
        XCTAssertEqual(try eventTypes(id), ["VerificationInvited", "AttemptStarted", "AttemptStatusChanged", "AttemptStarted"])

        // A stale cache under a key first used on the other instance: the replay, not a second attempt.
        XCTAssertEqual(try post(second, "/v1/verifications/\(id)/withdraw", ["reason": "r"], key: "withdraw-1").status, 200)
        let replayed = try post(first, "/v1/verifications/\(id)/withdraw", ["reason": "r"], key: "withdraw-1")
        XCTAssertEqual(replayed.header("Idempotent-Replayed"), "true")
        XCTAssertEqual(replayed.header("ETag"), "\"5\"")
        XCTAssertEqual(try eventTypes(id).suffix(2), ["AttemptStarted", "VerificationWithdrawn"])
    }

    func testConcurrentRetriesOfOneCommandRunItOnce() throws {
        let created = try post(first, "/v1/verifications", ["entity_id": "cus_1", "checks": ["identity_verification"]])
        guard let id = created.json?["id"]?.stringValue else { return XCTFail(created.text) }
        let responses = Collector<TestResponse>()
        let servers = [first, second].compactMap { $0 }, auth = self.auth
        concurrently(16) { index in
            let client = TestClient(baseURL: servers[index % 2].baseURL)
            if let response = try? client.post("/v1/verifications/\(id)/attempts", json: [:],
                                               headers: auth.merging(["Idempotency-Key": "race"]) { $1 }) {
                responses.append(response)
            }
        }
        let all = responses.values
        XCTAssertEqual(all.count, 16)
        XCTAssertTrue(all.allSatisfy { $0.status == 201 || $0.status == 409 }, all.map(\.status).description)
        let answered = all.filter { $0.status == 201 }
        XCTAssertGreaterThanOrEqual(answered.count, 1)
        XCTAssertEqual(Set(answered.map(\.body)).count, 1, "every 201 is the one response")
        XCTAssertEqual(Set(answered.map { $0.header("ETag") ?? "none" }), ["\"2\""])
        XCTAssertEqual(try eventTypes(id), ["VerificationInvited", "AttemptStarted"])
    }
}

/// `ledger serve` forgets idempotency keys past their 24 hours by itself.
final class IdempotencyPurgeInServeTests: XCTestCase {
    func testServePurgesExpiredKeysAndKeepsFreshOnes() throws {
        let database = try makeDatabase()
        let owner = try database.ownerConnection()
        for (key, age) in [("old", "25 hours"), ("fresh", "1 hour")] {
            try owner.query("""
                INSERT INTO ledger.idempotency_keys (organization_id, livemode, idempotency_key, request_hash, response_status,
                                                     response_body, created_at)
                VALUES ($1, false, $2, '\\x00', 200, '\\x7b7d', now() - $3::interval)
                """, [UUID(), key, age])
        }
        var environment = ProcessInfo.processInfo.environment
        environment["DATABASE_URL"] = database.conninfo
        environment["LEDGER_KEK"] = TestKeyEncryptionKey.base64
        environment["LEDGER_LISTEN"] = "127.0.0.1:\(try freeLoopbackPort())"
        environment["LEDGER_LOG_REQUESTS"] = "0"
        environment["LEDGER_WEBHOOK_DISPATCH"] = "0"
        let serve = try ChildProcess.Running(try ledgerExecutable(), ["serve"], environment: environment)
        stopWhenTheTestEnds(serve)
        func keys() throws -> [String] {
            let rows = try owner.query("SELECT idempotency_key FROM ledger.idempotency_keys ORDER BY idempotency_key")
            return (0..<rows.count).compactMap { rows.string($0, 0) }
        }
        XCTAssertTrue(try eventually(timeout: 30) { try keys() == ["fresh"] }, serve.outputSoFar)
    }
}
