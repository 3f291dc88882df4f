import Foundation
import LedgerAPI
import LedgerDomain
import LedgerStorage
import LedgerTestSupport
import LedgerWebhooks
import XCTest

/// Deliveries to a real receiver on loopback that checks signatures with the standardwebhooks library.
final class WebhookDeliveryTests: XCTestCase, ServiceTestCase {
    var service: ServiceFixture!
    var receivers: [ChildProcess.Running] = []
    /// Where `post` sends its requests when not to the fixture's server: a `ledger serve` the test started.
    var serveClient: TestClient?

    override func setUpWithError() throws {
        try startService(api: APIConfiguration(authCacheSeconds: 0, logRequests: false, allowPrivateWebhooks: true))
    }

    override func tearDown() {
        for receiver in receivers { receiver.signal(SIGTERM); _ = receiver.wait() }
    }

    struct Receiver {
        let url: String
        let log: String
        let secretsFile: String

        /// The secrets the receiver checks each delivery against.
        func trust(_ secrets: [String]) throws {
            try Data(secrets.joined(separator: "\n").utf8).write(to: URL(fileURLWithPath: secretsFile))
        }

        /// Every request received so far, as the receiver logged it.
        func requests() -> [JSONValue] {
            ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n")
                .compactMap { try? JSONValue.parse(Array($0.utf8)) }
        }
    }

    func startReceiver(failFirst: Int = 0, failStatus: Int = 500, port: UInt16 = 0, delay: Double = 0) throws -> Receiver {
        let base = NSTemporaryDirectory() + "receiver-\(UUID().uuidString.prefix(8))"
        FileManager.default.createFile(atPath: base + ".secrets", contents: Data())
        let script = TestPostgres.schemaDirectory.deletingLastPathComponent().appendingPathComponent("Tests/Fixtures/webhook_receiver.py").path
        let process = try ChildProcess.Running("python3", [script, base + ".port", base + ".log", base + ".secrets", String(failFirst), String(failStatus),
                                                                String(port), String(delay)])
        receivers.append(process)
        XCTAssertTrue(eventually(timeout: 20) { FileManager.default.fileExists(atPath: base + ".port") }, process.outputSoFar)
        let bound = (try? String(contentsOfFile: base + ".port", encoding: .utf8)) ?? "0"
        return Receiver(url: "http://127.0.0.1:\(bound)/hooks", log: base + ".log", secretsFile: base + ".secrets")
    }

    func dispatcher(_ schedule: String = "0s,0s,0s,0s,0s") throws -> WebhookDispatcher {
        WebhookDispatcher(pool: database.pool(size: 4), conninfo: database.conninfo,
                          configuration: .init(schedule: try RetrySchedule(parsing: schedule), concurrency: 8, timeout: 5,
                                               policy: WebhookURLPolicy(allowPrivate: true)))
    }

    @discardableResult
    func post(_ path: String, _ body: JSONValue, key: String? = nil, expect status: Int = 200) throws -> JSONValue {
        let response = try (serveClient ?? client).post(path, json: body, headers: .bearer(key ?? acme.adminKey))
        XCTAssertEqual(response.status, status, response.text)
        return response.json ?? .null
    }

    func createEndpoint(_ url: String, events: JSONValue = ["*"]) throws -> (id: String, secret: String) {
        let created = try post("/v1/webhook_endpoints", ["url": .string(url), "events": events], expect: 201)
        return (created["id"]?.stringValue ?? "", created["secret"]?.stringValue ?? "")
    }

    /// Invite, attempt, capture, completed, approved: the lifecycle every test drives.
    func lifecycle(metadata: JSONValue = ["order_ref": "A-1"]) throws -> String {
        let id = try post("/v1/verifications", ["entity_id": "cus_1", "checks": ["identity_verification"], "metadata": metadata],
                          key: acme.writeKey, expect: 201)["id"]?.stringValue ?? ""
        let attempt = try post("/v1/verifications/\(id)/attempts", [:], key: acme.writeKey, expect: 201)["id"]?.stringValue ?? ""
        try post("/v1/verifications/\(id)/attempts/\(attempt)/progress", ["status": "capture_in_progress"], key: acme.writeKey)
        try post("/v1/verifications/\(id)/attempts/\(attempt)/progress", ["status": "completed"], key: acme.writeKey)
        try post("/v1/verifications/\(id)/results", ["check": "identity_verification", "status": "approved"], key: acme.writeKey)
        return id
    }

