import Foundation
@testable import LedgerAPI
import LedgerDomain
@testable import LedgerEngine
import LedgerStorage
import LedgerTestSupport
@testable import LedgerWebhooks
import XCTest

/// Leases, per-destination order, what a waiting message waits for, repeated writes, completeness (sequence,
/// previous id, recovery) and retention, against real receivers that verify with the standardwebhooks library.
final class WebhookReliabilityTests: XCTestCase {
    var database: TestDatabase!
    var server: TestServer?
    var client: TestClient!
    var acme: TestOrganization!
    var receivers: [ChildProcess.Running] = []

    override func setUpWithError() throws {
        database = try makeDatabase()
        let server = try TestServer(database: database, api: APIConfiguration(authCacheSeconds: 0, logRequests: false, allowPrivateWebhooks: true,
                                                                              webhookMetricsMaxAge: 0))
        self.server = server
        client = TestClient(baseURL: server.baseURL)
        acme = try TestOrganization(database: database)
    }

    override func tearDown() {
        server?.stop()
        for receiver in receivers { receiver.signal(SIGTERM); _ = receiver.wait() }
    }

    // MARK: helpers

    /// A receiver that checks signatures and sequence numbers (`Tests/Fixtures/webhook_gap_receiver.py`, the
    /// README's example), or the general one (`webhook_receiver.py`) when `secret` is nil.
    func startReceiver(secret: String? = nil, failFirst: Int = 0) throws -> (url: String, log: String) {
        let base = NSTemporaryDirectory() + "receiver-\(UUID().uuidString.prefix(8))"
        let fixtures = TestPostgres.schemaDirectory.deletingLastPathComponent().appendingPathComponent("Tests/Fixtures")
        let process: ChildProcess.Running
        if let secret {
            process = try ChildProcess.Running("python3", [fixtures.appendingPathComponent("webhook_gap_receiver.py").path,
                                                           base + ".port", base + ".log", secret, String(failFirst)])
        } else {
            _ = FileManager.default.createFile(atPath: base + ".secrets", contents: Data())
            process = try ChildProcess.Running("python3", [fixtures.appendingPathComponent("webhook_receiver.py").path,
                                                           base + ".port", base + ".log", base + ".secrets", String(failFirst)])
        }
        receivers.append(process)
        XCTAssertTrue(eventually(timeout: 20) { FileManager.default.fileExists(atPath: base + ".port") }, process.outputSoFar)
        let port = (try? String(contentsOfFile: base + ".port", encoding: .utf8)) ?? "0"
        return ("http://127.0.0.1:\(port)/hooks", base + ".log")
    }

    func logged(_ log: String) -> [JSONValue] {
        ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { try? JSONValue.parse(Array($0.utf8)) }
    }

    func dispatcher(_ schedule: String = "0s,0s,0s,0s,0s", concurrency: Int = 8, retention: TimeInterval = 30 * 86_400) throws -> WebhookDispatcher {
        WebhookDispatcher(pool: database.pool(size: 4), conninfo: database.conninfo,
                          configuration: .init(schedule: try RetrySchedule(parsing: schedule), concurrency: concurrency, timeout: 5,
                                               policy: WebhookURLPolicy(allowPrivate: true), retention: retention))
    }

    @discardableResult
    func post(_ path: String, _ body: JSONValue, key: String? = nil, expect status: Int = 200) throws -> JSONValue {
        let response = try client.post(path, json: body, headers: .bearer(key ?? acme.adminKey))
        XCTAssertEqual(response.status, status, "\(path): \(response.text)")
        return response.json ?? .null
    }

    func createEndpoint(_ url: String, events: JSONValue = ["VERIFICATION_STATUS_CHANGE"], mode: String? = nil) throws -> (id: String, secret: String) {
        var body: [(String, JSONValue)] = [("url", .string(url)), ("events", events)]
        if let mode { body.append(("delivery_mode", .string(mode))) }
        let created = try post("/v1/webhook_endpoints", .object(body), expect: 201)
        return (created["id"]?.stringValue ?? "", created["secret"]?.stringValue ?? "")
    }

    func createVerification(postback: String? = nil, checks: JSONValue = ["email"]) throws -> String {
        var body: [(String, JSONValue)] = [("entity_id", "e"), ("checks", checks)]
        if let postback { body += [("postback_url", .string(postback)), ("postback_events", ["VERIFICATION_STATUS_CHANGE"])] }
        return try post("/v1/verifications", .object(body), key: acme.writeKey, expect: 201)["id"]?.stringValue ?? ""
    }

    func deliveries(_ query: String) throws -> [JSONValue] {
        try client.get("/v1/webhook_deliveries?\(query)", headers: .bearer(acme.readKey)).json?["data"]?.arrayValue ?? []
    }

