import Foundation
import LedgerAPI
import LedgerCrypto
import LedgerDomain
import LedgerStorage
import LedgerTestSupport
import XCTest

/// A test database and a server with encryption on, and the lifecycle of one applicant with personal data.
final class PersonalDataFixture {
    let database: TestDatabase
    var server: TestServer!
    var client: TestClient!
    var acme: TestOrganization!
    var keyEncryptionKey: KeyEncryptionKey!
    /// The server's clock; tests move it.
    let clock = LockedBox(Date(timeIntervalSince1970: 1_790_000_000))
    var now: Date { clock.get() }

    static let personalValues = ["Jolanda", "Quackenbush", "jolanda.q@example.org", "Rue des Tilleuls", "1984-02-29", "X7Q4410982",
                                 "2029-06-02", "file_front_77a"]

    init(_ test: XCTestCase, allowPrivateWebhooks: Bool = false) throws {
        database = try test.makeDatabase()
        keyEncryptionKey = try KeyEncryptionKey.generate()
        try startServer(allowPrivateWebhooks: allowPrivateWebhooks)
        acme = try TestOrganization(database: database)
    }

    func stop() { server?.stop() }

    func startServer(stateCacheSize: Int = 10_000, allowPrivateWebhooks: Bool = false) throws {
        server = try TestServer(database: database, api: APIConfiguration(authCacheSeconds: 0, logRequests: false, clock: { [clock] in clock.get() },
                                                                          allowPrivateWebhooks: allowPrivateWebhooks,
                                                                          stateCacheSize: stateCacheSize,
                                                                          personalDataVault: PersonalDataVault(keyEncryptionKey: keyEncryptionKey)))
        client = TestClient(baseURL: server.baseURL)
    }

    /// The service as it was before personal data was encrypted (no vault): it writes events, rows, queued webhooks
    /// and kept replies in plain text, in the shapes that build wrote.
    func startServerWithoutEncryption(allowPrivateWebhooks: Bool = false) throws {
        let application = LedgerApplication(pool: database.pool(size: 8, commitThreads: 2), schemaVersion: 0,
                                            configuration: APIConfiguration(authCacheSeconds: 0, logRequests: false, clock: { [clock] in clock.get() },
                                                                            allowPrivateWebhooks: allowPrivateWebhooks))
        server = try TestServer(handler: application.handle)
        client = TestClient(baseURL: server.baseURL)
    }

    @discardableResult
    func post(_ path: String, _ body: JSONValue, expect status: Int = 200, key: String? = nil) throws -> JSONValue {
        let response = try client.post(path, json: body, headers: .bearer(key ?? acme.adminKey))
        XCTAssertEqual(response.status, status, "\(path): \(response.text)")
        return try XCTUnwrap(response.json)
    }

    func get(_ path: String) throws -> JSONValue {
        let response = try client.get(path, headers: .bearer(acme.adminKey))
        XCTAssertEqual(response.status, 200, "\(path): \(response.text)")
        return try XCTUnwrap(response.json)
    }

    /// A verification of entity `cus_4410` through its whole flow, with every personal value above.
    func lifecycle(entity: String = "cus_4410") throws -> String {
        let created = try post("/v1/verifications", [
            "entity_id": .string(entity), "checks": ["identity_verification"], "package_id": "pkg_identity",
            "applicant": ["first_name": "Jolanda", "last_name": "Quackenbush", "email": "jolanda.q@example.org", "address": "12 Rue des Tilleuls"],
            "metadata": ["plan": "gold"],
        ], expect: 201)
        let id = try XCTUnwrap(created["id"]?.stringValue)
        XCTAssertEqual(created["applicant"]?["email"], "jolanda.q@example.org", "the command answers with the data")
        let attempt = try XCTUnwrap(try post("/v1/verifications/\(id)/attempts", [:], expect: 201)["id"]?.stringValue)
        for status in ["capture_in_progress", "checks_in_progress", "completed"] {
            try post("/v1/verifications/\(id)/attempts/\(attempt)/progress", ["status": .string(status)])
        }
        try post("/v1/verifications/\(id)/results", [
            "check": "identity_verification", "status": "approved", "response_codes": [10000], "attempt_id": .string(attempt),
            "extracted_data": ["first_name": "Jolanda", "last_name": "Quackenbush", "date_of_birth": "1984-02-29",
                               "document": ["type": "passport", "number": "X7Q4410982", "expiry_date": "2029-06-02"]],
            "raw": ["file": "file_front_77a"],
        ])
        return id
    }


