import Foundation
import LedgerAPI
import LedgerDomain
import LedgerEngine
import LedgerStorage
import LedgerTestSupport
import XCTest

final class VerificationLifecycleTests: XCTestCase, ClockedServiceTestCase {
    var service: ServiceFixture!

    // Private webhook URLs allowed: a postback on loopback, for the outbox rows the custom-score test reads.
    override func setUpWithError() throws {
        try startService(api: APIConfiguration(authCacheSeconds: 0, logRequests: false, allowPrivateWebhooks: true), clocked: true)
    }

    func create(_ checks: [String] = ["identity_verification"], metadata: JSONValue = ["order_ref": "A-1"]) throws -> String {
        let created = try post("/v1/verifications", [
            "entity_id": "cus_42", "client_reference_id": "ref-1", "package_id": "pkg_identity", "checks": .array(checks.map(JSONValue.string)),
            "applicant": ["first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"], "metadata": metadata,
        ], expect: 201)
        XCTAssertEqual(created["status"], "created")
        XCTAssertEqual(created["version"], 1)
        return created["id"]?.stringValue ?? ""
    }

    /// Starts an attempt and walks it to `status` through the allowed moves.
    func attempt(_ id: String, to statuses: [String]) throws -> String {
        let attempt = try post("/v1/verifications/\(id)/attempts", [:], expect: 201)
        XCTAssertEqual(attempt["status"], "pending_redirection")
        XCTAssertTrue(attempt["url"]?.stringValue?.contains(attempt["id"]?.stringValue ?? "?") == true)
        let attemptID = attempt["id"]?.stringValue ?? ""
        for status in statuses {
            XCTAssertEqual(try post("/v1/verifications/\(id)/attempts/\(attemptID)/progress", ["status": .string(status)])["status"], .string(status))
        }
        return attemptID
    }

    func testApprove() throws {
        let id = try create()
        XCTAssertEqual(try get("/v1/orders/\(id)", expect: 404)["error"]?["code"], "resource_missing", "no order before the flow ends")
        _ = try attempt(id, to: ["capture_in_progress", "completed"])
        let verification = try post("/v1/verifications/\(id)/results", [
            "check": "identity_verification", "status": "approved", "response_codes": [10000],
            "signals": ["document_authenticity": "pass", "face_match": "pass", "liveness": "pass"],
            "extracted_data": ["first_name": "Ada", "document": ["type": "passport", "number": "X1", "issuing_country": "GB"]],
        ])
        XCTAssertEqual(verification["status"], "approved")
        XCTAssertEqual(verification["checks"]?.arrayValue?.first?["response_codes"], [["code": 10000, "summary": "approved"]])
        XCTAssertEqual(verification["checks"]?.arrayValue?.first?["recommended_action"], "accept")
        let order = try get("/v1/orders/\(id)")
        XCTAssertEqual(order["status"], "COMPLETE")
        XCTAssertEqual(order["score"], "ID_VERIFIED")
        XCTAssertEqual(order["alert"], "NO_ALERTS_FOUND")
        XCTAssertEqual(order["metadata"], ["order_ref": "A-1"])
        XCTAssertEqual(order["user"]?["name"], "Ada Lovelace")
        XCTAssertEqual(order["documents"]?.arrayValue?.first?["number"], "X1")
        XCTAssertNotEqual(order["completed_at"], .null)
        XCTAssertEqual(try get("/v1/orders?status=COMPLETE&package_id=pkg_identity")["data"]?.arrayValue?.count, 1)
        XCTAssertEqual(try get("/v1/orders?score=ID_NOT_VERIFIED")["data"]?.arrayValue?.count, 0)
        let events = try get("/v1/verifications/\(id)/events")["data"]?.arrayValue ?? []
        XCTAssertEqual(events.map { $0["type"]?.stringValue ?? "" },
                       ["VerificationInvited", "AttemptStarted", "AttemptStatusChanged", "AttemptStatusChanged", "CheckResultRecorded"])
        XCTAssertEqual(events.last?["metadata"]?["actor_type"], "api_key")
    }

