import Foundation
import LedgerAPI
import LedgerDomain
import LedgerHTTP
import LedgerStorage
import LedgerTestSupport
import LedgerWebhooks
import Synchronization
import XCTest

/// Where outbound webhooks connect: a host is resolved once, every address it resolves to is checked, the
/// connection goes to the checked address, a failed lookup refuses, and no lookup holds a pooled connection.
final class WebhookDestinationTests: XCTestCase, ServiceTestCase {
    var service: ServiceFixture!
    var receivers: [HTTPServer] = []

    override func setUpWithError() throws {
        try startService(api: APIConfiguration(authCacheSeconds: 0, logRequests: false, allowPrivateWebhooks: true))
    }

    override func tearDown() {
        for receiver in receivers { receiver.shutdown(gracePeriod: 1) }
    }

    /// A resolver that answers from a list, one answer per call (the last one again once the list is used up),
    /// and counts its calls.
    final class ScriptedResolver: Sendable {
        let answers: [[[UInt8]]?]
        let calls = Mutex<[String]>([])

        init(_ answers: [[[UInt8]]?]) { self.answers = answers }

        var resolver: WebhookURLPolicy.Resolver {
            { host in
                let index = self.calls.withLock { calls in calls.append(host); return calls.count - 1 }
                return self.answers.isEmpty ? nil : self.answers[min(index, self.answers.count - 1)]
            }
        }
    }

    func dispatcher(_ policy: WebhookURLPolicy) throws -> WebhookDispatcher {
        WebhookDispatcher(pool: database.pool(size: 4), conninfo: database.conninfo,
                          configuration: .init(schedule: try RetrySchedule(parsing: "0s,1h"), concurrency: 4, timeout: 2, policy: policy))
    }

    /// An endpoint for the invite's VERIFICATION_STATUS_CHANGE only, so that each invite queues one message.
    func createEndpoint(_ url: String) throws -> String {
        let response = try client.post("/v1/webhook_endpoints", json: ["url": .string(url), "events": ["VERIFICATION_STATUS_CHANGE"]],
                                       headers: .bearer(acme.adminKey))
        XCTAssertEqual(response.status, 201, response.text)
        return response.json?["id"]?.stringValue ?? ""
    }

    func createVerification() throws {
        let response = try client.post("/v1/verifications", json: ["entity_id": "e", "checks": ["email"]], headers: .bearer(acme.writeKey))
        XCTAssertEqual(response.status, 201, response.text)
    }

    /// A receiver on 127.0.0.1 that keeps the Host header of every request.
    func startReceiver() throws -> (port: UInt16, hosts: Collector<String>) {
        let hosts = Collector<String>()
        let receiver = HTTPServer(configuration: .init(host: "127.0.0.1", port: 0, threads: 2)) { request in
            hosts.append(request.header("host") ?? "")
            return HTTPResponse(status: 204)
        }
        try receiver.start()
        receivers.append(receiver)
        return (receiver.port, hosts)
    }

    /// The host name exists nowhere but in the stub, which answers the receiver's address first and another
    /// address afterwards: the message arrives under its host name, so libcurl connected to the address the
    /// check resolved, and nothing was resolved again to connect.
    func testADeliveryConnectsToTheAddressItsCheckResolvedAndToNoLaterAnswer() throws {
        let receiver = try startReceiver()
        let host = "hooks.rebinding.invalid"
        _ = try createEndpoint("http://\(host):\(receiver.port)/hooks")
        try createVerification()
        let stub = ScriptedResolver([[[127, 0, 0, 1]], [[10, 0, 0, 1]]])
        XCTAssertEqual(try dispatcher(WebhookURLPolicy(allowPrivate: true, resolver: stub.resolver)).runOnce(), 1)
        let rows = try database.ownerConnection().query("""
            SELECT o.status, a.error FROM ledger.outbox o JOIN ledger.webhook_delivery_attempts a ON a.outbox_id = o.id
            """)
        XCTAssertEqual(rows.count, 1)
        XCTAssertEqual(rows.string(0, 0), "delivered", rows.string(0, 1) ?? "")
        XCTAssertEqual(receiver.hosts.values, ["\(host):\(receiver.port)"], "the Host header keeps the name")
        XCTAssertEqual(stub.calls.withLock { $0 }, [host], "resolved once, for the check")
    }

