import Foundation
import LedgerAPI
import LedgerCrypto
import LedgerDomain
import LedgerStorage
import LedgerTestSupport
import XCTest

final class WebhookSubscriptionTests: XCTestCase, ServiceTestCase {
    var service: ServiceFixture!

    override func setUpWithError() throws {
        try startService(api: APIConfiguration(authCacheSeconds: 0, logRequests: false, allowPrivateWebhooks: true))
    }

    func post(_ path: String, _ body: JSONValue, key: String? = nil, expect status: Int = 200, file: StaticString = #filePath, line: UInt = #line) throws -> JSONValue {
        let response = try client.post(path, json: body, headers: .bearer(key ?? acme.adminKey))
        XCTAssertEqual(response.status, status, response.text, file: file, line: line)
        return response.json ?? .null
    }

    /// (endpoint or postback URL, event type, payload) of every queued message, oldest first.
    func outbox() throws -> [(destination: String, type: String, payload: JSONValue)] {
        let rows = try database.ownerConnection().query(
            "SELECT coalesce(endpoint_id, url), event_type, payload::text FROM ledger.outbox ORDER BY id")
        return (0..<rows.count).map { (rows.string($0, 0) ?? "", rows.string($0, 1) ?? "", rows.json($0, 2) ?? .null) }
    }

    /// Each endpoint adds outbox writes to every command of its organization: an organization has at most the
    /// configured number in each mode, counted without the deleted ones, even when creations race.
    func testAnOrganizationHasAtMostTheConfiguredNumberOfEndpointsInEachMode() throws {
        try restartServer(api: APIConfiguration(authCacheSeconds: 0, logRequests: false, allowPrivateWebhooks: true, webhookEndpointLimit: 3))
        let created = Collector<Int>()
        let (client, key) = (self.client, acme.adminKey)
        DispatchQueue.concurrentPerform(iterations: 6) { index in
            let status = (try? client.post("/v1/webhook_endpoints", json: ["url": .string("http://127.0.0.1:9/hooks/\(index)"), "events": ["*"]],
                                           headers: .bearer(key)).status) ?? 0
            created.append(status)
        }
        XCTAssertEqual(created.values.sorted(), [201, 201, 201, 400, 400, 400], "concurrent creations never pass the limit together")
        let refused = try client.post("/v1/webhook_endpoints", json: ["url": "http://127.0.0.1:9/hooks/x", "events": ["*"]],
                                      headers: .bearer(acme.adminKey))
        XCTAssertEqual(refused.status, 400)
        XCTAssertEqual(refused.json?["error"]?["code"], "webhook_endpoint_limit_reached")
        XCTAssertTrue(refused.text.contains("LEDGER_WEBHOOK_ENDPOINT_LIMIT is 3"), refused.text)
        _ = try post("/v1/webhook_endpoints", ["url": "https://93.184.216.34/live", "events": ["*"]], key: acme.liveAdminKey, expect: 201)
        let list = try client.get("/v1/webhook_endpoints", headers: .bearer(acme.adminKey)).json?["data"]?.arrayValue ?? []
        guard let first = list.first?["id"]?.stringValue else { return XCTFail("no endpoint listed") }
        XCTAssertEqual(try client.request("DELETE", "/v1/webhook_endpoints/\(first)", headers: .bearer(acme.adminKey)).status, 200)
        _ = try post("/v1/webhook_endpoints", ["url": "http://127.0.0.1:9/hooks/y", "events": ["*"]], expect: 201)
    }