    /// What every read shows of the verification: the object, the list, `as_of`, the events, the order and its list.
    func reads(_ id: String) throws -> [String: String] {
        [
            "verification": try get("/v1/verifications/\(id)").jsonString,
            "list": try get("/v1/verifications?entity_id=cus_4410").jsonString,
            "as_of": try get("/v1/verifications/\(id)?as_of=\(Timestamp.rfc3339(now.addingTimeInterval(60)))").jsonString,
            "events": try get("/v1/verifications/\(id)/events").jsonString,
            "order": try get("/v1/orders/\(id)").jsonString,
            "orders": try get("/v1/orders?entity_id=cus_4410").jsonString,
        ]
    }

    func ledger(_ arguments: [String], _ variables: [String: String?]) throws -> ChildProcess.Outcome {
        var environment = ProcessInfo.processInfo.environment
        environment["DATABASE_URL"] = database.conninfo
        environment["LEDGER_LISTEN"] = "127.0.0.1:\(try freeLoopbackPort())"
        for variable in ["LEDGER_KEK", "LEDGER_KEK_FILE", "LEDGER_NEW_KEK", "LEDGER_NEW_KEK_FILE"] { environment[variable] = nil }
        for (name, value) in variables { environment[name] = value }
        return try ChildProcess.Running(try ledgerExecutable(), arguments, environment: environment).wait()
    }
}

/// Personal data through the service with encryption on: every read shows it, and the database holds it only
/// encrypted under the entity's data key.
final class PersonalDataAtRestTests: XCTestCase {
    var subject: PersonalDataFixture!

    override func setUpWithError() throws { subject = try PersonalDataFixture(self) }

    override func tearDown() { subject.stop() }

    func testEveryReadShowsThePersonalDataAndTheDatabaseHoldsItOnlyEncrypted() throws {
        let id = try subject.lifecycle()
        for (read, text) in try subject.reads(id) {
            for value in ["Jolanda", "Quackenbush", "jolanda.q@example.org"] {
                XCTAssertTrue(text.contains(value), "\(read) does not show \(value): \(text)")
            }
        }
        for read in ["events", "order", "orders"] {
            XCTAssertTrue(try subject.reads(id)[read]?.contains("X7Q4410982") == true, "\(read) shows the document number")
        }
        XCTAssertEqual(try subject.get("/v1/verifications/\(id)")["personal_data"], nil, "no erasure marker while the data is there")
        for value in PersonalDataFixture.personalValues {
            XCTAssertEqual(try subject.database.placesHolding(value), [], "\(value) is in the database in plain text")
        }
        let owner = try subject.database.ownerConnection()
        XCTAssertEqual(try owner.query("SELECT count(*) FROM ledger.data_keys WHERE entity_id = 'cus_4410' AND wrapped_key IS NOT NULL").int(0, 0), 1)
        XCTAssertEqual(try owner.query("SELECT count(*) FROM ledger.events WHERE data ? 'encrypted_personal_data'").int(0, 0), 2,
                       "the invite and the result carry encrypted personal data")
    }