    /// Every address a name resolves to is checked; the connection is pinned to the first; a failed lookup
    /// refuses the URL rather than letting it through.
    func testEveryResolvedAddressIsCheckedAndAFailedLookupRefuses() throws {
        func verdict(_ answer: [[UInt8]]?, _ url: String = "https://hooks.example.test/h") -> WebhookURLPolicy.Verdict {
            WebhookURLPolicy(allowPrivate: false, resolver: ScriptedResolver([answer]).resolver).destination(url, livemode: true)
        }
        XCTAssertEqual(verdict([[93, 184, 216, 34]]),
                       .allowed(.init(url: "https://hooks.example.test/h", connectTo: "hooks.example.test:443:93.184.216.34:443")))
        XCTAssertEqual(verdict([[93, 184, 216, 34], [169, 254, 169, 254]]), .refused("points to a loopback, link-local or private address"))
        XCTAssertEqual(verdict(nil), .refused("has a host name that could not be resolved"))
        XCTAssertEqual(verdict([[0x26, 0x06, 0x28, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]], "https://hooks.example.test:8443/h"),
                       .allowed(.init(url: "https://hooks.example.test:8443/h", connectTo: "hooks.example.test:8443:[2606:2800::1]:8443")))
        XCTAssertEqual(verdict(nil, "https://93.184.216.34/h"), .allowed(.init(url: "https://93.184.216.34/h", connectTo: nil)),
                       "an IP literal is not looked up")

        // Through the API, with the system's resolver: a name that resolves nowhere is refused, not let through.
        let strict = try TestServer(database: database, api: APIConfiguration(authCacheSeconds: 0, logRequests: false))
        defer { strict.stop() }
        let refused = try TestClient(baseURL: strict.baseURL).post("/v1/webhook_endpoints", json: ["url": "https://nowhere.invalid/h", "events": ["*"]],
                                                                     headers: .bearer(acme.adminKey))
        XCTAssertEqual(refused.status, 400, refused.text)
        XCTAssertEqual(refused.json?["error"]?["param"], "url")
        XCTAssertTrue(refused.text.contains("could not be resolved"), refused.text)
    }

    /// At delivery, a failed lookup is a failed attempt that says why, and nothing is sent.
    func testAFailedLookupAtDeliveryIsARefusedAttemptWithItsReason() throws {
        _ = try createEndpoint("https://gone.invalid/hooks")
        try createVerification()
        XCTAssertEqual(try dispatcher(WebhookURLPolicy(allowPrivate: false, resolver: ScriptedResolver([nil]).resolver)).runOnce(), 1)
        let rows = try database.ownerConnection().query("""
            SELECT o.status, o.attempts, a.error, a.response_status FROM ledger.outbox o
            JOIN ledger.webhook_delivery_attempts a ON a.outbox_id = o.id
            """)
        XCTAssertEqual(rows.count, 1)
        XCTAssertEqual(rows.string(0, 0), "pending", "retried on the schedule")
        XCTAssertEqual(rows.int(0, 1), 1)
        XCTAssertEqual(rows.string(0, 2), "destination refused: the URL has a host name that could not be resolved")
        XCTAssertNil(rows.string(0, 3))
    }

    /// With a pool of one connection, a request whose URL takes long to resolve leaves the connection free:
    /// another request completes meanwhile, and the slow one completes once its lookup does.
    func testResolvingAURLHoldsNoPooledConnection() throws {
        let entered = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        let slowResolver: WebhookURLPolicy.Resolver = { _ in
            entered.signal()
            release.wait()
            return [[93, 184, 216, 34]]
        }
        let migrator = try Migrator(directory: TestPostgres.schemaDirectory)
        let application = LedgerApplication(pool: database.pool(size: 1), schemaVersion: migrator.migrations.last?.version ?? 0,
                                            configuration: APIConfiguration(authCacheSeconds: 0, logRequests: false, webhookResolver: slowResolver))
        let small = try TestServer(handler: application.handle)
        defer { small.stop() }
        let smallClient = TestClient(baseURL: small.baseURL)
        let requests: [(path: String, body: JSONValue, key: String)] = [
            ("/v1/verifications", ["entity_id": "e", "checks": ["email"], "postback_url": "https://slow.example.test/p"], acme.writeKey),
            ("/v1/webhook_endpoints", ["url": "https://slow.example.test/h", "events": ["*"]], acme.adminKey),
        ]
        for request in requests {
            let slow = Collector<Int>()
            let done = DispatchSemaphore(value: 0)
            Thread {
                slow.append((try? smallClient.post(request.path, json: request.body, headers: .bearer(request.key)).status) ?? 0)
                done.signal()
            }.start()
            XCTAssertEqual(entered.wait(timeout: .now() + 20), .success, "the lookup started")
            let meanwhile = try smallClient.get("/v1/verifications", headers: .bearer(acme.readKey))
            XCTAssertEqual(meanwhile.status, 200, "\(request.path): \(meanwhile.text)")
            release.signal()
            XCTAssertEqual(done.wait(timeout: .now() + 20), .success)
            XCTAssertEqual(slow.values, [201], request.path)
        }
    }
}
