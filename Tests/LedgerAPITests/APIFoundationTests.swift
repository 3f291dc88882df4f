import Foundation
import LedgerAPI
import LedgerDomain
import LedgerStorage
import LedgerTestSupport
import XCTest

final class APIFoundationTests: XCTestCase, ServiceTestCase {
    var service: ServiceFixture!
    var globex: TestOrganization!

    override func setUpWithError() throws {
        try startService()
        globex = try TestOrganization(database: database, name: "Globex")
    }

    func createKey(_ admin: String, scopes: JSONValue = ["read"], headers: [String: String] = [:]) throws -> TestResponse {
        try client.post("/v1/api_keys", json: ["scopes": scopes, "description": "made by a test"],
                        headers: .bearer(admin).merging(headers) { $1 })
    }

    // MARK: authentication and scopes

    func testRequestsWithoutAValidKeyGet401() throws {
        let none = try client.get("/v1/organization")
        XCTAssertEqual(none.status, 401)
        XCTAssertEqual(none.json?["error"]?["type"], "authentication_error")
        XCTAssertEqual(none.json?["error"]?["code"], "api_key_missing")

        for header in ["Bearer nonsense", "Token \(acme.adminKey)", "Bearer sk_test_" + String(repeating: "0", count: 64), "Basic !!!"] {
            let response = try client.get("/v1/organization", headers: ["Authorization": header])
            XCTAssertEqual(response.status, 401, header)
            XCTAssertEqual(response.json?["error"]?["code"], "api_key_invalid", header)
        }
    }

    func testBearerAndBasicAuthenticationBothWork() throws {
        let bearer = try client.get("/v1/organization", headers: .bearer(acme.readKey))
        XCTAssertEqual(bearer.status, 200)
        XCTAssertEqual(bearer.json?["name"], "Acme")
        XCTAssertEqual(bearer.json?["livemode"], false)
        let basic = Data("\(acme.readKey):".utf8).base64EncodedString()
        XCTAssertEqual(try client.get("/v1/organization", headers: ["Authorization": "Basic \(basic)"]).json?["id"],
                       .string(acme.id.uuidString.lowercased()))
    }

    func testARevokedKeyGets401() throws {
        let created = try createKey(acme.adminKey)
        XCTAssertEqual(created.status, 201)
        guard let secret = created.json?["secret"]?.stringValue, let id = created.json?["id"]?.stringValue else {
            return XCTFail(created.text)
        }
        XCTAssertEqual(try client.get("/v1/organization", headers: .bearer(secret)).status, 200)
        let revoked = try client.post("/v1/api_keys/\(id)/revoke", json: ["reason": "leaked in a log"], headers: .bearer(acme.adminKey))
        XCTAssertEqual(revoked.status, 200)
        XCTAssertEqual(revoked.json?["revocation_reason"], "leaked in a log")
        XCTAssertNotEqual(revoked.json?["revoked_at"], .null)
        let after = try client.get("/v1/organization", headers: .bearer(secret))
        XCTAssertEqual(after.status, 401)
        XCTAssertEqual(after.json?["error"]?["code"], "api_key_invalid")
    }

    func testScopesAreEnforced() throws {
        let readOnlyWrite = try createKey(acme.readKey)
        XCTAssertEqual(readOnlyWrite.status, 403)
        XCTAssertEqual(readOnlyWrite.json?["error"]?["type"], "permission_error")
        XCTAssertEqual(readOnlyWrite.json?["error"]?["code"], "insufficient_scope")
        XCTAssertEqual(try client.get("/v1/api_keys", headers: .bearer(acme.writeKey)).status, 403, "listing keys needs admin")
        XCTAssertEqual(try client.get("/v1/organization", headers: .bearer(acme.readKey)).status, 200)
        XCTAssertEqual(try createKey(acme.adminKey).status, 201)
    }

