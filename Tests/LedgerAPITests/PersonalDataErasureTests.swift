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
        subject.clock.set(beforeErasure.addingTimeInterval(3600))

        let refused = try erase(["reason": "the customer asked (Art. 17)"], expect: 409)
        XCTAssertEqual(refused["error"]?["code"], "retention_period", "the verification ended now: five years of retention are ahead")
        XCTAssertEqual(try subject.get("/v1/verifications/\(id)")["applicant"]?["email"], "jolanda.q@example.org", "a refusal erases nothing")

        let erased = try erase(["reason": "the customer asked (Art. 17)", "override_retention": true])
        XCTAssertEqual(erased["verifications"], [.string(id)])
        XCTAssertNotEqual(erased["retention_until"], .null)

        for (read, text) in try subject.reads(id) {
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
            XCTAssertEqual(try subject.placesHolding(value), [], "\(value) in plain text after the erasure")
        }

        XCTAssertEqual(try erase(["reason": "again"])["erased_at"], erased["erased_at"], "erasing again changes nothing")
        XCTAssertEqual(try eventHashes().count, after.count)
    }

    func testALegalHoldRefusesErasureWith409NamingItUntilItIsLifted() throws {
        _ = try subject.lifecycle()
        let held = try subject.post("/v1/entities/cus_4410/legal_hold", ["reason": "court order 2026-118"])
        XCTAssertEqual(held["legal_hold"]?["reason"], "court order 2026-118")
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
        let changes = try subject.database.ownerConnection().query("SELECT action, reason FROM ledger.legal_hold_changes ORDER BY id")
        XCTAssertEqual((0..<changes.count).map { "\(changes.string($0, 0) ?? "") \(changes.string($0, 1) ?? "")" },
                       ["placed court order 2026-118", "lifted case closed"])
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
        XCTAssertEqual(try subject.placesHolding("jolanda.q@example.org"), [], "the kept response holds the email only sealed")
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