    func outbox(_ sql: String) throws -> PostgresRows { try database.ownerConnection().query(sql) }

    /// Messages inserted straight into the outbox, as the service's own statements would queue them for the claim (`Schema/066`).
    func queueInsertedMessages(_ connection: PostgresConnection) throws {
        try connection.execute("SELECT ledger.sync_outbox_queue(ARRAY(SELECT id FROM ledger.outbox))")
    }

    // MARK: a. leases

    func testAClaimLeasesNoMoreMessagesThanItCanSendAtOnce() throws {
        _ = try createEndpoint("http://127.0.0.1:1/nothing")
        for _ in 0..<5 { _ = try createVerification() }
        let claimed = try dispatcher(concurrency: 2).claim(100)
        XCTAssertEqual(claimed.messages.count, 2, "one message per delivery slot")
        XCTAssertEqual(try outbox("SELECT count(*) FROM ledger.outbox WHERE leased_until > now()").int(0, 0), 2,
                       "the other three are not leased, so their lease cannot run out while they wait for a slot")
    }

    func testALateOutcomeFromADispatcherThatLostItsLeaseChangesNothing() throws {
        let receiver = try startReceiver()
        _ = try createEndpoint(receiver.url)
        _ = try createVerification()
        let slow = try dispatcher(), other = try dispatcher()
        let claimed = try slow.claim(10)
        XCTAssertEqual(claimed.messages.count, 1)
        // The slow dispatcher's lease runs out; another one claims the message and delivers it.
        try database.ownerConnection().execute("UPDATE ledger.outbox SET leased_until = now() - interval '1 second'")
        XCTAssertEqual(try other.runOnce(), 1)
        XCTAssertEqual(try outbox("SELECT status FROM ledger.outbox").string(0, 0), "delivered")

        // Then the slow one comes back with a failure.
        let failure = WebhookDispatcher.Outcome(status: 500, latency: 10_000, excerpt: "late", error: nil)
        XCTAssertEqual(try slow.record(claimed.messages.map { ($0, failure) }, lease: claimed.lease), 0, "not recorded")
        let row = try outbox("SELECT status, attempts, (SELECT count(*) FROM ledger.webhook_delivery_attempts) FROM ledger.outbox")
        XCTAssertEqual(row.string(0, 0), "delivered", "a late failure does not turn a delivered message back to pending")
        XCTAssertEqual(row.int(0, 1), 1)
        XCTAssertEqual(row.int(0, 2), 1, "only the attempt made under the lease is listed")
        XCTAssertEqual(try other.runOnce(), 0, "and it is not sent again")
    }

    func testABatchOfOutcomesIsRecordedEachUnderItsOwnLeaseInOneStatement() throws {
        _ = try createEndpoint("http://127.0.0.1:1/nothing")
        _ = try createVerification()
        _ = try createVerification()
        let dispatcher = try dispatcher()
        let first = try dispatcher.claim(1), second = try dispatcher.claim(1)
        guard let lost = first.messages.first, let held = second.messages.first else { return XCTFail("nothing claimed") }
        // Another dispatcher took the first message over after its lease ran out.
        _ = try database.ownerConnection().query("UPDATE ledger.outbox SET lease_token = gen_random_uuid() WHERE id = $1", [lost.id])

        let delivered = WebhookDispatcher.Outcome(status: 200, latency: 1, excerpt: "ok", error: nil)
        let failed = WebhookDispatcher.Outcome(status: 502, latency: 2, excerpt: "bad\u{0}gateway", error: nil)
        let exchanged = try dispatcher.exchange(recording: [(lost, delivered, first.lease), (held, failed, second.lease)], claimingUpTo: 0)
        XCTAssertEqual(exchanged.recorded, 1, "only the outcome still under its lease")
        let rows = try outbox("SELECT id, status, attempts, last_response_status FROM ledger.outbox ORDER BY id")
        XCTAssertEqual(rows.count, 2)
        XCTAssertEqual(rows.string(0, 1), "pending")
        XCTAssertEqual(rows.int(0, 2), 0, "the message whose lease was lost is left to the dispatcher holding it")
        XCTAssertEqual(rows.string(1, 1), "pending", "a failure is retried")
        XCTAssertEqual(rows.int(1, 2), 1)
        XCTAssertEqual(rows.int(1, 3), 502)
        let attempts = try outbox("SELECT outbox_id, response_status, response_excerpt FROM ledger.webhook_delivery_attempts")
        XCTAssertEqual(attempts.count, 1)
        XCTAssertEqual(attempts.int64(0, 0), held.id)
        XCTAssertEqual(attempts.string(0, 2), "badgateway", "a NUL in a response neither cuts it short nor breaks the batch")
    }