    func testAnotherOrganizationNeverSeesThisOnesData() throws {
        let acmeKeys = try client.get("/v1/api_keys", headers: .bearer(acme.adminKey))
        guard let acmeKeyID = acmeKeys.json?["data"]?.arrayValue?.first?["id"]?.stringValue else { return XCTFail(acmeKeys.text) }
        XCTAssertEqual(try client.get("/v1/api_keys/\(acmeKeyID)", headers: .bearer(acme.adminKey)).status, 200)

        let peek = try client.get("/v1/api_keys/\(acmeKeyID)", headers: .bearer(globex.adminKey))
        XCTAssertEqual(peek.status, 404)
        XCTAssertEqual(peek.json?["error"]?["code"], "resource_missing")
        let revoke = try client.post("/v1/api_keys/\(acmeKeyID)/revoke", json: ["reason": "hostile"], headers: .bearer(globex.adminKey))
        XCTAssertEqual(revoke.status, 404)
        XCTAssertEqual(try client.get("/v1/api_keys/\(acmeKeyID)", headers: .bearer(acme.adminKey)).json?["revoked_at"], .null)

        let globexKeys = try client.get("/v1/api_keys", headers: .bearer(globex.adminKey)).json?["data"]?.arrayValue ?? []
        XCTAssertFalse(globexKeys.contains { $0["id"]?.stringValue == acmeKeyID })
        XCTAssertEqual(try client.get("/v1/organization", headers: .bearer(globex.readKey)).json?["name"], "Globex")
    }

    func testTestKeysSeeOnlyTestDataAndLiveKeysOnlyLive() throws {
        let testKeys = try client.get("/v1/api_keys", headers: .bearer(acme.adminKey)).json?["data"]?.arrayValue ?? []
        let liveKeys = try client.get("/v1/api_keys", headers: .bearer(acme.liveAdminKey)).json?["data"]?.arrayValue ?? []
        XCTAssertEqual(testKeys.count, 3)
        XCTAssertEqual(liveKeys.count, 1)
        XCTAssertTrue(testKeys.allSatisfy { $0["livemode"] == false })
        XCTAssertTrue(liveKeys.allSatisfy { $0["livemode"] == true })
        guard let testKeyID = testKeys.first?["id"]?.stringValue else { return XCTFail() }
        XCTAssertEqual(try client.get("/v1/api_keys/\(testKeyID)", headers: .bearer(acme.liveAdminKey)).status, 404)
        let liveCreated = try createKey(acme.liveAdminKey)
        XCTAssertTrue(liveCreated.json?["secret"]?.stringValue?.hasPrefix("sk_live_") == true)
    }

    func testSecretsAreShownOnceAndStoredHashed() throws {
        let created = try createKey(acme.adminKey, scopes: ["write", "read"])
        guard let secret = created.json?["secret"]?.stringValue, let id = created.json?["id"]?.stringValue else { return XCTFail() }
        XCTAssertEqual(APIKeySecret.livemode(of: secret), false)
        XCTAssertEqual(created.json?["scopes"], ["read", "write"])
        XCTAssertEqual(created.json?["hint"]?.stringValue, APIKeySecret.hint(of: secret))
        let fetched = try client.get("/v1/api_keys/\(id)", headers: .bearer(acme.adminKey))
        XCTAssertNil(fetched.json?["secret"])
        XCTAssertFalse(try client.get("/v1/api_keys", headers: .bearer(acme.adminKey)).text.contains(secret))
        let stored = try database.ownerConnection().query("SELECT count(*) FROM ledger.api_keys WHERE secret_hint = $1 OR position($2 in secret_hint) > 0",
                                                          [secret, String(secret.dropFirst(8).prefix(20))])
        XCTAssertEqual(stored.int(0, 0), 0, "the secret is nowhere in the table")
    }

    // MARK: bad requests

