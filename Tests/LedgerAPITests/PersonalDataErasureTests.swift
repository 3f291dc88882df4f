import Foundation
import LedgerAPI
import LedgerCrypto
import LedgerDomain
import LedgerStorage
import LedgerTestSupport
@testable import LedgerWebhooks
import XCTest

/// Erasure by destroying the entity's data key: afterwards no read, list, past state or queued webhook shows the
/// personal data, the hash chain and every event's hash are as before, and legal holds and retention are kept.
final class PersonalDataErasureTests: XCTestCase {
    var subject: PersonalDataFixture!

    override func setUpWithError() throws { subject = try PersonalDataFixture(self, allowPrivateWebhooks: true) }

    override func tearDown() { subject.stop() }

    func erase(_ body: JSONValue, expect status: Int = 200, entity: String = "cus_4410") throws -> JSONValue {
        try subject.post("/v1/entities/\(entity)/erase", body, expect: status)
    }

    func eventHashes() throws -> [String] {
        let rows = try subject.database.ownerConnection().query("SELECT encode(hash, 'hex') FROM ledger.events ORDER BY position")
        return (0..<rows.count).compactMap { rows.string($0, 0) }
    }

    /// Every read that shows the entity's data, by path: each view and list, each `?as_of=` (at `past`), the events
    /// pages, the export (NDJSON) and the reviewer's timeline page (HTML), as their readers get them.
    func everyRead(_ id: String, past: Date) throws -> [String: String] {
        let asOf = "as_of=\(Timestamp.rfc3339(past))", entity = "/v1/entities/cus_4410"
        var paths = [
            "/v1/verifications/\(id)", "/v1/verifications?entity_id=cus_4410", "/v1/verifications/\(id)?\(asOf)", "/v1/verifications/\(id)/events",
            "/v1/orders/\(id)", "/v1/orders?entity_id=cus_4410", "/v1/customer_verifications/\(id)", "/v1/customer_verifications",
            "/v1/customer_verifications/\(id)?\(asOf)", "/v1/validations/\(id)", "/v1/validations/\(id)?\(asOf)", "\(entity)/validations",
            "\(entity)/validations/current", "\(entity)/validations/current?\(asOf)", "\(entity)/kyc-status", "\(entity)/kyc-status?\(asOf)",
            "/v1/identity/verification_reports?verification_session=vs_\(id.dropFirst(4))", "/v1/events", "/v1/events?entity_id=cus_4410",
            "\(entity)/events", "\(entity)/export",
        ]
        let reports = try subject.get("/v1/identity/verification_reports?verification_session=vs_\(id.dropFirst(4))")["data"]?.arrayValue ?? []
        XCTAssertFalse(reports.isEmpty, "the verification has Stripe reports")
        for report in reports.compactMap({ $0["id"]?.stringValue }) {
            paths += ["/v1/identity/verification_reports/\(report)", "/v1/identity/verification_reports/\(report)?\(asOf)"]
        }
        let link = try XCTUnwrap(try subject.post("/v1/verifications/\(id)/timeline_links", [:], expect: 201)["url"]?.stringValue)
        var reads: [String: String] = [:]
        for path in paths + [link] {
            let response = try subject.client.get(path, headers: .bearer(subject.acme.adminKey))
            XCTAssertEqual(response.status, 200, "\(path): \(response.text)")
            reads[path == link ? "the timeline page" : path] = response.text
        }
        return reads
    }