    func testEndpointsAreCreatedUpdatedRotatedAndDeleted() throws {
        let created = try post("/v1/webhook_endpoints", ["url": "http://127.0.0.1:9/hooks", "events": ["*"], "description": "ops"], expect: 201)
        guard let id = created["id"]?.stringValue, let secret = created["secret"]?.stringValue else { return XCTFail("\(created)") }
        XCTAssertNotNil(WebhookSecret(secret))
        let fetched = try client.get("/v1/webhook_endpoints/\(id)", headers: .bearer(acme.readKey))
        XCTAssertEqual(fetched.json?["url"], "http://127.0.0.1:9/hooks")
        XCTAssertNil(fetched.json?["secret"], "the secret is shown once")
        XCTAssertFalse(try client.get("/v1/webhook_endpoints", headers: .bearer(acme.readKey)).text.contains(secret))

        let updated = try post("/v1/webhook_endpoints/\(id)", ["events": ["ORDER_STATUS_CHANGE"], "enabled": false])
        XCTAssertEqual(updated["events"], ["ORDER_STATUS_CHANGE"])
        XCTAssertEqual(updated["enabled"], false)
        XCTAssertEqual(updated["url"], "http://127.0.0.1:9/hooks")

        let rotated = try post("/v1/webhook_endpoints/\(id)/rotate_secret", [:])
        XCTAssertNotEqual(rotated["secret"]?.stringValue, secret)
        XCTAssertNotEqual(rotated["previous_secret_expires_at"], .null)

        XCTAssertEqual(try client.request("DELETE", "/v1/webhook_endpoints/\(id)", headers: .bearer(acme.adminKey)).json?["deleted"], true)
        XCTAssertEqual(try client.get("/v1/webhook_endpoints/\(id)", headers: .bearer(acme.readKey)).status, 404)

        let globex = try TestOrganization(database: database, name: "Globex")
        let other = try post("/v1/webhook_endpoints", ["url": "http://127.0.0.1:9/x", "events": ["*"]], key: globex.adminKey, expect: 201)
        XCTAssertEqual(try client.get("/v1/webhook_endpoints/\(other["id"]?.stringValue ?? "")", headers: .bearer(acme.readKey)).status, 404)
    }

    func testBadEndpointsAreRefused() throws {
        XCTAssertEqual(try post("/v1/webhook_endpoints", ["url": "ftp://example.com", "events": ["*"]], expect: 400)["error"]?["param"], "url")
        XCTAssertEqual(try post("/v1/webhook_endpoints", ["url": "http://example.com", "events": ["*"]], key: acme.liveAdminKey, expect: 400)["error"]?["message"],
                       "url must use https in live mode")
        XCTAssertEqual(try post("/v1/webhook_endpoints", ["url": "https://example.com", "events": ["ORDER_EXPLODED"]], expect: 400)["error"]?["param"], "events[0]")
        XCTAssertEqual(try post("/v1/webhook_endpoints", ["url": "https://example.com", "events": []], expect: 400)["error"]?["param"], "events")
        XCTAssertEqual(try post("/v1/webhook_endpoints", ["url": "https://example.com", "events": ["*"]], key: acme.writeKey, expect: 403)["error"]?["code"], "insufficient_scope")
    }

    /// LEDGER_CHECKPOINT is about the log, not about a verification: an endpoint may subscribe to it, a
    /// verification's own postbacks may not name it (it would never be sent to them).
    func testTheLogsCheckpointsAreForEndpointsNotForAVerificationsPostbacks() throws {
        let refused = try post("/v1/verifications", ["entity_id": "cus_1", "checks": ["email"], "postback_url": "http://127.0.0.1:9/postback",
                                                     "postback_events": ["VERIFICATION_STATUS_CHANGE", "LEDGER_CHECKPOINT"]], expect: 400)
        XCTAssertEqual(refused["error"]?["param"], "postback_events[1]")
        let message = try XCTUnwrap(refused["error"]?["message"]?.stringValue)
        XCTAssertTrue(message.contains("VERIFICATION_STATUS_CHANGE") && !message.contains("LEDGER_CHECKPOINT"), message)
        XCTAssertEqual(try database.ownerConnection().query("SELECT count(*) FROM ledger.events").int(0, 0), 0, "nothing is written")
        XCTAssertEqual(try post("/v1/webhook_endpoints", ["url": "http://127.0.0.1:9/hooks", "events": ["LEDGER_CHECKPOINT"]], expect: 201)["events"],
                       ["LEDGER_CHECKPOINT"])
    }

    func testPrivateAddressesAreRefusedUnlessAllowed() throws {
        let strict = try TestServer(database: database, api: APIConfiguration(authCacheSeconds: 0, logRequests: false))
        defer { strict.stop() }
        let strictClient = TestClient(baseURL: strict.baseURL)
        for url in ["http://127.0.0.1/h", "http://localhost:8080/h", "http://10.1.2.3/h", "http://192.168.0.1/h", "http://169.254.169.254/latest",
                    "http://[::1]/h", "http://[fd00::1]/h", "http://172.20.0.1/h"] {
            let response = try strictClient.post("/v1/webhook_endpoints", json: ["url": .string(url), "events": ["*"]], headers: .bearer(acme.adminKey))
            XCTAssertEqual(response.status, 400, url)
            XCTAssertEqual(response.json?["error"]?["param"], "url", url)
        }
        let invite = try strictClient.post("/v1/verifications", json: ["entity_id": "e", "checks": ["email"], "postback_url": "http://127.0.0.1:1/p"],
                                           headers: .bearer(acme.writeKey))
        XCTAssertEqual(invite.json?["error"]?["param"], "postback_url")
    }