    /// The validation (seed 004) moves at the invite, when capture starts and at the approval.
    static let lifecycleTypes = [
        "VERIFICATION_STATUS_CHANGE", "VALIDATION_STATUS_CHANGE", "CHECK_STATUS_CHANGE",
        "VERIFICATION_STATUS_CHANGE", "CHECK_STATUS_CHANGE", "ATTEMPT_STATUS_CHANGE",
        "VERIFICATION_STATUS_CHANGE", "VALIDATION_STATUS_CHANGE", "CHECK_STATUS_CHANGE", "ATTEMPT_STATUS_CHANGE",
        "VERIFICATION_STATUS_CHANGE", "CHECK_STATUS_CHANGE", "ATTEMPT_STATUS_CHANGE", "ORDER_STATUS_CHANGE", "ORDER_SCORE_CHANGE",
        "VERIFICATION_STATUS_CHANGE", "VALIDATION_STATUS_CHANGE", "CHECK_STATUS_CHANGE", "ORDER_STATUS_CHANGE", "ORDER_SCORE_CHANGE",
    ]

    func deliverAll(_ dispatcher: WebhookDispatcher, until done: () -> Bool) throws -> Bool {
        try eventually(timeout: 30) {
            try dispatcher.runOnce()
            return done()
        }
    }

    func testALifecycleArrivesSignedInOrderWithItsMetadata() throws {
        let receiver = try startReceiver()
        let all = try createEndpoint(receiver.url)
        let orders = try createEndpoint(receiver.url + "/orders", events: ["ORDER_STATUS_CHANGE", "ORDER_SCORE_CHANGE"])
        try receiver.trust([all.secret, orders.secret])
        let id = try lifecycle()
        let dispatcher = try dispatcher()
        XCTAssertTrue(try deliverAll(dispatcher) { receiver.requests().count >= Self.lifecycleTypes.count + 4 }, "\(receiver.requests().count)")
        let requests = receiver.requests()
        let toAll = requests.filter { $0["path"] == "/hooks" }
        let toOrders = requests.filter { $0["path"] == "/hooks/orders" }
        XCTAssertEqual(toAll.compactMap { $0["type"]?.stringValue }, Self.lifecycleTypes)
        XCTAssertEqual(toOrders.compactMap { $0["type"]?.stringValue },
                       ["ORDER_STATUS_CHANGE", "ORDER_SCORE_CHANGE", "ORDER_STATUS_CHANGE", "ORDER_SCORE_CHANGE"])
        for request in requests {
            XCTAssertEqual(request["metadata"], ["order_ref": "A-1"])
            XCTAssertEqual(request["verification_id"], .string(id))
            let secret = request["path"] == "/hooks" ? all.secret : orders.secret
            XCTAssertEqual(request["valid"]?[secret], true, "signed with the endpoint's secret: \(request)")
        }
        let versions = toAll.compactMap { $0["stream_version"]?.intValue }
        XCTAssertEqual(versions, versions.sorted(), "in stream order")
        XCTAssertEqual(Set(requests.compactMap { $0["webhook_id"]?.stringValue }).count, requests.count, "one id per message")
        XCTAssertEqual(try dispatcher.runOnce(), 0, "nothing left")
    }

    func testFailuresAreRetriedAndEveryAttemptIsListed() throws {
        let receiver = try startReceiver(failFirst: 3)
        let endpoint = try createEndpoint(receiver.url, events: ["VERIFICATION_STATUS_CHANGE"])
        try receiver.trust([endpoint.secret])
        let id = try post("/v1/verifications", ["entity_id": "e", "checks": ["email"]], key: acme.writeKey, expect: 201)["id"]?.stringValue ?? ""
        try post("/v1/verifications/\(id)/withdraw", [:], key: acme.writeKey)
        let dispatcher = try dispatcher()
        XCTAssertTrue(try deliverAll(dispatcher) { receiver.requests().filter { $0["status"] == 200 }.count == 2 })
        let statuses = receiver.requests().compactMap { $0["status"]?.intValue }
        XCTAssertEqual(statuses, [500, 500, 500, 200, 200], "the first message succeeds on its 4th try; the second waits for it")
        let deliveries = try client.get("/v1/webhook_deliveries?verification_id=\(id)", headers: .bearer(acme.readKey)).json?["data"]?.arrayValue ?? []
        XCTAssertEqual(deliveries.count, 2)
        let first = deliveries.last
        XCTAssertEqual(first?["status"], "delivered")
        XCTAssertEqual(first?["attempts"]?.arrayValue?.compactMap { $0["response_status"]?.intValue }, [500, 500, 500, 200])
        XCTAssertEqual(first?["attempts"]?.arrayValue?.first?["response_excerpt"], "try again")
        XCTAssertEqual(first?["endpoint_id"], .string(endpoint.id))
    }