    /// The dispatcher sends a queued payload's personal data opened under the entity's key, and a payload the erasure
    /// stripped as it is now: marked erased, with nothing sealed left in it.
    func testTheDispatcherSendsPersonalDataOpenedAndAnErasedEntitysMessagesWithout() throws {
        try subject.post("/v1/webhook_endpoints", ["url": "http://127.0.0.1:9/hooks", "events": ["*"]], expect: 201)
        _ = try subject.lifecycle()
        var configuration = WebhookDispatcher.Configuration(concurrency: 100, policy: WebhookURLPolicy(allowPrivate: true))
        configuration.personalDataVault = PersonalDataVault(keyEncryptionKey: subject.keyEncryptionKey)
        let dispatcher = WebhookDispatcher(pool: subject.database.pool(size: 2), conninfo: subject.database.conninfo, configuration: configuration)
        let sent = try dispatcher.claim(100).messages.map { String(decoding: $0.body, as: UTF8.self) }
        XCTAssertFalse(sent.isEmpty)
        XCTAssertEqual(sent.filter { $0.contains(PersonalDataEnvelope.member) }, [], "every payload is sent opened")
        XCTAssertTrue(sent.allSatisfy { $0.contains("jolanda.q@example.org") }, "\(sent)")

        _ = try subject.lifecycle(entity: "cus_9001")
        subject.clock.set(subject.now.addingTimeInterval(3600))
        try erase(["reason": "the customer asked (Art. 17)", "override_retention": true], entity: "cus_9001")
        let afterErasure = try dispatcher.claim(100).messages.map { String(decoding: $0.body, as: UTF8.self) }
        XCTAssertFalse(afterErasure.isEmpty)
        XCTAssertTrue(afterErasure.allSatisfy { !$0.contains("jolanda.q@example.org") && !$0.contains(PersonalDataEnvelope.member) }, "\(afterErasure)")
        XCTAssertTrue(afterErasure.allSatisfy { $0.contains("erased") }, "\(afterErasure)")
    }

    func testAfterErasureNoReadListPastStateOrQueuedWebhookShowsPersonalDataAndTheChainIsAsBefore() throws {
        try subject.post("/v1/webhook_endpoints", ["url": "http://127.0.0.1:9/hooks", "events": ["*"]], expect: 201)
        let id = try subject.lifecycle()
        let owner = try subject.database.ownerConnection()
        let queued = try owner.query("SELECT count(*) FROM ledger.outbox WHERE payload #> '{data,object}' ? 'encrypted_personal_data'").int(0, 0) ?? 0
        XCTAssertGreaterThan(queued, 0, "queued webhooks carry the object's personal data sealed")
        XCTAssertTrue(try ChainVerifier.verifyAll(owner).isIntact)
        let hashes = try eventHashes()
        let beforeErasure = subject.now
        let shown = try everyRead(id, past: beforeErasure)
        for value in PersonalDataFixture.personalValues {
            XCTAssertFalse(shown.filter { $0.value.contains(value) }.isEmpty, "no read shows \(value) before the erasure")
        }
        for value in ["Jolanda", "jolanda.q@example.org"] {
            XCTAssertTrue(shown["the timeline page"]?.contains(value) == true, "the timeline page shows \(value) before the erasure")
        }
        XCTAssertTrue(shown["/v1/entities/cus_4410/export"]?.contains("X7Q4410982") == true, "the export holds the document number before the erasure")
        subject.clock.set(beforeErasure.addingTimeInterval(3600))

        let refused = try erase(["reason": "the customer asked (Art. 17)"], expect: 409)
        XCTAssertEqual(refused["error"]?["code"], "retention_period", "the verification ended now: five years of retention are ahead")
        XCTAssertEqual(try subject.get("/v1/verifications/\(id)")["applicant"]?["email"], "jolanda.q@example.org", "a refusal erases nothing")

        let erased = try erase(["reason": "the customer asked (Art. 17)", "override_retention": true])
        XCTAssertEqual(erased["verifications"], [.string(id)])
        XCTAssertNotEqual(erased["retention_until"], .null)

        for (read, text) in try everyRead(id, past: beforeErasure) {
            for value in PersonalDataFixture.personalValues {
                XCTAssertFalse(text.contains(value), "\(read) still shows \(value) after the erasure: \(text)")
            }
        }
        let verification = try subject.get("/v1/verifications/\(id)")
        XCTAssertEqual(verification["personal_data"], "erased")
        XCTAssertEqual(verification["applicant"], ["first_name": .null, "last_name": .null, "email": .null, "address": .null])
        XCTAssertEqual(verification["status"], "approved", "statuses are not personal data")
        let past = try subject.get("/v1/verifications/\(id)?as_of=\(Timestamp.rfc3339(beforeErasure))")
        XCTAssertEqual(past["personal_data"], "erased", "a state before the erasure shows no personal data either")
        XCTAssertEqual(past["applicant"]?["first_name"], .null)
        XCTAssertEqual(try subject.get("/v1/orders/\(id)")["personal_data"], "erased")
        XCTAssertEqual(try subject.get("/v1/verifications?entity_id=cus_4410")["data"]?.arrayValue?.first?["personal_data"], "erased")

        let payloads = try owner.query("SELECT payload::text FROM ledger.outbox WHERE status <> 'delivered' ORDER BY id")
        XCTAssertGreaterThan(payloads.count, 0)
        for row in 0..<payloads.count {
            let payload = try XCTUnwrap(payloads.string(row, 0))
            XCTAssertFalse(payload.contains("encrypted_personal_data"), "a queued payload still carries the sealed data: \(payload)")
            XCTAssertTrue(payload.contains("\"personal_data\": \"erased\""), payload)
        }

        XCTAssertTrue(try ChainVerifier.verifyAll(owner).isIntact, "the chain verifies after the erasure")
        let after = try eventHashes()
        XCTAssertEqual(Array(after.prefix(hashes.count)), hashes, "no event written before the erasure changed")
        XCTAssertEqual(after.count, hashes.count + 1)
        let event = try owner.query("SELECT type, data::text, metadata->>'actor_id' FROM ledger.events ORDER BY position DESC LIMIT 1")
        XCTAssertEqual(event.string(0, 0), "PersonalDataErased")
        let data = try XCTUnwrap(event.string(0, 1).flatMap { try? JSONValue.parse(Array($0.utf8), maxDepth: 8) })
        XCTAssertEqual(data, ["reason": "the customer asked (Art. 17)", "override_retention": true], "who, why and the override are recorded")
        XCTAssertEqual(event.string(0, 2)?.hasPrefix("key_"), true, "the admin's key erased it: \(event.string(0, 2) ?? "none")")
        XCTAssertEqual(try owner.query("SELECT count(*) FROM ledger.data_keys WHERE wrapped_key IS NOT NULL").int(0, 0), 0, "the key is destroyed")
        for value in PersonalDataFixture.personalValues {
            XCTAssertEqual(try subject.database.placesHolding(value), [], "\(value) in plain text after the erasure")
        }

        XCTAssertEqual(try erase(["reason": "again"])["erased_at"], erased["erased_at"], "erasing again changes nothing")
        XCTAssertEqual(try eventHashes().count, after.count)
    }