    func testCustomScoresOfEveryJSONScalarKindEndToEnd() throws {
        let created = try post("/v1/verifications", [
            "entity_id": "cus_7", "checks": ["identity_verification"], "postback_url": "http://127.0.0.1:9/hook",
        ], expect: 201)
        let id = created["id"]?.stringValue ?? ""
        _ = try attempt(id, to: ["capture_in_progress", "completed"])
        let values: [(String, JSONValue)] = [("risk", 12.5), ("band", "high"), ("flag", true)]
        for (name, value) in values {
            try post("/v1/verifications/\(id)/custom_scores", ["name": .string(name), "value": value])
        }
        XCTAssertEqual(try get("/v1/orders/\(id)")["custom_scores"]?.jsonString, #"{"band":"high","flag":true,"risk":12.5}"#)
        let before = try database.ownerConnection().query("SELECT count(*) FROM ledger.events").string(0, 0)
        try post("/v1/verifications/\(id)/custom_scores", ["name": "flag", "value": true])
        XCTAssertEqual(try database.ownerConnection().query("SELECT count(*) FROM ledger.events").string(0, 0), before, "the same value again is a no-op")

        let events = try get("/v1/verifications/\(id)/events")["data"]?.arrayValue ?? []
        let scored = events.filter { $0["type"] == "CustomScoreSet" }.compactMap { $0["data"]?["value"]?.jsonString }
        XCTAssertEqual(scored, ["12.5", #""high""#, "true"])
        let webhooks = try database.ownerConnection().query(
            "SELECT payload FROM ledger.outbox WHERE event_type = 'ORDER_CUSTOM_SCORE_CHANGE' ORDER BY id")
        let objects = (0..<webhooks.count).compactMap { webhooks.json($0, 0) }
        XCTAssertEqual(objects.last?["data"]?["object"]?["custom_scores"]?.jsonString, #"{"band":"high","flag":true,"risk":12.5}"#)
        XCTAssertEqual(objects.map { $0["data"]?["previous"]?.jsonString }, [#"{"custom_scores":{"risk":null}}"#,
                                                                          #"{"custom_scores":{"band":null}}"#, #"{"custom_scores":{"flag":null}}"#])

        for bad: JSONValue in [.null, [1], ["a": 1], ""] {
            let refused = try post("/v1/verifications/\(id)/custom_scores", ["name": "risk", "value": bad], expect: 400)
            XCTAssertEqual(refused["error"]?["param"], "value", bad.jsonString)
        }
    }

    func testDeclineWithAFraudCodeRaisesTheAlert() throws {
        let id = try create()
        _ = try attempt(id, to: ["capture_in_progress", "completed"])
        try post("/v1/verifications/\(id)/results", ["check": "identity_verification", "status": "declined",
                                                      "response_codes": [["code": 62301, "summary": "document_counterfeit"], 99001]])
        let order = try get("/v1/orders/\(id)")
        XCTAssertEqual(order["status"], "COMPLETE")
        XCTAssertEqual(order["score"], "ID_NOT_VERIFIED")
        XCTAssertEqual(order["alert"], "ALERTS_FOUND")
        let codes = try get("/v1/verifications/\(id)")["checks"]?.arrayValue?.first?["response_codes"]
        XCTAssertEqual(codes, [["code": 62301, "summary": "document_counterfeit"], ["code": 99001, "summary": nil]], "unknown codes are kept")
    }

    func testRetryRequiredThenASecondAttemptTerminatesTheFirst() throws {
        let id = try create()
        let first = try attempt(id, to: ["capture_in_progress", "checks_in_progress"])
        let retry = try post("/v1/verifications/\(id)/results", ["check": "identity_verification", "status": "retry_required", "response_codes": [61301]])
        XCTAssertEqual(retry["status"], "retry_required")
        XCTAssertEqual(retry["checks"]?.arrayValue?.first?["recommended_action"], "start_new_attempt")
        let second = try attempt(id, to: ["capture_in_progress", "completed"])
        let verification = try get("/v1/verifications/\(id)")
        let attempts = verification["attempts"]?.arrayValue ?? []
        XCTAssertEqual(attempts.map { $0["id"]?.stringValue ?? "" }, [first, second])
        XCTAssertEqual(attempts.first?["status"], "terminated")
        XCTAssertEqual(attempts.first?["response_code"], ["code": 64001, "summary": "forcibly_closed"])
        try post("/v1/verifications/\(id)/results", ["check": "identity_verification", "status": "approved", "attempt_id": .string(second)])
        XCTAssertEqual(try get("/v1/orders/\(id)")["score"], "ID_VERIFIED")
    }

    func testAMLReviewThenAReviewersPass() throws {
        let id = try create(["aml_screening"])
        try post("/v1/verifications/\(id)/results", ["check": "aml_screening", "status": "screening_in_progress"])
        XCTAssertEqual(try get("/v1/orders/\(id)")["score"], "SCREENING_PENDING")
        let review = try post("/v1/verifications/\(id)/results", ["check": "aml_screening", "status": "review_required", "signals": ["aml": "match"]])
        XCTAssertEqual(review["status"], "review_required")
        var order = try get("/v1/orders/\(id)")
        XCTAssertEqual(order["status"], "PENDING")
        XCTAssertEqual(order["score"], "SCREENING_ALERT")
        XCTAssertEqual(order["alert"], .null)
        try post("/v1/verifications/\(id)/score", ["score": "REVIEW_PASS", "reason": "different date of birth"])
        order = try get("/v1/orders/\(id)")
        XCTAssertEqual(order["status"], "COMPLETE")
        XCTAssertEqual(order["score"], "REVIEW_PASS")
        XCTAssertEqual(order["alert"], "ALERTS_FOUND")
    }

    func testDisputesUpheldAndOverturned() throws {
        for (outcome, score, expected) in [("upheld", JSONValue.null, "ID_VERIFIED"), ("overturned", "ADVERSE_ACTION", "ADVERSE_ACTION")] {
            let id = try create()
            _ = try attempt(id, to: ["capture_in_progress", "completed"])
            try post("/v1/verifications/\(id)/results", ["check": "identity_verification", "status": "approved"])
            let dispute = try post("/v1/verifications/\(id)/disputes", ["reason": "the applicant says it was not them"], expect: 201)
            XCTAssertEqual(dispute["status"], "open")
            XCTAssertEqual(try get("/v1/orders/\(id)")["status"], "IN_DISPUTE")
            try post("/v1/verifications/\(id)/disputes", ["reason": "again"], expect: 409)
            let disputeID = dispute["id"]?.stringValue ?? ""
            var body: JSONValue = ["outcome": .string(outcome), "reason": "reviewed the documents"]
            if score != .null { body = ["outcome": .string(outcome), "score": score, "reason": "reviewed the documents"] }
            try post("/v1/verifications/\(id)/disputes/\(disputeID)/resolve", body)
            let order = try get("/v1/orders/\(id)")
            XCTAssertEqual(order["status"], "COMPLETE", outcome)
            XCTAssertEqual(order["score"], .string(expected), outcome)
            XCTAssertEqual(order["disputes"]?.arrayValue?.first?["outcome"], .string(outcome))
            try post("/v1/verifications/\(id)/disputes/\(disputeID)/resolve", body, expect: 409)
            try post("/v1/verifications/\(id)/disputes/dsp_nope/resolve", body, expect: 404)
        }
    }

    func testOverrideNeedsAdminAndAReason() throws {
        let id = try create()
        _ = try attempt(id, to: ["capture_in_progress", "completed"])
        try post("/v1/verifications/\(id)/results", ["check": "identity_verification", "status": "declined"])
        let refused = try post("/v1/verifications/\(id)/override", ["status": "approved", "reason": "manual check"], expect: 403)
        XCTAssertEqual(refused["error"]?["code"], "insufficient_scope")
        XCTAssertEqual(try post("/v1/verifications/\(id)/override", ["status": "approved"], key: acme.adminKey, expect: 400)["error"]?["param"], "reason")
        let overridden = try post("/v1/verifications/\(id)/override", ["status": "approved", "reason": "manual check"], key: acme.adminKey)
        XCTAssertEqual(overridden["status"], "approved")
        XCTAssertEqual(try get("/v1/orders/\(id)")["score"], "ID_VERIFIED")
        let events = try get("/v1/verifications/\(id)/events")["data"]?.arrayValue ?? []
        XCTAssertEqual(events.last?["type"], "StatusOverridden")
        XCTAssertEqual(events.last?["data"]?["reason"], "manual check")
    }

    func testWithdraw() throws {
        let id = try create()
        _ = try attempt(id, to: ["capture_in_progress"])
        XCTAssertEqual(try post("/v1/verifications/\(id)/withdraw", ["reason": "customer left"])["status"], "withdrawn")
        let order = try get("/v1/orders/\(id)")
        XCTAssertEqual(order["status"], "INCOMPLETE")
        XCTAssertEqual(order["score"], "WITHDRAWN")
        let again = try post("/v1/verifications/\(id)/withdraw", [:], expect: 409)
        XCTAssertEqual(again["error"]?["code"], "invalid_transition")
        XCTAssertTrue(again["error"]?["message"]?.stringValue?.contains("withdrawn") == true)
    }

    func testExpiryBeforeAndAfterCaptureStarted() throws {
        let before = try create()
        _ = try attempt(before, to: [])
        let after = try create()
        _ = try attempt(after, to: ["capture_in_progress"])
        let untouched = try create()
        let scheduler = ExpiryScheduler(pool: database.pool(size: 2), vault: try TestKeyEncryptionKey.vault(), clock: { [clock] in clock.get() })
        XCTAssertEqual(try scheduler.runOnce(), 0, "nothing is due yet")

        advance(16 * 60) // past the attempts' 15 minutes
        XCTAssertEqual(try scheduler.runOnce(), 2)
        XCTAssertEqual(try get("/v1/verifications/\(before)")["attempts"]?.arrayValue?.first?["status"], "expired")
        XCTAssertEqual(try get("/v1/verifications/\(before)")["status"], "retry_required")
        XCTAssertEqual(try scheduler.runOnce(), 0, "idempotent")

        advance(8 * 86_400) // past the verifications' 7 days
        XCTAssertEqual(try scheduler.runOnce(), 3)
        for id in [before, after, untouched] { XCTAssertEqual(try get("/v1/verifications/\(id)")["status"], "expired") }
        XCTAssertEqual(try get("/v1/orders/\(after)")["status"], "INCOMPLETE")
        let expiredEvent = try get("/v1/verifications/\(after)/events")["data"]?.arrayValue?.last
        XCTAssertEqual(expiredEvent?["type"], "VerificationExpired")
        XCTAssertEqual(expiredEvent?["metadata"]?["actor_type"], "system")
        XCTAssertEqual(try scheduler.runOnce(), 0)
        XCTAssertEqual(try post("/v1/verifications/\(untouched)/attempts", [:], expect: 409)["error"]?["code"], "invalid_transition")
    }

    func testAStaleIfMatchIsRefused() throws {
        let id = try create()
        let read = try client.get("/v1/verifications/\(id)", headers: auth)
        XCTAssertEqual(read.header("ETag"), "\"1\"")
        try post("/v1/verifications/\(id)/metadata", ["metadata": ["campaign": "winter"]], headers: ["If-Match": "\"1\""])
        let stale = try post("/v1/verifications/\(id)/metadata", ["metadata": ["campaign": "summer"]], headers: ["If-Match": "\"1\""], expect: 409)
        XCTAssertEqual(stale["error"]?["code"], "version_conflict")
        XCTAssertEqual(try get("/v1/verifications/\(id)")["metadata"], ["order_ref": "A-1", "campaign": "winter"])
        XCTAssertEqual(try post("/v1/verifications/\(id)/metadata", ["metadata": ["order_ref": nil]])["metadata"], ["campaign": "winter"])
    }

    func testAsOfReturnsTheStateAtThatTime() throws {
        let id = try create()
        let createdAt = clock.get()
        _ = try attempt(id, to: ["capture_in_progress"])
        let capturingAt = clock.get()
        advance(60)
        try post("/v1/verifications/\(id)/withdraw", [:])
        XCTAssertEqual(try get("/v1/verifications/\(id)?as_of=\(Timestamp.rfc3339(createdAt))")["status"], "created")
        XCTAssertEqual(try get("/v1/verifications/\(id)?as_of=\(Timestamp.rfc3339(capturingAt))")["status"], "capture_in_progress")
        XCTAssertEqual(try get("/v1/verifications/\(id)")["status"], "withdrawn")
        XCTAssertEqual(try get("/v1/verifications/\(id)?as_of=\(Timestamp.rfc3339(createdAt.addingTimeInterval(-3600)))", expect: 404)["error"]?["code"], "resource_missing")
        XCTAssertEqual(try get("/v1/verifications/\(id)?as_of=yesterday", expect: 400)["error"]?["param"], "as_of")
    }

    func testListsFilterAndPaginate() throws {
        var ids: [String] = []
        for _ in 0..<5 { ids.append(try create()) }
        let first = try get("/v1/verifications?limit=2")
        XCTAssertEqual(first["has_more"], true)
        let page1 = first["data"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
        XCTAssertEqual(page1, [ids[4], ids[3]])
        let second = try get("/v1/verifications?limit=2&starting_after=\(page1[1])")
        XCTAssertEqual(second["data"]?.arrayValue?.compactMap { $0["id"]?.stringValue }, [ids[2], ids[1]])
        XCTAssertEqual(try get("/v1/verifications?entity_id=cus_42&status=created&limit=100")["data"]?.arrayValue?.count, 5)
        XCTAssertEqual(try get("/v1/verifications?status=approved")["data"]?.arrayValue?.count, 0)
        XCTAssertEqual(try get("/v1/verifications?limit=0", expect: 400)["error"]?["param"], "limit")
        XCTAssertEqual(try get("/v1/verifications?status=great", expect: 400)["error"]?["param"], "status")
    }

    func testTheOrderListFiltersByEntityAndCreatedTimeAndPaginates() throws {
        var ids: [String] = []
        for _ in 0..<3 {
            let id = try create()
            _ = try attempt(id, to: ["capture_in_progress", "completed"])
            try post("/v1/verifications/\(id)/results", ["check": "identity_verification", "status": "approved", "response_codes": [10000]])
            ids.append(id)
            advance(60)
        }
        func listed(_ query: String) throws -> [String] {
            try get("/v1/orders?\(query)")["data"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
        }
        XCTAssertEqual(try get("/v1/orders?limit=2")["has_more"], true)
        XCTAssertEqual(try listed("limit=2"), [ids[2], ids[1]])
        XCTAssertEqual(try listed("limit=2&starting_after=\(ids[1])"), [ids[0]])
        XCTAssertEqual(try get("/v1/orders?limit=2&starting_after=\(ids[1])")["has_more"], false)
        let middle = try XCTUnwrap(try get("/v1/orders/\(ids[1])")["created_at"]?.stringValue)
        XCTAssertEqual(try listed("created%5Bgte%5D=\(middle)"), [ids[2], ids[1]])
        XCTAssertEqual(try listed("created%5Bgt%5D=\(middle)"), [ids[2]])
        XCTAssertEqual(try listed("created%5Blte%5D=\(middle)"), [ids[1], ids[0]])
        XCTAssertEqual(try listed("created%5Blt%5D=\(middle)"), [ids[0]])
        XCTAssertEqual(try listed("created%5Bgte%5D=\(middle)&created%5Blte%5D=\(middle)&entity_id=cus_42"), [ids[1]])
        XCTAssertEqual(try listed("entity_id=cus_other"), [])
        XCTAssertEqual(try listed("entity_id=&package_id=&limit=100"), [ids[2], ids[1], ids[0]], "an empty text filter does not filter")
    }

    func testInviteValidation() throws {
        XCTAssertEqual(try post("/v1/verifications", ["checks": ["document"]], expect: 400)["error"]?["param"], "entity_id")
        XCTAssertEqual(try post("/v1/verifications", ["entity_id": "e", "checks": []], expect: 400)["error"]?["param"], "checks")
        XCTAssertEqual(try post("/v1/verifications", ["entity_id": "e", "checks": ["document", "dna"]], expect: 400)["error"]?["param"], "checks[1]")
        XCTAssertEqual(try post("/v1/verifications", ["entity_id": "e", "checks": ["email", "email"]], expect: 400)["error"]?["param"], "checks[1]")
        XCTAssertEqual(try post("/v1/verifications", ["entity_id": "e", "checks": ["email"], "applicant": ["age": 3]], expect: 400)["error"]?["param"], "applicant.age")
        XCTAssertEqual(try post("/v1/verifications", ["entity_id": "e", "checks": ["email"], "expires_at": "2001-01-01T00:00:00Z"], expect: 400)["error"]?["param"], "expires_at")
        let tooMany = JSONValue.object((0..<51).map { ("k\($0)", JSONValue.string("v")) })
        XCTAssertEqual(try post("/v1/verifications", ["entity_id": "e", "checks": ["email"], "metadata": tooMany], expect: 400)["error"]?["param"], "metadata")
        XCTAssertEqual(try post("/v1/verifications", ["entity_id": "e", "checks": ["email"]], key: acme.readKey, expect: 403)["error"]?["code"], "insufficient_scope")
        XCTAssertEqual(try get("/v1/verifications?limit=100")["data"]?.arrayValue?.count, 0, "nothing half-written")
    }

    func testAnotherOrganizationAndTheOtherModeSeeNothing() throws {
        let id = try create()
        let globex = try TestOrganization(database: database, name: "Globex")
        for key in [globex.adminKey, acme.liveAdminKey] {
            XCTAssertEqual(try client.get("/v1/verifications/\(id)", headers: .bearer(key)).status, 404)
            XCTAssertEqual(try client.get("/v1/verifications/\(id)/events", headers: .bearer(key)).status, 404)
            XCTAssertEqual(try client.post("/v1/verifications/\(id)/withdraw", json: [:], headers: .bearer(key)).status, 404)
            XCTAssertEqual(try client.get("/v1/verifications", headers: .bearer(key)).json?["data"]?.arrayValue?.count, 0)
        }
    }

    func testThirtyTwoConcurrentCommandsOnOneVerification() throws {
        let id = try create(["email", "phone", "aml_screening"])
        let statuses = Collector<Int>()
        let client = self.client, auth = self.auth
        concurrently(32) { index in
            let body: JSONValue
            switch index % 4 {
            case 0: body = ["metadata": .object([("k\(index)", .string("v"))])]
            case 1: body = ["check": "email", "status": "approved"]
            case 2: body = ["check": "phone", "status": "approved"]
            default: body = ["check": "aml_screening", "status": "screening_in_progress"]
            }
            let path = index % 4 == 0 ? "/v1/verifications/\(id)/metadata" : "/v1/verifications/\(id)/results"
            let status = (try? client.post(path, json: body, headers: auth).status) ?? -1
            statuses.append(status)
        }
        let all = statuses.values
        XCTAssertEqual(all.count, 32)
        XCTAssertTrue(all.allSatisfy { $0 == 200 || $0 == 409 }, "\(all)")
        // Replaying the log gives exactly what the projection says.
        let served = try get("/v1/verifications/\(id)")
        let replayed = try database.pool(size: 1).withConnection(scope: .system) { connection in
            try EventStore.readStream(connection, organizationID: self.acme.id, streamID: id)
        }
        let decoded = replayed.compactMap { recorded in (try? VerificationEvent(type: recorded.type, schemaVersion: recorded.schemaVersion, data: recorded.data)).map { ($0, recorded.occurredAt) } }
        XCTAssertEqual(decoded.count, replayed.count)
        let state = VerificationDecider.fold(decoded)
        XCTAssertEqual(served["version"], .int(Int64(replayed.count)))
        XCTAssertEqual(served["status"], .string(state.overallStatus.rawValue))
        XCTAssertEqual(served["metadata"]?.objectValue?.count, state.metadata.count)
        XCTAssertEqual(state.metadata.count, 1 + 8, "every metadata command applied")
        XCTAssertEqual(replayed.count, 1 + all.filter { $0 == 200 }.count, "each 200 appended exactly its one event, each 409 none")
        XCTAssertEqual(all.filter { $0 == 409 }.count, 14, "the second and later approvals of email and phone are refused")
        XCTAssertEqual(Set(replayed.map(\.version)), Set(1...Int64(replayed.count)))
    }
}