    func testAManualRetryLeavesAMessageInFlightAlone() throws {
        _ = try createEndpoint("http://127.0.0.1:1/nothing")
        _ = try createVerification()
        let claimed = try dispatcher().claim(10)
        guard let message = claimed.messages.first else { return XCTFail("nothing claimed") }
        let refused = try post("/v1/webhook_deliveries/\(message.messageID)/retry", [:], key: acme.writeKey, expect: 409)
        XCTAssertEqual(refused["error"]?["code"], "delivery_in_flight")
        let row = try outbox("SELECT lease_token, leased_until > now() FROM ledger.outbox")
        XCTAssertEqual(row.string(0, 0), claimed.lease.uuidString.lowercased(), "still held by its dispatcher")
        XCTAssertEqual(row.bool(0, 1), true)
    }

    // MARK: b. order per destination; why a message waits

    func testADeletedEndpointsMessagesAreDeadAndBlockNoOtherDestination() throws {
        let receiver = try startReceiver(failFirst: 1)
        let first = try createEndpoint(receiver.url)
        let id = try createVerification()
        let dispatcher = try dispatcher("0s,1h")
        XCTAssertEqual(try dispatcher.runOnce(), 1, "the first endpoint's message fails and waits an hour")
        // A second endpoint on the same URL: another destination.
        let second = try createEndpoint(receiver.url)
        try post("/v1/verifications/\(id)/withdraw", [:], key: acme.writeKey)
        XCTAssertTrue(try eventually(timeout: 30) {
            try dispatcher.runOnce()
            return self.logged(receiver.log).filter { $0["status"] == 200 }.count == 1
        }, "the second endpoint receives its message although the first endpoint's earlier one to that URL is pending")
        XCTAssertEqual(try deliveries("endpoint_id=\(first.id)").first?["waiting_for"]?["reason"], "earlier_message_pending")

        _ = try client.request("DELETE", "/v1/webhook_endpoints/\(first.id)", headers: .bearer(acme.adminKey))
        let dead = try deliveries("endpoint_id=\(first.id)")
        XCTAssertEqual(dead.compactMap { $0["status"]?.stringValue }, ["dead", "dead"])
        XCTAssertEqual(dead.first?["dead_reason"], "the endpoint was deleted")
        XCTAssertEqual(try deliveries("endpoint_id=\(second.id)").first?["status"], "delivered")
        XCTAssertEqual(try dispatcher.runOnce(), 0, "nothing is left for anyone")
    }

    func testTheDeliveriesAPIAndTheMetricsSayWhatAMessageWaitsFor() throws {
        let endpoint = try createEndpoint("http://127.0.0.1:1/down")
        let id = try createVerification()
        try post("/v1/verifications/\(id)/withdraw", [:], key: acme.writeKey)
        XCTAssertEqual(try dispatcher("0s,1h").runOnce(), 1)
        var listed = try deliveries("verification_id=\(id)")
        guard listed.count == 2 else { return XCTFail("\(listed)") }
        let (second, first) = (listed[0], listed[1])
        XCTAssertEqual(first["waiting_for"]?["reason"], "retry_scheduled")
        XCTAssertEqual(first["waiting_for"]?["next_attempt_at"], first["next_attempt_at"])
        XCTAssertEqual(second["waiting_for"], ["reason": "earlier_message_pending", "message_id": first["id"] ?? .null])
        var metrics = try client.get("/metrics").text
        XCTAssertTrue(metrics.contains("ledger_webhook_messages_waiting{reason=\"retry_scheduled\"} 1"), metrics)
        XCTAssertTrue(metrics.contains("ledger_webhook_messages_waiting{reason=\"earlier_message_pending\"} 1"), metrics)

        try post("/v1/webhook_endpoints/\(endpoint.id)", ["enabled": false])
        listed = try deliveries("verification_id=\(id)")
        XCTAssertEqual(listed.compactMap { $0["waiting_for"]?["reason"]?.stringValue }, ["endpoint_disabled", "endpoint_disabled"])
        metrics = try client.get("/metrics").text
        XCTAssertTrue(metrics.contains("ledger_webhook_messages_waiting{reason=\"endpoint_disabled\"} 2"), metrics)
    }