    func testCommandsQueueMessagesForEverySubscriberInTheirTransaction() throws {
        let all = try post("/v1/webhook_endpoints", ["url": "http://127.0.0.1:9/all", "events": ["*"]], expect: 201)["id"]?.stringValue ?? ""
        let orders = try post("/v1/webhook_endpoints", ["url": "http://127.0.0.1:9/orders", "events": ["ORDER_STATUS_CHANGE"]], expect: 201)["id"]?.stringValue ?? ""
        let disabled = try post("/v1/webhook_endpoints", ["url": "http://127.0.0.1:9/off", "events": ["*"]], expect: 201)["id"]?.stringValue ?? ""
        try post("/v1/webhook_endpoints/\(disabled)", ["enabled": false])
        let created = try post("/v1/verifications", ["entity_id": "cus_1", "checks": ["email"], "metadata": ["order_ref": "A-1"],
                                                     "postback_url": "http://127.0.0.1:9/postback", "postback_events": ["ORDER_STATUS_CHANGE"]],
                               key: acme.writeKey, expect: 201)
        let id = created["id"]?.stringValue ?? ""
        XCTAssertEqual(try outbox().map(\.type), ["VERIFICATION_STATUS_CHANGE", "VALIDATION_STATUS_CHANGE", "CHECK_STATUS_CHANGE"])
        XCTAssertTrue(try outbox().allSatisfy { $0.destination == all })

        // A refused command queues nothing.
        try post("/v1/verifications/\(id)/results", ["check": "selfie", "status": "approved"], key: acme.writeKey, expect: 400)
        XCTAssertEqual(try outbox().count, 3)

        try post("/v1/verifications/\(id)/results", ["check": "email", "status": "approved"], key: acme.writeKey)
        let messages = try outbox().dropFirst(3)
        // In order per destination; the disabled endpoint gets nothing, the others what they subscribed to.
        let byDestination = Dictionary(grouping: messages, by: \.destination).mapValues { $0.map(\.type) }
        XCTAssertEqual(byDestination, [
            all: ["VERIFICATION_STATUS_CHANGE", "VALIDATION_STATUS_CHANGE", "CHECK_STATUS_CHANGE", "ORDER_STATUS_CHANGE", "ORDER_SCORE_CHANGE"],
            orders: ["ORDER_STATUS_CHANGE"],
            "http://127.0.0.1:9/postback": ["ORDER_STATUS_CHANGE"],
        ])
        guard let orderChange = messages.first(where: { $0.type == "ORDER_STATUS_CHANGE" })?.payload else { return XCTFail() }
        XCTAssertEqual(orderChange["metadata"], ["order_ref": "A-1"])
        XCTAssertEqual(orderChange["data"]?["object"]?["object"], "order")
        XCTAssertEqual(orderChange["data"]?["object"]?["status"], "COMPLETE")
        XCTAssertEqual(orderChange["data"]?["previous"], ["status": nil])
        XCTAssertEqual(orderChange["stream_version"], 2)
        let events = try client.get("/v1/verifications/\(id)/events", headers: .bearer(acme.readKey)).json?["data"]?.arrayValue ?? []
        XCTAssertEqual(orderChange["event_id"], events.last?["id"])
        XCTAssertEqual(messages.first?.payload["data"]?["object"]?["object"], "verification")
        XCTAssertEqual(messages.first?.payload["data"]?["previous"], ["status": "created"])
    }

    func testThePostbackSecretIsMadeOnceAndRotates() throws {
        let first = try client.get("/v1/webhook_secret", headers: .bearer(acme.adminKey)).json
        let again = try client.get("/v1/webhook_secret", headers: .bearer(acme.adminKey)).json
        XCTAssertNotNil(first?["secret"]?.stringValue.flatMap(WebhookSecret.init))
        XCTAssertEqual(first?["secret"], again?["secret"])
        XCTAssertEqual(first?["previous_secret_expires_at"], .null)
        let rotated = try post("/v1/webhook_secret/rotate", [:])
        XCTAssertNotEqual(rotated["secret"], first?["secret"])
        XCTAssertNotEqual(rotated["previous_secret_expires_at"], .null)
        XCTAssertEqual(try client.get("/v1/webhook_secret", headers: .bearer(acme.readKey)).status, 403)
        XCTAssertNotEqual(try client.get("/v1/webhook_secret", headers: .bearer(acme.liveAdminKey)).json?["secret"], rotated["secret"], "one per mode")
    }
}
