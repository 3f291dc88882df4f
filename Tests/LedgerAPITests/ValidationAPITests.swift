import Foundation
import LedgerAPI
import LedgerDomain
import LedgerStorage
import LedgerTestSupport
import LedgerWebhooks
import XCTest

/// Seed 004 over HTTP: validations, an entity's current validation, history and KYC status, and sync.
final class ValidationAPITests: VendorViewsTestCase {
    static let validationFields = ["clientReferenceId", "createdAt", "decision", "entityId", "entityType", "expiresAt", "id", "livemode",
                                   "provider", "status", "updatedAt", "verificationType", "verifiedAt"]

    /// A VALIDATION_STATUS_CHANGE carries the validation (camelCase, as GET /v1/validations/{id} shows it, its
    /// personal data opened for the receiver), not the verification.
    func testAValidationWebhookCarriesTheValidation() throws {
        let base = NSTemporaryDirectory() + "receiver-\(UUID().uuidString.prefix(8))"
        FileManager.default.createFile(atPath: base + ".secrets", contents: Data())
        let script = TestPostgres.schemaDirectory.deletingLastPathComponent().appendingPathComponent("Tests/Fixtures/webhook_receiver.py").path
        let receiver = try ChildProcess.Running("python3", [script, base + ".port", base + ".log", base + ".secrets", "0", "500", "0", "0"])
        stopWhenTheTestEnds(receiver)
        XCTAssertTrue(eventually(timeout: 20) { FileManager.default.fileExists(atPath: base + ".port") }, receiver.outputSoFar)
        let port = (try? String(contentsOfFile: base + ".port", encoding: .utf8)) ?? "0"
        try send("/v1/webhook_endpoints", ["url": .string("http://127.0.0.1:\(port)/hooks"), "events": ["VALIDATION_STATUS_CHANGE"]], expect: 201)
        let id = try createCustomerVerification("cus_hooked")
        try sync(id)
        var configuration = WebhookDispatcher.Configuration(schedule: try RetrySchedule(parsing: "0s,0s,0s"), concurrency: 4, timeout: 5,
                                                            policy: WebhookURLPolicy(allowPrivate: true))
        configuration.personalDataVault = try TestKeyEncryptionKey.vault()
        let dispatcher = WebhookDispatcher(pool: database.pool(size: 2), conninfo: database.conninfo, configuration: configuration)
        func objects() -> [JSONValue] {
            ((try? String(contentsOfFile: base + ".log", encoding: .utf8)) ?? "").split(separator: "\n")
                .compactMap { try? JSONValue.parse(Array($0.utf8)) }.compactMap { $0["object"] }
        }
        XCTAssertTrue(try eventually(timeout: 30) {
            try dispatcher.runOnce()
            return objects().count >= 3
        })
        let sent = objects()
        XCTAssertEqual(sent.map { $0["status"] }, ["pending", "in_progress", "approved"])
        XCTAssertTrue(sent.allSatisfy { $0.objectValue?.map(\.0).sorted() == Self.validationFields }, "\(sent)")
        XCTAssertEqual(sent.last?["decision"]?["extractedData"]?["firstName"], "Jenny", "opened for the receiver")
        XCTAssertEqual(sent.last, try get("/v1/validations/\(id)"))
    }