    /// `/metrics` needs no key and its counts read every pending message: within their maximum age the
    /// counts of the last scrape are answered again, so scraping more often does not count more often.
    func testTheMetricsCountWaitingMessagesAtMostOncePerMaximumAge() throws {
        server?.stop()
        let cached = try TestServer(database: database, api: APIConfiguration(authCacheSeconds: 0, logRequests: false, allowPrivateWebhooks: true,
                                                                              webhookMetricsMaxAge: 3600))
        server = cached
        client = TestClient(baseURL: cached.baseURL)
        _ = try createEndpoint("http://127.0.0.1:1/down")
        _ = try createVerification()
        let due = "ledger_webhook_messages_waiting{reason=\"due\"} 1"
        XCTAssertTrue(try client.get("/metrics").text.contains(due))
        _ = try createVerification()
        XCTAssertTrue(try client.get("/metrics").text.contains(due), "the same counts, not counted again")
    }

    // MARK: c. repeated writes

    /// A commit batch whose COMMIT's outcome was lost is committed again command by command: the same writes,
    /// twice. The append recognises its events; the outbox must recognise its messages.
    func testTheSameCommandsWritesCommittedTwiceQueueEachMessageOnce() throws {
        _ = try createEndpoint("http://127.0.0.1:1/a", events: ["*"])
        _ = try createEndpoint("http://127.0.0.1:1/b", events: ["*"])
        let now = Date()
        let before = LoadedVerification(id: "ver_repeated", state: VerificationDecider.initialState, version: 0)
        let invitation = Invitation(entityID: "e", checks: [.email], postbackURL: "http://127.0.0.1:1/postback", expiresAt: now.addingTimeInterval(86_400))
        let (events, state) = try VerificationDecider.run(.invite(invitation), before.state, now: now)
        let after = LoadedVerification(id: before.id, state: state, version: Int64(events.count))
        let pool = database.pool(size: 1)
        let writes = try pool.withConnection(scope: .tenant(organizationID: acme.id, livemode: false)) { connection in
            try connection.transaction({ tx in
                try VerificationStore.appendAndProject(tx, organizationID: acme.id, before: before, after: after, events: events,
                                                   eventIDs: events.map { _ in UUID() }, now: now,
                                                   actor: EventMetadata(actorID: "test", actorType: .system),
                                                   rewritingReadModels: false, conflict: { AppendError.wrongExpectedVersion(
                                                       streamID: before.id, expected: .noStream, current: $0) })
            }, handingOverWrites: true).writes
        }
        guard let writes else { return XCTFail("the command only queued writes") }
        try pool.withConnection { try $0.commit([writes]) }
        let first = try outbox("SELECT message_id, destination, sequence FROM ledger.outbox ORDER BY id")
        XCTAssertGreaterThan(first.count, 2)
        try pool.withConnection { try $0.commit([writes]) }
        let again = try outbox("SELECT message_id, destination, sequence FROM ledger.outbox ORDER BY id")
        XCTAssertEqual(again.count, first.count, "no message queued twice")
        XCTAssertEqual((0..<again.count).map { again.string($0, 2) }, (0..<first.count).map { first.string($0, 2) },
                       "and no sequence number skipped")
        XCTAssertEqual(try outbox("SELECT max(last_sequence) FROM ledger.outbox_sequences").int(0, 0),
                       (0..<first.count).compactMap { first.int($0, 2) }.max(), "the sequences did not move on either")
    }

    // MARK: d. concurrent delivery mode

    func testAConcurrentEndpointGetsLaterMessagesWhileAnEarlierOneWaitsForItsRetry() throws {
        let refused = try client.post("/v1/webhook_endpoints", json: ["url": "http://127.0.0.1:1/x", "events": ["*"], "delivery_mode": "fifo"],
                                      headers: .bearer(acme.adminKey))
        XCTAssertEqual(refused.status, 400)
        XCTAssertEqual(refused.json?["error"]?["param"], "delivery_mode")

        let receiver = try startReceiver(failFirst: 1)
        let endpoint = try createEndpoint(receiver.url, mode: "concurrent")
        XCTAssertEqual(try client.get("/v1/webhook_endpoints/\(endpoint.id)", headers: .bearer(acme.readKey)).json?["delivery_mode"], "concurrent")
        let id = try createVerification()
        try post("/v1/verifications/\(id)/withdraw", [:], key: acme.writeKey)
        XCTAssertEqual(try dispatcher("0s,1h").runOnce(), 2, "both messages go out at once")
        XCTAssertEqual(logged(receiver.log).compactMap { $0["status"]?.intValue }.sorted(), [200, 500])
        XCTAssertEqual(try deliveries("verification_id=\(id)").compactMap { $0["status"]?.stringValue }.sorted(), ["delivered", "pending"])

        try post("/v1/webhook_endpoints/\(endpoint.id)", ["delivery_mode": "ordered"])
        XCTAssertEqual(try client.get("/v1/webhook_endpoints/\(endpoint.id)", headers: .bearer(acme.readKey)).json?["delivery_mode"], "ordered")
    }

    // MARK: e. completeness