    func testAServerThatKeepsNoStatesReadsTheSameFromTheLog() throws {
        let id = try subject.lifecycle()
        let cached = try subject.get("/v1/verifications/\(id)")
        subject.server.stop()
        try subject.startServer(stateCacheSize: 0)
        try subject.post("/v1/verifications/\(id)/metadata", ["metadata": ["plan": "silver"]])
        let folded = try subject.get("/v1/verifications/\(id)")
        XCTAssertEqual(folded["applicant"]?["email"], "jolanda.q@example.org")
        XCTAssertEqual(folded["applicant"], cached["applicant"], "a command decided on the folded stream keeps the applicant")
        XCTAssertEqual(try subject.get("/v1/orders/\(id)").jsonString.contains("X7Q4410982"), true,
                       "the order rewritten from the folded stream keeps the document number")
    }

    func testServeOnADatabaseOfItsOwnWithoutAKeyEncryptionKeyStopsWithAClearMessage() throws {
        let outcome = try subject.ledger(["serve"], [:])
        XCTAssertNotEqual(outcome.status, 0)
        XCTAssertTrue(outcome.output.contains("no key-encryption key") && outcome.output.contains("LEDGER_KEK"), outcome.output)
        XCTAssertFalse(outcome.output.contains("listening"), outcome.output)
    }

    func testServeWithAnotherKeyEncryptionKeyThanTheStoredDataKeysStopsBeforeServing() throws {
        _ = try subject.lifecycle()
        let other = try KeyEncryptionKey.generate()
        let outcome = try subject.ledger(["serve"], ["LEDGER_KEK": other.base64])
        XCTAssertNotEqual(outcome.status, 0)
        XCTAssertTrue(outcome.output.contains("wrong key-encryption key") && outcome.output.contains(other.idHex)
                      && outcome.output.contains(subject.keyEncryptionKey.idHex), outcome.output)
        XCTAssertFalse(outcome.output.contains("listening"), outcome.output)
        XCTAssertFalse(outcome.output.contains(other.base64) || outcome.output.contains(subject.keyEncryptionKey.base64), "no key in the output")
    }

    func testRotatingTheKeyEncryptionKeyKeepsEverythingReadableUnderTheNewKeyOnly() throws {
        let id = try subject.lifecycle()
        let before = try subject.reads(id)
        subject.server.stop()
        let old = subject.keyEncryptionKey!, new = try KeyEncryptionKey.generate()
        let events = try subject.database.ownerConnection().query("SELECT string_agg(data::text, ',' ORDER BY position) FROM ledger.events").string(0, 0)
        let rotated = try subject.ledger(["keys", "rotate-kek"], ["LEDGER_KEK": old.base64, "LEDGER_NEW_KEK": new.base64])
        XCTAssertEqual(rotated.status, 0, rotated.output)
        XCTAssertTrue(rotated.output.contains("re-wrapped 1 data keys"), rotated.output)
        XCTAssertEqual(try subject.database.ownerConnection().query("SELECT string_agg(data::text, ',' ORDER BY position) FROM ledger.events").string(0, 0),
                       events, "the events are not touched")
        let garbled = try subject.ledger(["keys", "rotate-kek"], ["LEDGER_KEK": old.base64, "LEDGER_NEW_KEK": "not base64!"])
        XCTAssertNotEqual(garbled.status, 0)
        XCTAssertTrue(garbled.output.contains("LEDGER_NEW_KEK is not base64"), "the error names the new key's variable: \(garbled.output)")
        let again = try subject.ledger(["keys", "rotate-kek"], ["LEDGER_KEK": old.base64, "LEDGER_NEW_KEK": new.base64])
        XCTAssertTrue(again.output.contains("re-wrapped 0 data keys"), "a second run finds nothing to do: \(again.output)")

        subject.keyEncryptionKey = new
        try subject.startServer()
        XCTAssertEqual(try subject.reads(id), before, "every read shows the same under the new key")
        XCTAssertThrowsError(try PersonalDataVault(keyEncryptionKey: old).checkKeyEncryptionKey(try subject.database.ownerConnection()),
                             "the old key no longer unwraps anything")
        XCTAssertNoThrow(try PersonalDataVault(keyEncryptionKey: new).checkKeyEncryptionKey(try subject.database.ownerConnection()))
    }
}