    func testAValidationInCamelCaseWithADecisionOnlyOnceDecided() throws {
        let id = try createCustomerVerification("ent_1")
        let synced = try sync(id)
        XCTAssertEqual(synced["changed"]?.boolValue != nil, true)
        XCTAssertEqual(synced["status"], "approved")
        XCTAssertEqual(synced["waitingFor"], .null)
        let validation = try get("/v1/validations/\(id)")
        XCTAssertEqual(validation.objectValue?.map(\.0).sorted(), Self.validationFields)
        XCTAssertEqual(kinds(validation), [
            "clientReferenceId": "null", "createdAt": "time", "decision": "object", "entityId": "string", "entityType": "string",
            "expiresAt": "time", "id": "string", "livemode": "bool", "provider": "string", "status": "string", "updatedAt": "time",
            "verificationType": "string", "verifiedAt": "time",
        ])
        let decision = validation["decision"]
        XCTAssertEqual(decision?["documentAuthenticity"], "pass")
        XCTAssertEqual(decision?["faceMatch"], "pass")
        XCTAssertEqual(decision?["liveness"], "pass")
        XCTAssertEqual(decision?["aml"], .null, "no screening was asked for")
        XCTAssertEqual(decision?["extractedData"]?["firstName"], "Jenny")
        XCTAssertEqual(decision?["extractedData"]?["document"]?["issuingCountry"], "US")

        let again = try sync(id)
        XCTAssertEqual(again["changed"], false, "every step is in the log already")
        XCTAssertEqual(again["recordedEvents"], [])
        XCTAssertEqual(again["previousStatus"], "approved")

        let pendingID = try createCustomerVerification("ent_2_expire_after_capture")
        try sync(pendingID)
        let pending = try get("/v1/validations/\(pendingID)")
        XCTAssertEqual(pending["status"], "in_progress")
        XCTAssertEqual(pending["decision"], .null)
        XCTAssertEqual(try sync(pendingID)["waitingFor"], "deadline")
    }

    func testKYCStatusCurrentValidationAndHistory() throws {
        try get("/v1/entities/ent_new/kyc-status", expect: 404)
        try get("/v1/entities/ent_new/validations/current", expect: 404)
        try get("/v1/entities/ent_new/validations", expect: 404)
        let rejected = try createCustomerVerification("ent_new_decline_62304")
        try sync(rejected)
        // The entity is the customer id; magic words ride on it, so both verifications use this entity.
        advance(60)
        var status = try get("/v1/entities/ent_new_decline_62304/kyc-status")
        XCTAssertEqual(status.objectValue?.map(\.0), ["verified", "status", "verifiedAt", "expiresAt", "needsReverification", "currentValidationId"])
        XCTAssertEqual(status["verified"], false)
        XCTAssertEqual(status["status"], "rejected")
        XCTAssertEqual(status["currentValidationId"]?.stringValue, rejected)
        XCTAssertEqual(status["needsReverification"], false)

        let approved = try createCustomerVerification("ent_ok")
        try sync(approved)
        status = try get("/v1/entities/ent_ok/kyc-status")
        XCTAssertEqual(kinds(status), ["verified": "bool", "status": "string", "verifiedAt": "time", "expiresAt": "time",
                                       "needsReverification": "bool", "currentValidationId": "string"])
        XCTAssertEqual(status["verified"], true)
        XCTAssertEqual(status["status"], "approved")
        XCTAssertEqual(try get("/v1/entities/ent_ok/validations/current")["id"]?.stringValue, approved)

        // Inside the 30 days before the year ends, the entity needs reverification; after it, it is expired.
        advance(340 * 86_400)
        status = try get("/v1/entities/ent_ok/kyc-status")
        XCTAssertEqual(status["verified"], true)
        XCTAssertEqual(status["needsReverification"], true)
        advance(30 * 86_400)
        status = try get("/v1/entities/ent_ok/kyc-status")
        XCTAssertEqual(status["verified"], false)
        XCTAssertEqual(status["status"], "expired")
        XCTAssertEqual(status["needsReverification"], true)
        let earlier = Timestamp.rfc3339(clock.get().addingTimeInterval(-300 * 86_400))
        XCTAssertEqual(try get("/v1/entities/ent_ok/kyc-status?as_of=\(earlier)")["verified"], true, "as it was then")
        XCTAssertEqual(try get("/v1/entities/ent_ok/kyc-status?as_of=\(earlier)")["needsReverification"], false)
    }