    func testAReceiverSeesAGapByItselfAndRecoveryFillsIt() throws {
        let (endpoint, receiver) = try startEndpointReceiverWithItsSecret(failFirst: 1)
        let id = try createVerification()
        try post("/v1/verifications/\(id)/withdraw", [:], key: acme.writeKey)
        let dispatcher = try dispatcher("0s")
        XCTAssertTrue(try eventually(timeout: 30) {
            try dispatcher.runOnce()
            return !self.logged(receiver.log).isEmpty
        })
        // The first message's only attempt failed: it is dead. The second came; the receiver saw the hole.
        var log = logged(receiver.log)
        guard log.count == 1 else { return XCTFail("\(log)") }
        XCTAssertEqual(log[0]["sequence"], 2)
        XCTAssertEqual(log[0]["verdict"], "gap")
        XCTAssertEqual(log[0]["missing"], [1])
        let dead = try deliveries("status=dead")
        XCTAssertEqual(dead.count, 1)
        XCTAssertEqual(log[0]["previous_message_id"], dead.first?["id"], "the gap names the message that is missing")

        // Bad requests change nothing.
        for (body, param) in [(JSONValue.object([]), "since"), (["since": "yesterday"], "since"), (["since": "2999-01-01T00:00:00Z"], "since")] {
            XCTAssertEqual(try post("/v1/webhook_endpoints/\(endpoint)/recover", body, expect: 400)["error"]?["param"], .string(param))
        }
        try post("/v1/webhook_endpoints/we_unknown/recover", ["since": "2020-01-01T00:00:00Z"], expect: 404)

        let since = Timestamp.rfc3339(Date().addingTimeInterval(-3600))
        let recovered = try post("/v1/webhook_endpoints/\(endpoint)/recover", ["since": .string(since)])
        XCTAssertEqual(recovered["requeued"], 1)
        XCTAssertTrue(try eventually(timeout: 30) {
            try dispatcher.runOnce()
            return self.logged(receiver.log).count == 2
        })
        log = logged(receiver.log)
        guard log.count == 2 else { return XCTFail("\(log)") }
        XCTAssertEqual(log[1]["sequence"], 1)
        XCTAssertEqual(log[1]["previous_message_id"], .null)
        XCTAssertEqual(log[1]["verdict"], "fills_gap")
        XCTAssertEqual(log[1]["missing"], [], "complete")
        XCTAssertEqual(try post("/v1/webhook_endpoints/\(endpoint)/recover", ["since": .string(since)])["requeued"], 0, "nothing left to recover")
    }

    func testEveryDestinationNumbersAVerificationsMessagesFromOne() throws {
        let (_, receiver) = try startEndpointReceiverWithItsSecret(events: ["*"])
        let id = try createVerification(postback: receiver.url.replacingOccurrences(of: "/hooks", with: "/postback"),
                                        checks: ["identity_verification"])
        let attempt = try post("/v1/verifications/\(id)/attempts", [:], key: acme.writeKey, expect: 201)["id"]?.stringValue ?? ""
        try post("/v1/verifications/\(id)/attempts/\(attempt)/progress", ["status": "capture_in_progress"], key: acme.writeKey)
        try post("/v1/verifications/\(id)/attempts/\(attempt)/progress", ["status": "completed"], key: acme.writeKey)
        let queued = try outbox("SELECT count(*) FROM ledger.outbox WHERE endpoint_id IS NOT NULL").int(0, 0) ?? 0
        XCTAssertGreaterThan(queued, 3)
        let dispatcher = try dispatcher()
        XCTAssertTrue(try eventually(timeout: 30) {
            try dispatcher.runOnce()
            return self.logged(receiver.log).filter { $0["path"] == "/hooks" }.count == queued
        })
        let toEndpoint = logged(receiver.log).filter { $0["path"] == "/hooks" }
        XCTAssertEqual(toEndpoint.compactMap { $0["sequence"]?.intValue }, Array(1...Int64(queued)))
        XCTAssertTrue(toEndpoint.allSatisfy { $0["verdict"] == "in_order" }, "\(toEndpoint)")
        XCTAssertEqual(toEndpoint.first?["previous_message_id"], .null)
        // The postback is signed with the organization's secret, which this receiver does not hold; its
        // numbering is its own, checked in the outbox.
        let postback = try outbox("SELECT sequence, previous_message_id FROM ledger.outbox WHERE destination = 'postback' ORDER BY id")
        XCTAssertEqual((0..<postback.count).compactMap { postback.int($0, 0) }, Array(1...postback.count))
        XCTAssertNil(postback.string(0, 1))
    }