    func testAfterTheLastRetryAMessageIsDeadAndCanBeRetriedByHand() throws {
        let receiver = try startReceiver(failFirst: 2)
        let endpoint = try createEndpoint(receiver.url, events: ["VERIFICATION_STATUS_CHANGE"])
        try receiver.trust([endpoint.secret])
        _ = try post("/v1/verifications", ["entity_id": "e", "checks": ["email"]], key: acme.writeKey, expect: 201)
        let dispatcher = try dispatcher("0s,0s")
        XCTAssertTrue(try deliverAll(dispatcher) { receiver.requests().count == 2 })
        XCTAssertEqual(try dispatcher.runOnce(), 0)
        let dead = try client.get("/v1/webhook_deliveries?status=dead", headers: .bearer(acme.readKey)).json?["data"]?.arrayValue ?? []
        XCTAssertEqual(dead.count, 1)
        guard let deliveryID = dead.first?["id"]?.stringValue else { return XCTFail() }
        XCTAssertEqual(try post("/v1/webhook_deliveries/\(deliveryID)/retry", [:], key: acme.writeKey)["status"], "pending")
        XCTAssertTrue(try deliverAll(dispatcher) { receiver.requests().count == 3 })
        XCTAssertEqual(receiver.requests().last?["status"], 200)
        XCTAssertEqual(try post("/v1/webhook_deliveries/\(deliveryID)/retry", [:], key: acme.writeKey, expect: 409)["error"]?["code"], "already_delivered")
    }

    func testTwoDispatchersDeliverEachMessageOnceAndInOrder() throws {
        let receiver = try startReceiver()
        let endpoint = try createEndpoint(receiver.url)
        try receiver.trust([endpoint.secret])
        var ids: [String] = []
        for _ in 0..<4 { ids.append(try lifecycle()) }
        let expected = ids.count * Self.lifecycleTypes.count
        let first = try dispatcher(), second = try dispatcher()
        let failures = Collector<String>()
        concurrently(2) { index in
            let dispatcher = index == 0 ? first : second
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline && receiver.requests().count < expected {
                do { try dispatcher.runOnce(batch: 5) } catch { failures.append("\(error)") }
            }
        }
        XCTAssertEqual(failures.values, [])
        let requests = receiver.requests()
        XCTAssertEqual(requests.count, expected, "nothing sent twice, nothing lost")
        XCTAssertEqual(Set(requests.compactMap { $0["webhook_id"]?.stringValue }).count, expected)
        for id in ids {
            let versions = requests.filter { $0["verification_id"] == .string(id) }.compactMap { $0["stream_version"]?.intValue }
            XCTAssertEqual(versions, versions.sorted(), "in order for \(id)")
            XCTAssertEqual(requests.filter { $0["verification_id"] == .string(id) }.compactMap { $0["type"]?.stringValue }, Self.lifecycleTypes)
        }
    }

    func testDuringARotationBothSecretsSignAndAfterItOnlyTheNew() throws {
        let receiver = try startReceiver()
        let endpoint = try createEndpoint(receiver.url, events: ["VERIFICATION_STATUS_CHANGE"])
        let rotated = try post("/v1/webhook_endpoints/\(endpoint.id)/rotate_secret", [:])["secret"]?.stringValue ?? ""
        try receiver.trust([endpoint.secret, rotated])
        _ = try post("/v1/verifications", ["entity_id": "e", "checks": ["email"]], key: acme.writeKey, expect: 201)
        let dispatcher = try dispatcher()
        XCTAssertTrue(try deliverAll(dispatcher) { receiver.requests().count == 1 })
        var request = receiver.requests()[0]
        XCTAssertEqual(request["signatures"], 2)
        XCTAssertEqual(request["valid"]?[endpoint.secret], true, "the old secret still verifies during the overlap")
        XCTAssertEqual(request["valid"]?[rotated], true)

        // The overlap ends: only the new secret signs.
        try database.ownerConnection().execute("UPDATE ledger.webhook_endpoints SET previous_secret_expires_at = now() - interval '1 second'")
        _ = try post("/v1/verifications", ["entity_id": "e", "checks": ["email"]], key: acme.writeKey, expect: 201)
        XCTAssertTrue(try deliverAll(dispatcher) { receiver.requests().count == 2 })
        request = receiver.requests()[1]
        XCTAssertEqual(request["signatures"], 1)
        XCTAssertEqual(request["valid"]?[endpoint.secret], false)
        XCTAssertEqual(request["valid"]?[rotated], true)
    }