    /// The status now is computed from the validations' rows and the clock; `?as_of=` folds the streams. At the
    /// same moment both must say the same, through an approval that lapses, a newer one an admin cut short, a
    /// decline and one still pending.
    func testKYCStatusFromRowsIsTheFoldedStatusAtTheSameMoment() throws {
        try sync(try createCustomerVerification("ent_rows"))
        advance(60)
        let cutShort = try createCustomerVerification("ent_rows")
        try sync(cutShort)
        advance(60)
        try send("/v1/customer_verifications/\(cutShort)", ["status": "expired", "reason": "document revoked"], method: "PATCH")
        let cutShortAt = Timestamp.rfc3339(clock.get())
        advance(60)
        try sync(try createCustomerVerification("ent_rows_decline_62304"))
        advance(60)
        try sync(try createCustomerVerification("ent_rows_expire_after_capture"))
        for entity in ["ent_rows", "ent_rows_decline_62304", "ent_rows_expire_after_capture", "ent_unknown"] {
            for days in [0, 336, 30] {
                advance(Double(days) * 86_400)
                let now = Timestamp.rfc3339(clock.get())
                let fromRows = try client.get("/v1/entities/\(entity)/kyc-status", headers: auth)
                let folded = try client.get("/v1/entities/\(entity)/kyc-status?as_of=\(now)", headers: auth)
                XCTAssertEqual(fromRows.status, folded.status, "\(entity) at \(now)")
                XCTAssertEqual(fromRows.json, folded.json, "\(entity) at \(now)")
            }
        }
        let status = try get("/v1/entities/ent_rows/kyc-status")
        XCTAssertEqual(status["verified"], false, "the first approval lapsed too")
        XCTAssertEqual(status["currentValidationId"]?.stringValue, cutShort)
        XCTAssertEqual(status["expiresAt"]?.stringValue, cutShortAt, "the newest approval ended when the admin expired it")
    }

    func testHistoryIsNewestFirstAndPaginates() throws {
        var ids: [String] = []
        for _ in 0..<5 {
            advance(10)
            ids.append(try createCustomerVerification("ent_many"))
        }
        var pages: [[String]] = []
        var cursor: String?
        repeat {
            let page = try get("/v1/entities/ent_many/validations?limit=2" + (cursor.map { "&cursor=\($0)" } ?? ""))
            XCTAssertEqual(page.objectValue?.map(\.0), ["data", "hasMore", "nextCursor"])
            pages.append(page["data"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? [])
            XCTAssertEqual(page["hasMore"]?.boolValue, page["nextCursor"]?.stringValue != nil)
            cursor = page["nextCursor"]?.stringValue
        } while cursor != nil && pages.count < 10
        XCTAssertEqual(pages, [[ids[4], ids[3]], [ids[2], ids[1]], [ids[0]]])
        for id in ids { try sync(id) }
        XCTAssertEqual(try get("/v1/entities/ent_many/validations/current")["id"]?.stringValue, ids[4], "the newest approval")
    }

    func testAnotherOrganizationAndTheOtherModeSeeNoValidation() throws {
        let id = try createCustomerVerification("ent_private")
        try sync(id)
        let globex = try TestOrganization(database: database, name: "Globex")
        for key in [globex.adminKey, acme.liveAdminKey] {
            try get("/v1/validations/\(id)", key: key, expect: 404)
            try get("/v1/validations/\(id)?as_of=\(Timestamp.rfc3339(clock.get()))", key: key, expect: 404)
            try get("/v1/entities/ent_private/kyc-status", key: key, expect: 404)
            try get("/v1/entities/ent_private/validations/current", key: key, expect: 404)
            try get("/v1/entities/ent_private/validations", key: key, expect: 404)
            try send("/v1/validations/\(id)/sync", key: key, expect: 404)
        }
    }

    func testAsOfShowsTheValidationAsItWasThen() throws {
        let id = try createCustomerVerification("ent_then")
        let createdAt = clock.get()
        try sync(id)
        advance(60)
        try send("/v1/customer_verifications/\(id)", ["status": "failed", "reason": "fraud found later"], method: "PATCH")
        XCTAssertEqual(try get("/v1/validations/\(id)")["status"], "rejected")
        let before = try get("/v1/validations/\(id)?as_of=\(Timestamp.rfc3339(createdAt.addingTimeInterval(30)))")
        XCTAssertEqual(before["status"], "approved")
        XCTAssertEqual(before.objectValue?.map(\.0).sorted(), Self.validationFields)
        try get("/v1/validations/\(id)?as_of=\(Timestamp.rfc3339(createdAt.addingTimeInterval(-1)))", expect: 404)
    }
}