    /// An endpoint for `VERIFICATION_STATUS_CHANGE` (or `events`) and a gap receiver holding its secret.
    func startEndpointReceiverWithItsSecret(failFirst: Int = 0, events: JSONValue = ["VERIFICATION_STATUS_CHANGE"]) throws -> (String, (url: String, log: String)) {
        // The receiver must know the endpoint's secret, and the endpoint its URL: create the endpoint on a
        // placeholder URL, start the receiver with its secret, then point the endpoint at the receiver.
        let endpoint = try createEndpoint("http://127.0.0.1:1/placeholder", events: events)
        let receiver = try startReceiver(secret: endpoint.secret, failFirst: failFirst)
        try post("/v1/webhook_endpoints/\(endpoint.id)", ["url": .string(receiver.url)])
        return (endpoint.id, receiver)
    }

    // MARK: f. retention and the claim's cost

    /// The claim's queue (`Schema/066`) holds exactly the pending messages that are not held, whatever changed
    /// them: queued by commands, held and released with their endpoint, dead after a failed last attempt,
    /// retried, recovered, delivered, and dead-lettered with their deleted endpoint.
    func testTheClaimsQueueHoldsExactlyThePendingMessagesNotHeld() throws {
        func check(_ step: String, pending expected: Int) throws {
            let rows = try outbox("""
                SELECT coalesce((SELECT array_agg(id ORDER BY id) FROM ledger.outbox WHERE status = 'pending' AND NOT held)::text, '{}'),
                       coalesce((SELECT array_agg(id ORDER BY id) FROM ledger.outbox_queue)::text, '{}'),
                       (SELECT count(*) FROM ledger.outbox WHERE status = 'pending' AND NOT held)
                """)
            XCTAssertEqual(rows.string(0, 1), rows.string(0, 0), step)
            XCTAssertEqual(rows.int(0, 2), expected, step)
        }
        let receiver = try startReceiver(failFirst: 2)
        let endpoint = try createEndpoint(receiver.url, mode: "concurrent")
        _ = try createVerification()
        _ = try createVerification()
        try check("queued by commands", pending: 2)
        try post("/v1/webhook_endpoints/\(endpoint.id)", ["enabled": false])
        try check("held with their endpoint", pending: 0)
        try post("/v1/webhook_endpoints/\(endpoint.id)", ["enabled": true])
        try check("released with it", pending: 2)
        let dispatcher = try dispatcher("0s")
        XCTAssertEqual(try dispatcher.runOnce(), 2)
        try check("dead after their only attempt failed", pending: 0)
        let dead = try outbox("SELECT message_id FROM ledger.outbox ORDER BY id")
        try post("/v1/webhook_deliveries/\(dead.string(0, 0) ?? "")/retry", [:], key: acme.writeKey)
        try check("one retried", pending: 1)
        try post("/v1/webhook_endpoints/\(endpoint.id)/recover", ["since": "2000-01-01T00:00:00Z"])
        try check("both recovered", pending: 2)
        XCTAssertEqual(try dispatcher.runOnce(), 2)
        try check("delivered", pending: 0)
        _ = try createVerification()
        try check("queued again", pending: 1)
        _ = try client.request("DELETE", "/v1/webhook_endpoints/\(endpoint.id)", headers: .bearer(acme.adminKey))
        try check("dead-lettered with the deleted endpoint", pending: 0)
        XCTAssertEqual(try outbox("SELECT count(*) FROM ledger.outbox WHERE status = 'dead'").int(0, 0), 1)
    }

    /// Recording an outcome (and a claim's lease) writes no column that an index of the outbox names, as a key
    /// or in its condition, so PostgreSQL writes the update in place (HOT): no new row version with an entry in
    /// every index for each delivery. The pending messages the claim walks are a queue of their own (`Schema/066`).
    func testRecordingAnOutcomeWritesNoColumnAnOutboxIndexNames() throws {
        let written: Set<String> = ["attempts", "leased_until", "lease_token", "last_attempt_at", "last_response_status", "status",
                                    "dead_reason", "delivered_at", "next_attempt_at", "held"]
        let rows = try outbox("SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = 'ledger.outbox'::regclass")
        XCTAssertGreaterThan(rows.count, 0)
        for row in 0..<rows.count {
            let definition = rows.string(row, 1) ?? ""
            let words = Set(definition.split { !($0.isLetter || $0.isNumber || $0 == "_") }.map(String.init))
            XCTAssertEqual(words.intersection(written), [], "\(rows.string(row, 0) ?? "?"): \(definition)")
        }
    }

