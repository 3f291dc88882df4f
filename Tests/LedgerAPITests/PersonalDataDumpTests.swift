import Foundation
import LedgerAPI
import LedgerDomain
import LedgerHTTP
import LedgerStorage
import LedgerTestSupport
import XCTest

/// `ledger serve` as deployed, through a whole lifecycle with webhooks and idempotency keys: a `pg_dump` of its
/// database and its log never show the applicant's values, before or after the erasure; webhooks carry the data
/// while it exists and none once erased, also those queued before.
final class PersonalDataDumpTests: XCTestCase {
    static let values = ["Jolanda", "Quackenbush", "jolanda.q@example.org", "X7Q4410982", "1984-02-29"]

    func dump(_ database: TestDatabase) throws -> String {
        let outcome = try ChildProcess.run("/usr/lib/postgresql/15/bin/pg_dump", ["--dbname=\(database.conninfo)", "--no-owner"])
        XCTAssertEqual(outcome.status, 0, String(outcome.output.prefix(2000)))
        XCTAssertTrue(outcome.output.contains("COPY ledger.events"), "the dump holds the log")
        return outcome.output
    }

    func testADumpAndTheLogHoldNoPersonalValueAndWebhooksCarryItOnlyUntilTheErasure() throws {
        let database = try makeDatabase()
        // A receiver that refuses until told otherwise, so that messages stay queued across the erasure.
        let accepting = LockedBox(false)
        let received = LockedBox<[String]>([])
        let receiver = try TestServer { request in
            received.update { $0.append(String(decoding: request.body, as: UTF8.self)) }
            return HTTPResponse(status: accepting.get() ? 200 : 503)
        }
        defer { receiver.stop() }
        let port = try freeLoopbackPort()
        var environment = ProcessInfo.processInfo.environment
        environment["DATABASE_URL"] = database.conninfo
        environment["LEDGER_LISTEN"] = "127.0.0.1:\(port)"
        environment["LEDGER_KEK"] = TestKeyEncryptionKey.base64
        environment["LEDGER_KEK_FILE"] = nil
        environment["LEDGER_WEBHOOK_ALLOW_PRIVATE"] = "1"
        environment["LEDGER_WEBHOOK_RETRY_SCHEDULE"] = "0s" + String(repeating: ",1s", count: 30)
        environment["LEDGER_LOG_REQUESTS"] = "1"
        let serve = try ChildProcess.Running(try ledgerExecutable(), ["serve"], environment: environment)
        stopWhenTheTestEnds(serve)
        let client = TestClient(baseURL: "http://127.0.0.1:\(port)")
        XCTAssertTrue(eventually(timeout: 60, interval: 0.1) { serve.poll() == nil && (try? client.get("/readyz").status) == 200 },
                      serve.outputSoFar)
        let acme = try TestOrganization(database: database)
        var sent = 0
        @discardableResult
        func post(_ path: String, _ body: JSONValue, expect status: Int = 200) throws -> JSONValue {
            sent += 1
            let response = try client.post(path, json: body, headers: .bearer(acme.adminKey).merging(["Idempotency-Key": "k\(sent)"]) { $1 })
            XCTAssertEqual(response.status, status, "\(path): \(response.text)")
            return response.json ?? .null
        }

        try post("/v1/webhook_endpoints", ["url": .string("\(receiver.baseURL)/hooks"), "events": ["*"]], expect: 201)
        let id = try XCTUnwrap(try post("/v1/verifications", [
            "entity_id": "cus_4410", "checks": ["identity_verification"],
            "applicant": ["first_name": "Jolanda", "last_name": "Quackenbush", "email": "jolanda.q@example.org"],
        ], expect: 201)["id"]?.stringValue)
        let attempt = try XCTUnwrap(try post("/v1/verifications/\(id)/attempts", [:], expect: 201)["id"]?.stringValue)
        for status in ["capture_in_progress", "checks_in_progress", "completed"] {
            try post("/v1/verifications/\(id)/attempts/\(attempt)/progress", ["status": .string(status)])
        }
        try post("/v1/verifications/\(id)/results", [
            "check": "identity_verification", "status": "approved", "attempt_id": .string(attempt),
            "extracted_data": ["first_name": "Jolanda", "date_of_birth": "1984-02-29", "document": ["type": "passport", "number": "X7Q4410982"]],
        ])
        XCTAssertTrue(eventually(timeout: 20) { received.get().contains { $0.contains("jolanda.q@example.org") } },
                      "the dispatcher sends the object with its personal data, decrypted: \(received.get().count) received")

        // The audit reads (the history, the entity's history and its export) show the events' personal data, decrypted.
        let auditReads = ["/v1/events", "/v1/entities/cus_4410/events", "/v1/entities/cus_4410/export"]
        func audit(_ path: String) -> String { (try? client.get(path, headers: .bearer(acme.adminKey)).text) ?? "" }
        for path in auditReads {
            XCTAssertTrue(eventually(timeout: 10) { ["jolanda.q@example.org", "X7Q4410982"].allSatisfy(audit(path).contains) },
                          "\(path) shows the personal data while it exists: \(audit(path).prefix(500))")
        }

        let before = try dump(database)
        for value in Self.values { XCTAssertFalse(before.contains(value), "the dump shows \(value)") }

        try post("/v1/entities/cus_4410/erase", ["reason": "the customer asked", "override_retention": true])
        let after = try dump(database)
        for value in Self.values { XCTAssertFalse(after.contains(value), "the dump after the erasure shows \(value)") }
        for path in auditReads {
            let shown = audit(path)
            XCTAssertTrue(shown.contains("cus_4410"), "\(path) still lists the events: \(shown.prefix(500))")
            for value in Self.values { XCTAssertFalse(shown.contains(value), "\(path) after the erasure shows \(value)") }
        }

        let queued = try database.ownerConnection().query("SELECT count(*) FROM ledger.outbox WHERE status = 'pending'").int(0, 0) ?? 0
        XCTAssertGreaterThan(queued, 0, "messages were still queued at the erasure")
        let receivedBefore = received.get().count
        accepting.set(true)
        XCTAssertTrue(eventually(timeout: 30) {
            (try? database.ownerConnection().query("SELECT count(*) FROM ledger.outbox WHERE status = 'pending'").int(0, 0)) == 0
        }, "every queued message is delivered")
        let afterErasure = received.get().dropFirst(receivedBefore)
        XCTAssertFalse(afterErasure.isEmpty)
        for body in afterErasure {
            for value in Self.values { XCTAssertFalse(body.contains(value), "a webhook sent after the erasure carries \(value): \(body)") }
            let object = try XCTUnwrap(try? JSONValue.parse(Array(body.utf8), maxDepth: 512))["data"]?["object"]
            XCTAssertEqual(object?["personal_data"], "erased", "every queued object is sent marked erased: \(body)")
        }

        serve.signal(SIGTERM)
        let log = serve.wait().output
        XCTAssertTrue(log.contains("\"path\"") || log.contains("request"), "requests were logged: \(log.prefix(500))")
        for value in Self.values { XCTAssertFalse(log.contains(value), "the log shows \(value)") }
    }
}