    func testEachKindOfBadRequestGetsAClearError() throws {
        struct Case {
            let name: String
            let body: Data
            var contentType = "application/json"
            var headers: [String: String] = [:]
            let status: Int
            let type: String
            let code: String
            let param: JSONValue
        }
        let deep = String(repeating: "{\"a\":", count: RequestBody.maxDepth + 1) + "1" + String(repeating: "}", count: RequestBody.maxDepth + 1)
        let cases: [Case] = [
            Case(name: "malformed JSON", body: Data("{\"scopes\": [\"read\"".utf8), status: 400, type: "invalid_request_error", code: "body_invalid_json", param: .null),
            Case(name: "not an object", body: Data("[\"read\"]".utf8), status: 400, type: "invalid_request_error", code: "parameter_invalid", param: .null),
            Case(name: "wrong content type", body: Data("scopes=read".utf8), contentType: "application/x-www-form-urlencoded", status: 415, type: "invalid_request_error", code: "unsupported_media_type", param: .null),
            Case(name: "too deep", body: Data(deep.utf8), status: 400, type: "invalid_request_error", code: "body_too_deep", param: .null),
            Case(name: "unknown field", body: Data(#"{"scopes": ["read"], "colour": "red"}"#.utf8), status: 400, type: "invalid_request_error", code: "parameter_unknown", param: "colour"),
            Case(name: "missing field", body: Data(#"{"description": "x"}"#.utf8), status: 400, type: "invalid_request_error", code: "parameter_missing", param: "scopes"),
            Case(name: "wrong type", body: Data(#"{"scopes": "read"}"#.utf8), status: 400, type: "invalid_request_error", code: "parameter_invalid", param: "scopes"),
            Case(name: "bad list item", body: Data(#"{"scopes": ["read", "root"]}"#.utf8), status: 400, type: "invalid_request_error", code: "parameter_invalid", param: "scopes[1]"),
            Case(name: "string too long", body: Data(#"{"scopes": ["read"], "description": "\#(String(repeating: "x", count: 501))"}"#.utf8), status: 400, type: "invalid_request_error", code: "string_too_long", param: "description"),
            Case(name: "body too large", body: Data(repeating: 32, count: (1 << 20) + 1), status: 413, type: "invalid_request_error", code: "body_too_large", param: .null),
            Case(name: "idempotency key too long", body: Data(#"{"scopes": ["read"]}"#.utf8), headers: ["Idempotency-Key": String(repeating: "k", count: 256)], status: 400, type: "invalid_request_error", code: "string_too_long", param: "Idempotency-Key"),
            Case(name: "idempotency key not ASCII", body: Data(#"{"scopes": ["read"]}"#.utf8), headers: ["Idempotency-Key": "schlüssel"], status: 400, type: "invalid_request_error", code: "parameter_invalid", param: "Idempotency-Key"),
        ]
        for test in cases {
            var headers = [String: String].bearer(acme.adminKey).merging(test.headers) { $1 }
            headers["Content-Type"] = test.contentType
            let response = try client.request("POST", "/v1/api_keys", headers: headers, body: test.body)
            XCTAssertEqual(response.status, test.status, "\(test.name): \(response.text)")
            XCTAssertEqual(response.json?["error"]?["type"], .string(test.type), test.name)
            XCTAssertEqual(response.json?["error"]?["code"], .string(test.code), test.name)
            XCTAssertEqual(response.json?["error"]?["param"], test.param, test.name)
            XCTAssertFalse(response.json?["error"]?["message"]?.stringValue?.isEmpty ?? true, test.name)
        }
        let keys = try client.get("/v1/api_keys", headers: .bearer(acme.adminKey)).json?["data"]?.arrayValue
        XCTAssertEqual(keys?.count, 3, "no bad request created anything")
    }

    // MARK: idempotency

    func testTheSameKeyAndBodyReplaysTheFirstResponse() throws {
        let first = try createKey(acme.adminKey, headers: ["Idempotency-Key": "create-key-1"])
        XCTAssertEqual(first.status, 201)
        XCTAssertNil(first.header("Idempotent-Replayed"))
        let second = try createKey(acme.adminKey, headers: ["Idempotency-Key": "create-key-1"])
        XCTAssertEqual(second.status, 201)
        XCTAssertEqual(second.header("Idempotent-Replayed"), "true")
        XCTAssertEqual(second.json?["id"], first.json?["id"], "the same key")
        XCTAssertEqual(second.json?["secret"], .null, "its secret shown only the first time")
        XCTAssertEqual(second.header("Secret-Redacted"), "true")
        XCTAssertEqual(try client.get("/v1/api_keys", headers: .bearer(acme.adminKey)).json?["data"]?.arrayValue?.count, 4)

        let otherBody = try createKey(acme.adminKey, scopes: ["write"], headers: ["Idempotency-Key": "create-key-1"])
        XCTAssertEqual(otherBody.status, 422)
        XCTAssertEqual(otherBody.json?["error"]?["type"], "idempotency_error")
        XCTAssertEqual(otherBody.json?["error"]?["code"], "idempotency_key_reused")

        let otherOrganization = try createKey(globex.adminKey, headers: ["Idempotency-Key": "create-key-1"])
        XCTAssertEqual(otherOrganization.status, 201, "keys belong to one organization")
        XCTAssertNil(otherOrganization.header("Idempotent-Replayed"))
    }

    func testARequestWhoseKeyIsInFlightGets409() throws {
        // Hold the key's lock as a request in flight would.
        let holder = try database.ownerConnection()
        try holder.query("SELECT pg_advisory_lock(hashtextextended($1 || '/' || $2 || '/' || $3, 0))", [acme.id, false, "busy-key"])
        let response = try createKey(acme.adminKey, headers: ["Idempotency-Key": "busy-key"])
        XCTAssertEqual(response.status, 409)
        XCTAssertEqual(response.json?["error"]?["code"], "idempotency_key_in_use")
        try holder.query("SELECT pg_advisory_unlock_all()")
        XCTAssertEqual(try createKey(acme.adminKey, headers: ["Idempotency-Key": "busy-key"]).status, 201)
    }

    func testConcurrentRequestsWithOneKeyRunOnce() throws {
        let responses = Collector<TestResponse>()
        let client = self.client, admin = acme.adminKey
        concurrently(8) { _ in
            if let response = try? client.post("/v1/api_keys", json: ["scopes": ["read"], "description": "made by a test"],
                                               headers: .bearer(admin).merging(["Idempotency-Key": "race"]) { $1 }) {
                responses.append(response)
            }
        }
        let all = responses.values
        XCTAssertEqual(all.count, 8)
        XCTAssertTrue(all.allSatisfy { $0.status == 201 || $0.status == 409 }, all.map(\.status).description)
        let created = all.filter { $0.status == 201 }
        XCTAssertGreaterThanOrEqual(created.count, 1)
        XCTAssertEqual(Set(created.compactMap { $0.json?["id"] }.map(\.jsonString)).count, 1, "every 201 is the one response")
        XCTAssertEqual(try client.get("/v1/api_keys", headers: .bearer(acme.adminKey)).json?["data"]?.arrayValue?.count, 4)
    }

    // MARK: rate limit

    func testTheRateLimitAnswers429WithRetryAfter() throws {
        let clock = ManualNanosecondClock()
        let limited = try TestServer(database: database, api: APIConfiguration(rateLimitPerSecond: 0.5, rateLimitBurst: 3,
                                                                                authCacheSeconds: 0, logRequests: false,
                                                                                rateLimitClock: { clock.now }))
        defer { limited.stop() }
        let client = TestClient(baseURL: limited.baseURL)
        for _ in 0..<3 { XCTAssertEqual(try client.get("/v1/organization", headers: .bearer(acme.readKey)).status, 200) }
        let refused = try client.get("/v1/organization", headers: .bearer(acme.readKey))
        XCTAssertEqual(refused.status, 429)
        XCTAssertEqual(refused.json?["error"]?["type"], "rate_limit_error")
        XCTAssertEqual(refused.header("Retry-After"), "2")
        clock.advance(seconds: 1)
        XCTAssertEqual(try client.get("/v1/organization", headers: .bearer(acme.readKey)).header("Retry-After"), "1",
                       "half a token refilled in a second")
        clock.advance(seconds: 1)
        XCTAssertEqual(try client.get("/v1/organization", headers: .bearer(acme.readKey)).status, 200, "a whole token after two")
        XCTAssertEqual(try client.get("/v1/organization", headers: .bearer(acme.readKey)).status, 429)
        XCTAssertEqual(try client.get("/v1/organization", headers: .bearer(acme.writeKey)).status, 200, "each key has its own bucket")
        XCTAssertEqual(try client.get("/healthz").status, 200)
    }
}
