import Foundation
import LedgerAPI
import LedgerDomain
import LedgerStorage
import LedgerTestSupport
import XCTest

/// Secrets shown once stay out of the database: API keys are kept only as hashes, and no replayable response
/// keeps a secret. (Webhook signing secrets must be kept to sign, in their own columns and nowhere else.)
final class SecretsAtRestTests: XCTestCase, ServiceTestCase {
    var service: ServiceFixture!

    override func setUpWithError() throws {
        try startService(api: APIConfiguration(authCacheSeconds: 0, logRequests: false, allowPrivateWebhooks: true))
    }

    private func post(_ path: String, _ body: JSONValue, idempotencyKey: String) throws -> TestResponse {
        try client.post(path, json: body, headers: .bearer(acme.adminKey).merging(["Idempotency-Key": idempotencyKey]) { $1 })
    }

    func testAKeyCreatedWithAnIdempotencyKeyIsNowhereInTheDatabaseAndItsReplayIsRedacted() throws {
        let created = try post("/v1/api_keys", ["scopes": ["read"]], idempotencyKey: "key-1")
        XCTAssertEqual(created.status, 201)
        guard case let .string(secret)? = created.json?["secret"] else { return XCTFail("no secret: \(created.text)") }
        XCTAssertTrue(secret.hasPrefix("sk_test_"))
        XCTAssertEqual(try database.placesHolding(secret), [])

        let replayed = try post("/v1/api_keys", ["scopes": ["read"]], idempotencyKey: "key-1")
        XCTAssertEqual(replayed.status, 201)
        XCTAssertEqual(replayed.header("Idempotent-Replayed"), "true")
        XCTAssertEqual(replayed.header("Secret-Redacted"), "true")
        XCTAssertEqual(replayed.json?["id"], created.json?["id"])
        XCTAssertEqual(replayed.json?["secret"], .null, "a replay does not show the secret again")
        XCTAssertEqual(try client.get("/v1/organization", headers: .bearer(secret)).status, 200, "the key itself works")
    }

    func testWebhookSecretsAreKeptOnlyWhereTheySign() throws {
        let created = try post("/v1/webhook_endpoints", ["url": "http://127.0.0.1:9/hooks", "events": ["*"]], idempotencyKey: "endpoint-1")
        XCTAssertEqual(created.status, 201, created.text)
        guard case let .string(id)? = created.json?["id"], case let .string(first)? = created.json?["secret"] else {
            return XCTFail(created.text)
        }
        let rotated = try post("/v1/webhook_endpoints/\(id)/rotate_secret", [:], idempotencyKey: "rotate-1")
        guard case let .string(second)? = rotated.json?["secret"] else { return XCTFail(rotated.text) }
        let postback = try post("/v1/webhook_secret/rotate", [:], idempotencyKey: "postback-1")
        guard case let .string(third)? = postback.json?["secret"] else { return XCTFail(postback.text) }

        XCTAssertEqual(try database.placesHolding(first), ["webhook_endpoints.previous_secret"])
        XCTAssertEqual(try database.placesHolding(second), ["webhook_endpoints.secret"])
        XCTAssertEqual(try database.placesHolding(third), ["postback_secrets.secret"])
        let replayed = try post("/v1/webhook_endpoints/\(id)/rotate_secret", [:], idempotencyKey: "rotate-1")
        XCTAssertEqual(replayed.header("Idempotent-Replayed"), "true")
        XCTAssertEqual(replayed.json?["secret"], .null)
        XCTAssertEqual(replayed.json?["id"], .string(id))
    }
}