    func testPurgingRemovesOnlyDeliveredMessagesPastTheirRetention() throws {
        let connection = try database.ownerConnection()
        try connection.query("""
            INSERT INTO ledger.outbox (message_id, organization_id, livemode, verification_id, endpoint_id, destination, url, event_type, payload,
                                       status, delivered_at, created_at)
            SELECT 'msg_' || name, $1, false, 'ver_1', 'we_1', 'we_1', 'http://127.0.0.1:1/', 'VERIFICATION_STATUS_CHANGE', '{}', status,
                   CASE WHEN status = 'delivered' THEN $2::timestamptz - make_interval(days => age) END, $2::timestamptz - make_interval(days => age)
            FROM (VALUES ('old_delivered', 'delivered', 40), ('recent_delivered', 'delivered', 10), ('old_dead', 'dead', 40),
                         ('old_pending', 'pending', 40)) AS m(name, status, age)
            """, [acme.id, Date()])
        try queueInsertedMessages(connection)
        try connection.execute("""
            INSERT INTO ledger.webhook_delivery_attempts (outbox_id, organization_id, response_status, latency_ms, attempted_at)
            SELECT id, organization_id, 200, 1, coalesce(delivered_at, created_at) FROM ledger.outbox
            """)
        func remaining() throws -> [String] {
            let rows = try connection.query("SELECT message_id FROM ledger.outbox ORDER BY message_id")
            return (0..<rows.count).compactMap { rows.string($0, 0) }
        }
        let dispatcher = try dispatcher(retention: 30 * 86_400)
        XCTAssertEqual(try dispatcher.purgeDelivered(now: Date()), 1)
        XCTAssertEqual(try remaining(), ["msg_old_dead", "msg_old_pending", "msg_recent_delivered"])
        XCTAssertEqual(try connection.query("SELECT count(*) FROM ledger.webhook_delivery_attempts").int(0, 0), 3, "its attempts went with it")
        XCTAssertEqual(try dispatcher.purgeDelivered(now: Date().addingTimeInterval(25 * 86_400)), 1, "21 days on, the other delivered one")
        XCTAssertEqual(try remaining(), ["msg_old_dead", "msg_old_pending"])
        XCTAssertEqual(try dispatcher.purgeDelivered(now: Date().addingTimeInterval(365 * 86_400)), 0, "dead and pending messages stay")
    }

    /// 20,000 delivered messages of history, statistics taken before a backlog of 2,000 arrived (as after a
    /// burst of commands, before autovacuum analyses the table): the claim must neither walk the history, nor
    /// read the whole backlog, nor compare every pending message with every other (which took 42 s for a
    /// backlog of 13,000): it looks at about as many rows as it claims.
    func testAClaimCostsTheSameWhateverTheHistoryAndTheStatistics() throws {
        let endpoint = try createEndpoint("http://127.0.0.1:1/backlog")
        let connection = try database.ownerConnection()
        try connection.query("""
            INSERT INTO ledger.outbox (message_id, organization_id, livemode, verification_id, endpoint_id, destination, url, event_type, payload, status, delivered_at)
            SELECT 'msg_d' || g, $1, false, 'ver_d' || g, NULL, 'postback', 'http://127.0.0.1:1/', 'VERIFICATION_STATUS_CHANGE', '{}', 'delivered', now()
            FROM generate_series(1, 20000) g
            """, [acme.id])
        try connection.execute("ANALYZE ledger.outbox")
        try connection.query("""
            INSERT INTO ledger.outbox (message_id, organization_id, livemode, verification_id, endpoint_id, destination, url, event_type, payload)
            SELECT 'msg_p' || g, $1, false, 'ver_p' || g, CASE WHEN g % 2 = 0 THEN $2 END, CASE WHEN g % 2 = 0 THEN $2 ELSE 'postback' END,
                   'http://127.0.0.1:1/', 'VERIFICATION_STATUS_CHANGE', '{}'
            FROM generate_series(1, 2000) g
            """, [acme.id, endpoint.id])
        try queueInsertedMessages(connection)
        let (looked, scannedIndexes) = try claimCost(connection, limit: 100)
        XCTAssertLessThan(looked, 1000, "outbox rows read to claim 100: \(looked); indexes: \(scannedIndexes)")
        XCTAssertTrue(scannedIndexes.contains("outbox_queue_pkey"), "\(scannedIndexes)")
    }