    func testPostbacksAreSignedWithTheOrganizationsSecret() throws {
        let receiver = try startReceiver()
        let secret = try client.get("/v1/webhook_secret", headers: .bearer(acme.adminKey)).json?["secret"]?.stringValue ?? ""
        try receiver.trust([secret])
        _ = try post("/v1/verifications", ["entity_id": "e", "checks": ["email"], "postback_url": .string(receiver.url + "/postback"),
                                           "postback_events": ["VERIFICATION_STATUS_CHANGE"]], key: acme.writeKey, expect: 201)
        XCTAssertTrue(try deliverAll(try dispatcher()) { receiver.requests().count == 1 })
        XCTAssertEqual(receiver.requests().first?["valid"]?[secret], true)
        XCTAssertEqual(receiver.requests().first?["path"], "/hooks/postback")
    }

    func testA410DisablesTheEndpointAtOnce() throws {
        let receiver = try startReceiver(failFirst: 1, failStatus: 410)
        let endpoint = try createEndpoint(receiver.url, events: ["VERIFICATION_STATUS_CHANGE"])
        try receiver.trust([endpoint.secret])
        _ = try post("/v1/verifications", ["entity_id": "e", "checks": ["email"]], key: acme.writeKey, expect: 201)
        let dispatcher = try dispatcher()
        XCTAssertTrue(try deliverAll(dispatcher) { receiver.requests().count == 1 })
        let disabled = try client.get("/v1/webhook_endpoints/\(endpoint.id)", headers: .bearer(acme.readKey)).json
        XCTAssertEqual(disabled?["enabled"], false)
        XCTAssertEqual(disabled?["disabled_reason"], "the endpoint answered 410 Gone")
        XCTAssertEqual(try dispatcher.runOnce(), 0, "a disabled endpoint gets nothing")
        try post("/v1/webhook_endpoints/\(endpoint.id)", ["enabled": true])
        XCTAssertTrue(try deliverAll(dispatcher) { receiver.requests().count == 2 }, "re-enabled, the message goes out")
        XCTAssertEqual(receiver.requests().last?["status"], 200)
    }

    func testAConnectionFailureIsRetriedOnSchedule() throws {
        _ = try createEndpoint("http://127.0.0.1:1/nothing-listens-here", events: ["VERIFICATION_STATUS_CHANGE"])
        let connection = try database.ownerConnection()
        // Nothing listens on port 1: the attempt fails with a connection error and is scheduled again.
        _ = try post("/v1/verifications", ["entity_id": "e", "checks": ["email"]], key: acme.writeKey, expect: 201)
        let dispatcher = try dispatcher("0s,1h")
        XCTAssertEqual(try dispatcher.runOnce(), 1)
        let row = try connection.query("SELECT status, attempts, next_attempt_at > now() FROM ledger.outbox")
        XCTAssertEqual(row.string(0, 0), "pending")
        XCTAssertEqual(row.int(0, 1), 1)
        XCTAssertEqual(row.bool(0, 2), true, "the next try waits for the schedule")
        let failing = try connection.query("SELECT failing_since IS NOT NULL, enabled FROM ledger.webhook_endpoints")
        XCTAssertEqual(failing.bool(0, 0), true)
        XCTAssertEqual(failing.bool(0, 1), true)
    }