    /// An entity whose events, rows, queued webhooks and kept replies were all written before personal data was
    /// encrypted: its events are read as they were written (the upcast of their unsealed shape), and once it is
    /// erased no read, webhook or reply shows its personal data; only the log keeps it, in plain text (see README).
    func testAnEntityWrittenBeforeEncryptionIsErasedFromEveryReadWebhookAndReplyAndOnlyTheLogKeepsItsPlainText() throws {
        subject.stop()
        try subject.startServerWithoutEncryption(allowPrivateWebhooks: true)
        try subject.post("/v1/webhook_endpoints", ["url": "http://127.0.0.1:9/hooks", "events": ["*"]], expect: 201)
        let id = try subject.lifecycle()
        let invite: JSONValue = ["entity_id": "cus_4410", "checks": ["email"], "applicant": ["first_name": "Jolanda", "email": "jolanda.q@example.org"]]
        func inviteOnce() throws -> TestResponse {
            try subject.client.post("/v1/verifications", json: invite, headers: .bearer(subject.acme.adminKey).merging(["Idempotency-Key": "old-1"]) { $1 })
        }
        XCTAssertEqual(try inviteOnce().status, 201)
        let owner = try subject.database.ownerConnection()
        XCTAssertEqual(Set(try subject.database.placesHolding("jolanda.q@example.org")),
                       ["events.data", "verifications.document", "orders.document", "outbox.payload", "idempotency_keys.response_body"],
                       "the build before encryption kept everything in plain text")
        let hashes = try eventHashes()

        subject.stop()
        try subject.startServer(allowPrivateWebhooks: true)
        XCTAssertEqual(try subject.get("/v1/verifications/\(id)")["applicant"]?["email"], "jolanda.q@example.org")
        XCTAssertEqual(try subject.get("/v1/entities/cus_4410/personal_data")["verifications"]?.arrayValue?.first?["applicant"]?["email"],
                       "jolanda.q@example.org", "the subject access request shows the plain-text events' data")
        let beforeErasure = subject.now
        subject.clock.set(beforeErasure.addingTimeInterval(3600))
        try erase(["reason": "the customer asked (Art. 17)", "override_retention": true])

        for (read, text) in try everyRead(id, past: beforeErasure) {
            for value in PersonalDataFixture.personalValues {
                XCTAssertFalse(text.contains(value), "\(read) still shows \(value) after the erasure: \(text)")
            }
        }
        XCTAssertEqual(try subject.get("/v1/verifications/\(id)")["personal_data"], "erased")
        let payloads = try owner.query("SELECT payload::text FROM ledger.outbox WHERE status <> 'delivered' ORDER BY id")
        XCTAssertGreaterThan(payloads.count, 0)
        for row in 0..<payloads.count {
            let payload = try XCTUnwrap(payloads.string(row, 0))
            XCTAssertTrue(payload.contains("\"personal_data\": \"erased\""), "a queued payload is not marked erased: \(payload)")
        }
        let replayed = try inviteOnce()
        XCTAssertEqual(replayed.header("Idempotent-Replayed"), "true")
        XCTAssertEqual(replayed.json?["personal_data"], "erased", replayed.text)
        XCTAssertEqual(replayed.json?["applicant"]?["email"], .null, replayed.text)
        for value in PersonalDataFixture.personalValues {
            XCTAssertEqual(try subject.database.placesHolding(value).filter { $0 != "events.data" }, [], "\(value) in plain text after the erasure")
        }
        XCTAssertEqual(try subject.database.placesHolding("jolanda.q@example.org"), ["events.data"],
                       "the log keeps what was written before encryption: it is never rewritten")
        XCTAssertEqual(Array(try eventHashes().prefix(hashes.count)), hashes)
        XCTAssertTrue(try ChainVerifier.verifyAll(owner).isIntact)
    }