    /// The outbox rows a claim of up to `limit` (from the start, in the claim's plan settings) reads, from its plan: what its scans of the outbox returned (over
    /// all their loops) and what they threw away; and the indexes those scans used. Rolled back.
    func claimCost(_ connection: PostgresConnection, limit: Int) throws -> (looked: Int64, indexes: [String]) {
        // As the dispatcher claims: the service role in the system scope (Schema/019).
        try connection.execute("BEGIN; SET LOCAL ROLE ledger_service; SELECT set_config('ledger.scope', 'system', true)")
        defer { try? connection.execute("ROLLBACK") }
        try connection.execute(WebhookDispatcher.claimPlanSettings)
        let plan = try connection.query("EXPLAIN (ANALYZE, FORMAT JSON) " + WebhookDispatcher.claimStatement, [limit, 30.0, UUID(), 0])
        var looked: Int64 = 0, scannedIndexes: [String] = []
        func walk(_ node: JSONValue) {
            looked += (node["Rows Removed by Filter"]?.intValue ?? 0) + (node["Rows Removed by Join Filter"]?.intValue ?? 0)
            if node["Relation Name"] == "outbox" {
                looked += (node["Actual Rows"]?.intValue ?? 0) * (node["Actual Loops"]?.intValue ?? 1)
            }
            if node["Relation Name"] == "outbox" || node["Relation Name"] == "outbox_queue", let index = node["Index Name"]?.stringValue {
                scannedIndexes.append(index)
            }
            for child in node["Plans"]?.arrayValue ?? [] { walk(child) }
        }
        for entry in plan.json(0, 0)?.arrayValue ?? [] { if let root = entry["Plan"] { walk(root) } }
        return (looked, scannedIndexes)
    }

    /// The running dispatcher's claims walk on from the last message they claimed: a message behind that cursor
    /// that becomes due later (here the lowest id of a backlog, due after the cursor passed it) is still sent.
    func testAMessageThatBecomesDueBehindTheClaimCursorIsStillSent() throws {
        let receiver = try startReceiver()
        let endpoint = try createEndpoint(receiver.url)
        let connection = try database.ownerConnection()
        try connection.query("""
            INSERT INTO ledger.outbox (message_id, organization_id, livemode, verification_id, endpoint_id, destination, url, event_type,
                                       payload, next_attempt_at)
            SELECT 'msg_c' || g, $1, false, 'ver_c' || g, $2, $2, $3, 'VERIFICATION_STATUS_CHANGE',
                   jsonb_build_object('data', jsonb_build_object('object', jsonb_build_object('id', 'ver_c' || g))),
                   CASE WHEN g = 1 THEN now() + interval '2 seconds' ELSE now() END
            FROM generate_series(1, 300) g ORDER BY g
            """, [acme.id, endpoint.id, receiver.url])
        try queueInsertedMessages(connection)
        let dispatcher = try dispatcher(concurrency: 2)
        dispatcher.start()
        defer { dispatcher.stop() }
        XCTAssertTrue(try eventually(timeout: 30) {
            try self.outbox("SELECT count(*) FROM ledger.outbox WHERE message_id LIKE 'msg_c%' AND status = 'delivered'").int(0, 0) == 300
        }, "not delivered: \((try? outbox("SELECT string_agg(message_id || ' ' || status, ', ') FROM ledger.outbox WHERE status <> 'delivered'"))?.string(0, 0) ?? "")")
        XCTAssertEqual(try outbox("SELECT status FROM ledger.outbox WHERE message_id = 'msg_c1'").string(0, 0), "delivered")
    }

    /// 2,000 messages wait for a disabled endpoint, ahead of one for an enabled endpoint: the claim takes that
    /// one without reading the disabled endpoint's backlog, and once the endpoint is enabled again its
    /// messages are claimed again.
    func testAClaimDoesNotReadADisabledEndpointsBacklog() throws {
        let disabled = try createEndpoint("http://127.0.0.1:1/off")
        let connection = try database.ownerConnection()
        try connection.query("""
            INSERT INTO ledger.outbox (message_id, organization_id, livemode, verification_id, endpoint_id, destination, url, event_type, payload)
            SELECT 'msg_off' || g, $1, false, 'ver_off' || g, $2, $2, 'http://127.0.0.1:1/off', 'VERIFICATION_STATUS_CHANGE', '{}'
            FROM generate_series(1, 2000) g
            """, [acme.id, disabled.id])
        try queueInsertedMessages(connection)
        _ = try post("/v1/webhook_endpoints/\(disabled.id)", ["enabled": false])
        _ = try createEndpoint("http://127.0.0.1:1/on")
        _ = try createVerification()
        try connection.execute("ANALYZE ledger.outbox")
        let (looked, indexes) = try claimCost(connection, limit: 100)
        XCTAssertLessThan(looked, 100, "outbox rows read to claim the one sendable message: \(looked); indexes: \(indexes)")
        XCTAssertEqual(try dispatcher(concurrency: 4).claim(100).messages.map(\.url), ["http://127.0.0.1:1/on"])

        _ = try post("/v1/webhook_endpoints/\(disabled.id)", ["enabled": true])
        XCTAssertEqual(try dispatcher(concurrency: 4).claim(100).messages.count, 4, "enabled again, its messages are claimed")
    }
}