    func testAReceiverThatIsDownLosesNothingAndKeepsTheOrder() throws {
        let port = try freeLoopbackPort()
        let endpoint = try createEndpoint("http://127.0.0.1:\(port)/hooks", events: ["VERIFICATION_STATUS_CHANGE"])
        let id = try post("/v1/verifications", ["entity_id": "e", "checks": ["email"]], key: acme.writeKey, expect: 201)["id"]?.stringValue ?? ""
        try post("/v1/verifications/\(id)/withdraw", [:], key: acme.writeKey)
        let dispatcher = try dispatcher("0s,1s,1s,1s,1s,1s,1s,1s,1s,1s")
        XCTAssertEqual(try dispatcher.runOnce(), 1, "only the first message is tried; the second waits behind it")
        let down = try client.get("/v1/webhook_deliveries?verification_id=\(id)", headers: .bearer(acme.readKey)).json?["data"]?.arrayValue ?? []
        XCTAssertEqual(down.compactMap { $0["status"]?.stringValue }, ["pending", "pending"])
        XCTAssertNotEqual(down.last?["attempts"]?.arrayValue?.first?["error"], .null)

        let receiver = try startReceiver(port: port)
        try receiver.trust([endpoint.secret])
        XCTAssertTrue(try deliverAll(dispatcher) { receiver.requests().count == 2 })
        XCTAssertEqual(receiver.requests().compactMap { $0["stream_version"]?.intValue }, [1, 2])
        XCTAssertTrue(receiver.requests().allSatisfy { $0["valid"]?[endpoint.secret] == true })
    }

    func testAnEndpointFailingForFiveDaysIsDisabled() throws {
        let endpoint = try createEndpoint("http://127.0.0.1:1/down", events: ["VERIFICATION_STATUS_CHANGE"])
        try database.ownerConnection().execute("UPDATE ledger.webhook_endpoints SET failing_since = now() - interval '6 days'")
        _ = try post("/v1/verifications", ["entity_id": "e", "checks": ["email"]], key: acme.writeKey, expect: 201)
        XCTAssertEqual(try dispatcher().runOnce(), 1)
        let disabled = try client.get("/v1/webhook_endpoints/\(endpoint.id)", headers: .bearer(acme.readKey)).json
        XCTAssertEqual(disabled?["enabled"], false)
        XCTAssertEqual(disabled?["disabled_reason"], "every delivery failed for 5 days")
    }

    /// `kill -9` of the service while it delivers; after a restart every message arrives at least once.
    func testKillingTheServiceMidDeliveryLosesNothing() throws {
        let receiver = try startReceiver(delay: 0.3)
        let endpoint = try createEndpoint(receiver.url)
        try receiver.trust([endpoint.secret])
        let port = try freeLoopbackPort()
        var environment = ProcessInfo.processInfo.environment
        environment["DATABASE_URL"] = database.conninfo
        environment["LEDGER_KEK"] = TestKeyEncryptionKey.base64
        environment["LEDGER_LISTEN"] = "127.0.0.1:\(port)"
        environment["LEDGER_WEBHOOK_ALLOW_PRIVATE"] = "1"
        environment["LEDGER_WEBHOOK_TIMEOUT"] = "1"
        environment["LEDGER_WEBHOOK_LEASE_SECONDS"] = "2"
        environment["LEDGER_WEBHOOK_RETRY_SCHEDULE"] = "0s,1s,1s,1s,1s,1s,1s,1s,1s,1s"
        environment["LEDGER_LOG_REQUESTS"] = "0"
        let binary = try ledgerExecutable()
        func serve() throws -> ChildProcess.Running {
            let process = try ChildProcess.Running(binary, ["serve"], environment: environment)
            stopWhenTheTestEnds(process)
            let client = TestClient(baseURL: "http://127.0.0.1:\(port)")
            XCTAssertTrue(eventually(timeout: 30, interval: 0.05) { (try? client.get("/readyz").status) == 200 }, process.outputSoFar)
            return process
        }
        var served = try serve()
        serveClient = TestClient(baseURL: "http://127.0.0.1:\(port)")
        _ = try lifecycle()
        XCTAssertTrue(eventually(timeout: 30) { receiver.requests().count >= 2 }, "deliveries started")
        served.signal(SIGKILL)
        _ = served.wait()
        let beforeRestart = receiver.requests().count
        XCTAssertLessThan(beforeRestart, Self.lifecycleTypes.count, "killed mid-way")

        served = try serve()
        let outbox = try database.ownerConnection().query("SELECT message_id FROM ledger.outbox ORDER BY id")
        let messageIDs = Set((0..<outbox.count).compactMap { outbox.string($0, 0) })
        XCTAssertEqual(messageIDs.count, Self.lifecycleTypes.count)
        XCTAssertTrue(eventually(timeout: 60) {
            messageIDs.isSubset(of: Set(receiver.requests().compactMap { $0["webhook_id"]?.stringValue }))
        }, "every message arrives at least once")
        let versions = receiver.requests().compactMap { $0["stream_version"]?.intValue }
        XCTAssertEqual(versions, versions.sorted(), "a redelivery repeats a message but never overtakes one")
    }
}