    func testALegalHoldRefusesErasureWith409NamingItUntilItIsLiftedAndEachChangeIsAnEventOfTheEntitysStreams() throws {
        let id = try subject.lifecycle()
        let other = try XCTUnwrap(try subject.post("/v1/verifications", ["entity_id": "cus_4410", "checks": ["email"]], expect: 201)["id"]?.stringValue)
        let updatedAt = try subject.get("/v1/verifications/\(id)")["updated_at"]
        let held = try subject.post("/v1/entities/cus_4410/legal_hold", ["reason": "court order 2026-118"])
        XCTAssertEqual(held["legal_hold"]?["reason"], "court order 2026-118")
        XCTAssertEqual(try subject.post("/v1/entities/cus_4410/legal_hold", ["reason": "another"])["legal_hold"]?["reason"], "court order 2026-118",
                       "a second hold keeps the first")
        XCTAssertEqual(try subject.get("/v1/verifications/\(id)")["updated_at"], updatedAt, "a hold is no change of the verification")
        let refused = try erase(["reason": "asked", "override_retention": true], expect: 409)
        XCTAssertEqual(refused["error"]?["code"], "legal_hold")
        XCTAssertTrue(refused["error"]?["message"]?.stringValue?.contains("court order 2026-118") == true, refused.jsonString)
        XCTAssertEqual(try subject.get("/v1/entities/cus_4410/personal_data")["personal_data"], "held")

        let lifted = try subject.client.request("DELETE", "/v1/entities/cus_4410/legal_hold",
                                                headers: .bearer(subject.acme.adminKey).merging(["Content-Type": "application/json"]) { $1 },
                                                body: Data(#"{"reason": "case closed"}"#.utf8))
        XCTAssertEqual(lifted.status, 200, lifted.text)
        XCTAssertEqual(lifted.json?["legal_hold"], .null)
        try erase(["reason": "asked", "override_retention": true])
        let changes = try subject.database.ownerConnection().query("""
            SELECT stream_id, type, data->>'reason', metadata->>'actor_id' FROM ledger.events
            WHERE type IN ('LegalHoldPlaced', 'LegalHoldLifted') ORDER BY type DESC, stream_id
            """)
        let streams = [id, other].sorted()
        XCTAssertEqual((0..<changes.count).map { "\(changes.string($0, 0) ?? "") \(changes.string($0, 1) ?? ""): \(changes.string($0, 2) ?? "")" },
                       streams.map { "\($0) LegalHoldPlaced: court order 2026-118" } + streams.map { "\($0) LegalHoldLifted: case closed" },
                       "each placing and lifting is an event of each of the entity's streams, with its reason")
        for row in 0..<changes.count {
            XCTAssertEqual(changes.string(row, 3)?.hasPrefix("key_"), true, "the admin's key placed or lifted it")
        }
        XCTAssertTrue(try ChainVerifier.verifyAll(subject.database.ownerConnection()).isIntact)
    }

    func testThePersonalDataEndpointShowsWhatIsHeldDecryptedAndNothingOnceErased() throws {
        let id = try subject.lifecycle()
        let held = try subject.get("/v1/entities/cus_4410/personal_data")
        XCTAssertEqual(held["personal_data"], "held")
        let verification = try XCTUnwrap(held["verifications"]?.arrayValue?.first)
        XCTAssertEqual(verification["id"], .string(id))
        XCTAssertEqual(verification["applicant"]?["email"], "jolanda.q@example.org")
        XCTAssertEqual(verification["results"]?.arrayValue?.first?["extracted_data"]?["document"]?["number"], "X7Q4410982")
        XCTAssertEqual(verification["results"]?.arrayValue?.first?["raw"], ["file": "file_front_77a"])
        XCTAssertEqual(try subject.client.get("/v1/entities/cus_4410/personal_data", headers: .bearer(subject.acme.readKey)).status, 403,
                       "admin scope only")
        XCTAssertEqual(try subject.client.get("/v1/entities/nobody/personal_data", headers: .bearer(subject.acme.adminKey)).status, 404)

        try erase(["reason": "asked", "override_retention": true])
        let erased = try subject.get("/v1/entities/cus_4410/personal_data")
        XCTAssertEqual(erased["personal_data"], "erased")
        for value in PersonalDataFixture.personalValues {
            XCTAssertFalse(erased.jsonString.contains(value), "\(value) after the erasure: \(erased.jsonString)")
        }
    }

    func testATestModeErasureLeavesTheSameEntityInLiveModeAlone() throws {
        _ = try subject.lifecycle()
        let live = try subject.post("/v1/verifications", [
            "entity_id": "cus_4410", "checks": ["email"], "applicant": ["email": "jolanda.q@example.org"],
        ], expect: 201, key: subject.acme.liveAdminKey)
        let liveID = try XCTUnwrap(live["id"]?.stringValue)
        try erase(["reason": "asked", "override_retention": true])
        let response = try subject.client.get("/v1/verifications/\(liveID)", headers: .bearer(subject.acme.liveAdminKey))
        XCTAssertEqual(response.json?["applicant"]?["email"], "jolanda.q@example.org")
    }

    func testAnIdempotentReplayIsKeptSealedShowsTheDataAndNoneOnceErased() throws {
        let invite: JSONValue = ["entity_id": "cus_4410", "checks": ["email"],
                                 "applicant": ["first_name": "Jolanda", "email": "jolanda.q@example.org"]]
        let headers = ["Idempotency-Key": "invite-1"]
        func send() throws -> TestResponse {
            try subject.client.post("/v1/verifications", json: invite, headers: .bearer(subject.acme.adminKey).merging(headers) { $1 })
        }
        let first = try send()
        XCTAssertEqual(first.status, 201, first.text)
        XCTAssertEqual(first.json?["applicant"]?["email"], "jolanda.q@example.org")
        XCTAssertEqual(try subject.database.placesHolding("jolanda.q@example.org"), [], "the kept response holds the email only sealed")
        let replayed = try send()
        XCTAssertEqual(replayed.header("Idempotent-Replayed"), "true")
        XCTAssertEqual(replayed.json, first.json, "the replay is the first response")

        try erase(["reason": "asked", "override_retention": true])
        let afterErasure = try send()
        XCTAssertEqual(afterErasure.header("Idempotent-Replayed"), "true")
        XCTAssertEqual(afterErasure.json?["applicant"]?["email"], .null, afterErasure.text)
        XCTAssertEqual(afterErasure.json?["personal_data"], "erased")
        XCTAssertFalse(afterErasure.text.contains("Jolanda"))
    }
}


/// An erasure on one instance while another keeps the entity's data key in memory for writing: the other's next
/// command finds the key destroyed in its own transaction and writes no personal data.
final class PersonalDataTwoInstancesTests: XCTestCase, TwoInstancesTestCase {
    var database: TestDatabase!
    var first: TestServer!
    var second: TestServer!
    var auth: [String: String] = [:]

    override func setUpWithError() throws { try startTwoInstances() }

    func testAKeyKeptByOneInstanceIsNotUsedOnceAnotherErasedTheEntity() throws {
        let acme = try TestOrganization(database: database, name: "Erasing")
        func post(_ server: TestServer, _ path: String, _ body: JSONValue, expect status: Int) throws -> JSONValue {
            let response = try TestClient(baseURL: server.baseURL).post(path, json: body, headers: .bearer(acme.adminKey))
            XCTAssertEqual(response.status, status, response.text)
            return response.json ?? .null
        }
        let invite: JSONValue = ["entity_id": "cus_twice", "checks": ["email"], "applicant": ["email": "jolanda.q@example.org"]]
        let kept = try post(first, "/v1/verifications", invite, expect: 201)
        XCTAssertEqual(kept["applicant"]?["email"], "jolanda.q@example.org", "the first instance wrote, and keeps, the entity's key")

        try post(second, "/v1/entities/cus_twice/erase", ["reason": "asked", "override_retention": true], expect: 200)

        let after = try post(first, "/v1/verifications", invite, expect: 201)
        XCTAssertEqual(after["applicant"]?["email"], .null, "written after the erasure, the verification keeps no personal data: \(after.jsonString)")
        XCTAssertEqual(after["personal_data"], "erased")
        let id = try XCTUnwrap(after["id"]?.stringValue)
        let owner = try database.ownerConnection()
        XCTAssertEqual(try owner.query("SELECT count(*) FROM ledger.events WHERE stream_id = $1 AND data ? 'encrypted_personal_data'", [id]).int(0, 0), 0,
                       "nothing was sealed under the destroyed key")
        XCTAssertEqual(try owner.query("SELECT count(*) FROM ledger.verifications WHERE id = $1 AND document::jsonb ? 'encrypted_personal_data'", [id]).int(0, 0), 0)
    }

    /// An invitation offers its entity a new key with its writes; where the entity has one already (stored by the other
    /// instance, which this one does not keep), the offer fails and the invitation runs again under the stored key.
    func testAnInvitationForAnEntityWhoseKeyAnotherInstanceStoredSealsUnderThatKey() throws {
        let acme = try TestOrganization(database: database, name: "Offering")
        func post(_ server: TestServer, _ body: JSONValue) throws -> JSONValue {
            let response = try TestClient(baseURL: server.baseURL).post("/v1/verifications", json: body, headers: .bearer(acme.adminKey))
            XCTAssertEqual(response.status, 201, response.text)
            return response.json ?? .null
        }
        _ = try post(first, ["entity_id": "cus_shared", "checks": ["email"], "applicant": ["email": "first.q@example.org"]])
        let second = try post(second, ["entity_id": "cus_shared", "checks": ["email"], "applicant": ["email": "second.q@example.org"]])
        XCTAssertEqual(second["applicant"]?["email"], "second.q@example.org")
        let id = try XCTUnwrap(second["id"]?.stringValue)
        let owner = try database.ownerConnection()
        XCTAssertEqual(try owner.query("SELECT count(*) FROM ledger.data_keys WHERE entity_id = 'cus_shared'").int(0, 0), 1)
        let read = try TestClient(baseURL: first.baseURL).get("/v1/verifications/\(id)", headers: .bearer(acme.adminKey))
        XCTAssertEqual(read.status, 200, read.text)
        XCTAssertEqual(read.json?["applicant"]?["email"], "second.q@example.org",
                       "the instance that stored the key reads what the other sealed: it was sealed under the stored key")
        XCTAssertEqual(try database.placesHolding("second.q@example.org"), [], "sealed, not in plain text")
    }

    /// Reads keep the keys they unwrapped: once another instance has erased the entity, the same reads on the first
    /// instance (by id and in lists, in every vocabulary) show it erased, not opened under the key they kept.
    func testAKeyAReadKeptIsNotUsedOnceAnotherInstanceErasedTheEntity() throws {
        let acme = try TestOrganization(database: database, name: "Reading")
        let client = TestClient(baseURL: first.baseURL)
        func post(_ path: String, _ body: JSONValue, expect status: Int) throws -> JSONValue {
            let response = try client.post(path, json: body, headers: .bearer(acme.adminKey))
            XCTAssertEqual(response.status, status, "\(path): \(response.text)")
            return response.json ?? .null
        }
        let id = try XCTUnwrap(try post("/v1/verifications", [
            "entity_id": "cus_read_twice", "checks": ["identity_verification"],
            "applicant": ["first_name": "Jolanda", "email": "jolanda.q@example.org"],
        ], expect: 201)["id"]?.stringValue)
        let attempt = try XCTUnwrap(try post("/v1/verifications/\(id)/attempts", [:], expect: 201)["id"]?.stringValue)
        for status in ["capture_in_progress", "checks_in_progress", "completed"] {
            _ = try post("/v1/verifications/\(id)/attempts/\(attempt)/progress", ["status": .string(status)], expect: 200)
        }
        _ = try post("/v1/verifications/\(id)/results", [
            "check": "identity_verification", "status": "approved", "response_codes": [10000], "attempt_id": .string(attempt),
            "extracted_data": ["first_name": "Jolanda", "last_name": "Quackenbush"],
        ], expect: 200)
        let reports = "/v1/identity/verification_reports?verification_session=vs_\(id.dropFirst(4))"
        let report = try XCTUnwrap(try client.get(reports, headers: .bearer(acme.adminKey)).json?["data"]?.arrayValue?.first?["id"]?.stringValue)
        let paths = ["/v1/verifications/\(id)", "/v1/verifications?entity_id=cus_read_twice", "/v1/orders/\(id)", "/v1/orders?entity_id=cus_read_twice",
                     "/v1/validations/\(id)", "/v1/entities/cus_read_twice/validations", reports, "/v1/identity/verification_reports/\(report)"]
        func read(_ path: String) throws -> String {
            let response = try client.get(path, headers: .bearer(acme.adminKey))
            XCTAssertEqual(response.status, 200, "\(path): \(response.text)")
            return response.text
        }
        for path in paths {
            XCTAssertTrue(try read(path).contains("Jolanda"), "\(path) shows the name before the erasure")
        }

        let erased = try TestClient(baseURL: second.baseURL).post("/v1/entities/cus_read_twice/erase",
                                                                  json: ["reason": "asked", "override_retention": true], headers: .bearer(acme.adminKey))
        XCTAssertEqual(erased.status, 200, erased.text)

        for path in paths {
            let text = try read(path)
            XCTAssertFalse(text.contains("Jolanda"), "\(path) still shows the name after the erasure: \(text)")
            XCTAssertTrue(text.contains("\"personal_data\":\"erased\""), "\(path) reads erased: \(text)")
        }
    }
}
