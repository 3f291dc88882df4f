import Foundation
import LedgerAPI
import LedgerDomain
import LedgerEngine
import LedgerStorage
import LedgerTestSupport
import XCTest

final class RescoringRunTests: XCTestCase, ServiceTestCase {
    var service: ServiceFixture!
    var rescoring: Rescoring!

    override func setUpWithError() throws {
        try startService(api: APIConfiguration(authCacheSeconds: 0, logRequests: false, allowPrivateWebhooks: true))
        let pool = database.pool(size: 4)
        // Batches of two, so that three orders take more than one checkpoint. The server's key, as serve's worker has it.
        rescoring = Rescoring(pool: pool, engine: CommandEngine(pool: pool, stateCacheSize: 0, vault: try TestKeyEncryptionKey.vault()), batchSize: 2)
    }

    @discardableResult
    func post(_ path: String, _ body: JSONValue, key: String? = nil, expect status: Int, file: StaticString = #filePath,
              line: UInt = #line) throws -> JSONValue {
        let response = try client.post(path, json: body, headers: .bearer(key ?? acme.adminKey))
        XCTAssertEqual(response.status, status, response.text, file: file, line: line)
        return response.json ?? .null
    }


    /// A completed order with `risk` in its metadata and a postback (and with `email`, an applicant: personal data).
    func order(risk: String, entity: String = "cus_1", email: String? = nil) throws -> String {
        var invite: JSONValue = ["entity_id": .string(entity), "checks": ["identity_verification"], "metadata": ["risk": .string(risk)],
                                 "postback_url": "http://127.0.0.1:9/postback"]
        if let email, case var .object(members) = invite {
            members.append(("applicant", ["first_name": "Ada", "email": .string(email)]))
            invite = .object(members)
        }
        let created = try post("/v1/verifications", invite, expect: 201)
        let id = created["id"]?.stringValue ?? ""
        let attempt = try post("/v1/verifications/\(id)/attempts", [:], expect: 201)["id"]?.stringValue ?? ""
        for status in ["capture_in_progress", "completed"] {
            try post("/v1/verifications/\(id)/attempts/\(attempt)/progress", ["status": .string(status)], expect: 200)
        }
        try post("/v1/verifications/\(id)/results", ["check": "identity_verification", "status": "approved"], expect: 200)
        return id
    }

    /// Three orders (risk 2, 7 and 9, the last already banded high by hand), an endpoint that takes custom score
    /// changes and one that does not, and a ruleset whose `band` changes two orders and whose `broken` fails on all.
    func scenario() throws -> (low: String, high: String, unchanged: String, endpoint: String) {
        let low = try order(risk: "2"), high = try order(risk: "7"), unchanged = try order(risk: "9")
        try post("/v1/verifications/\(unchanged)/custom_scores", ["name": "band", "value": "high"], expect: 200)
        let endpoint = try post("/v1/webhook_endpoints", ["url": "http://127.0.0.1:9/hooks", "events": ["ORDER_CUSTOM_SCORE_CHANGE"]], expect: 201)
        try post("/v1/webhook_endpoints", ["url": "http://127.0.0.1:9/other", "events": ["ORDER_STATUS_CHANGE"]], expect: 201)
        try post("/v1/rulesets", ["name": "risk", "rules": [
            "band": ["if": [[">": [["var": "metadata.risk"], 5]], "high", "low"]],
            "broken": ["/": [1, ["var": "metadata.zero"]]],
        ]], expect: 201)
        return (low, high, unchanged, endpoint["id"]?.stringValue ?? "")
    }

    /// A digest of every row of the log, the outbox and the read models.
    func snapshot() throws -> [String] {
        let connection = try database.ownerConnection()
        return try ["events", "outbox", "outbox_sequences", "orders", "verifications", "verification_deadlines", "streams"].map { table in
            try connection.query("SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM ledger.\(table) t").string(0, 0) ?? ""
        }
    }

    func dryRun(key: String? = nil) throws -> String {
        let run = try post("/v1/rescoring_runs", ["ruleset": "risk", "version": 1, "dry_run": true], key: key, expect: 201)
        XCTAssertEqual(run["status"], "queued")
        XCTAssertEqual(run["orders_total"], 3)
        let id = run["id"]?.stringValue ?? ""
        try rescoring.drain()
        return id
    }

    func testADryRunChangesNothingAndReportsTheDiffAndTheWebhookPreview() throws {
        let (low, high, _, endpoint) = try scenario()
        let before = try snapshot()
        let id = try dryRun()
        XCTAssertEqual(try snapshot(), before, "log, outbox and read models are byte-identical after a dry run")

        let run = try get("/v1/rescoring_runs/\(id)")
        XCTAssertEqual(run["status"], "completed")
        XCTAssertEqual(run["apply_status"], .null)
        XCTAssertEqual(run["orders_evaluated"], 3)
        XCTAssertEqual(run["orders_changed"], 2)
        XCTAssertEqual(run["errors"], 3)
        XCTAssertEqual(run["progress"], 1)
        XCTAssertEqual(run["evaluator_version"], .string(Ruleset.evaluatorVersion))
        XCTAssertEqual(run["ruleset"]?["hash"], try get("/v1/rulesets/risk/versions/1")["hash"])
        XCTAssertEqual(run["missing_fields"]?.jsonString, #"{"metadata.zero":3}"#)
        let diff = try XCTUnwrap(run["diff"])
        XCTAssertEqual(diff["scores"]?.jsonString, #"{"band":[{"old":null,"new":"high","orders":1},{"old":null,"new":"low","orders":1}]}"#)
        XCTAssertEqual(diff["rules"]?.jsonString, #"{"band":{"orders_changed":2,"errors":0},"broken":{"orders_changed":0,"errors":3}}"#)
        XCTAssertEqual(diff["sample"]?.arrayValue?.compactMap { $0["order_id"]?.stringValue }.sorted(), [low, high].sorted())
        XCTAssertEqual(diff["errors"]?.arrayValue?.first?["error"]?["type"], "NaN")
        let preview = try XCTUnwrap(diff["webhook_preview"])
        XCTAssertEqual(preview["endpoints"]?.arrayValue?.map { $0["id"] }, [.string(endpoint)], "only the endpoint that takes the type")
        XCTAssertEqual(preview["endpoints"]?.arrayValue?.first?["messages"], 2)
        XCTAssertEqual(preview["postbacks"]?.jsonString, #"{"orders":2,"messages":2}"#)
        XCTAssertEqual(preview["messages"], 4)

        let page = try get("/v1/rescoring_runs/\(id)/changes?limit=1")
        XCTAssertEqual(page["has_more"], true)
        let first = try XCTUnwrap(page["data"]?.arrayValue?.first?["id"]?.stringValue)
        let rest = try get("/v1/rescoring_runs/\(id)/changes?starting_after=\(first)")
        XCTAssertEqual(rest["has_more"], false)
        XCTAssertEqual(rest["data"]?.arrayValue?.count, 1)
        XCTAssertNotEqual(rest["data"]?.arrayValue?.first?["id"]?.stringValue, first)
        XCTAssertEqual(try get("/v1/rescoring_runs/\(id)/changes?errors=true")["data"]?.arrayValue?.count, 3)
        XCTAssertEqual(try get("/v1/rescoring_runs")["data"]?.arrayValue?.map { $0["id"] }, [.string(id)])
    }

    func testApplySendsWebhooksOnlyForChangedOrdersWithTheRunAsCausationAndASecondApplyChangesNothing() throws {
        let (low, high, unchanged, endpoint) = try scenario()
        let id = try dryRun()
        let connection = try database.ownerConnection()
        let outboxBefore = try connection.query("SELECT count(*) FROM ledger.outbox").int(0, 0) ?? 0

        XCTAssertEqual(try post("/v1/rescoring_runs/\(id)/apply", [:], expect: 200)["apply_status"], "pending")
        try rescoring.drain()
        let run = try get("/v1/rescoring_runs/\(id)")
        XCTAssertEqual(run["apply_status"], "applied")
        XCTAssertEqual(run["orders_applied"], 2)
        XCTAssertEqual(run["conflicts"], 0)
        XCTAssertEqual(try get("/v1/orders/\(low)")["custom_scores"]?.jsonString, #"{"band":"low"}"#)
        XCTAssertEqual(try get("/v1/orders/\(high)")["custom_scores"]?.jsonString, #"{"band":"high"}"#)

        let events = try connection.query("""
            SELECT stream_id, data->'ruleset'->>'name', data->'ruleset'->>'version', data->'ruleset'->>'hash', metadata->>'causation_id'
            FROM ledger.events WHERE type = 'CustomScoreSet' AND metadata->>'causation_id' IS NOT NULL ORDER BY stream_id
            """)
        XCTAssertEqual(Set((0..<events.count).compactMap { events.string($0, 0) }), [low, high])
        let hash = run["ruleset"]?["hash"]?.stringValue
        for row in 0..<events.count {
            XCTAssertEqual(events.string(row, 1), "risk")
            XCTAssertEqual(events.string(row, 2), "1")
            XCTAssertEqual(events.string(row, 3), hash)
            XCTAssertEqual(events.string(row, 4), id, "the run is the cause")
        }
        let messages = try connection.query("""
            SELECT verification_id, destination, event_type FROM ledger.outbox ORDER BY id OFFSET $1
            """, [outboxBefore])
        let sent = (0..<messages.count).map { "\(messages.string($0, 0) ?? "") \(messages.string($0, 1) ?? "") \(messages.string($0, 2) ?? "")" }
        XCTAssertEqual(Set(sent), Set([low, high].flatMap { ["\($0) \(endpoint) ORDER_CUSTOM_SCORE_CHANGE", "\($0) postback ORDER_CUSTOM_SCORE_CHANGE"] }))
        XCTAssertEqual(sent.count, 4, "the preview's count")
        XCTAssertFalse(sent.contains { $0.hasPrefix(unchanged) })

        let after = try snapshot()
        XCTAssertEqual(try post("/v1/rescoring_runs/\(id)/apply", [:], expect: 200)["apply_status"], "applied")
        try rescoring.drain()
        XCTAssertEqual(try snapshot(), after, "a second apply changes nothing")
    }

    func testApplyIsRefusedWith409WhenAnOrderChangedSinceTheDryRun() throws {
        let (low, _, _, _) = try scenario()
        let id = try dryRun()
        try post("/v1/verifications/\(low)/metadata", ["metadata": ["note": "edited"]], expect: 200)
        let before = try snapshot()
        let refused = try post("/v1/rescoring_runs/\(id)/apply", [:], expect: 409)["error"]
        XCTAssertEqual(refused?["code"], "orders_changed")
        XCTAssertTrue(refused?["message"]?.stringValue?.contains(low) == true, refused?.jsonString ?? "")
        try rescoring.drain()
        XCTAssertEqual(try snapshot(), before, "nothing applied")
        XCTAssertEqual(try get("/v1/rescoring_runs/\(id)")["apply_status"], .null)
    }

    func testARunThatIsNotADryRunAppliesOnceEvaluated() throws {
        let (low, high, _, _) = try scenario()
        let run = try post("/v1/rescoring_runs", ["ruleset": "risk", "version": 1, "dry_run": false], expect: 201)
        try rescoring.drain()
        let done = try get("/v1/rescoring_runs/\(run["id"]?.stringValue ?? "")")
        XCTAssertEqual(done["apply_status"], "applied")
        XCTAssertEqual(done["orders_applied"], 2)
        XCTAssertEqual(try get("/v1/orders/\(low)")["custom_scores"]?["band"], "low")
        XCTAssertEqual(try get("/v1/orders/\(high)")["custom_scores"]?["band"], "high")
    }

    func testAsOfEvaluatesTheOrdersAsTheyWereThen() throws {
        let (low, _, _, _) = try scenario()
        let then = Date()
        XCTAssertTrue(eventually { Date() > then.addingTimeInterval(0.01) })
        try post("/v1/verifications/\(low)/metadata", ["metadata": ["risk": "8"]], expect: 200)
        let run = try post("/v1/rescoring_runs", ["ruleset": "risk", "version": 1, "as_of": .string(Timestamp.rfc3339(then))], expect: 201)
        try rescoring.drain()
        let changes = try get("/v1/rescoring_runs/\(run["id"]?.stringValue ?? "")/changes")["data"]?.arrayValue ?? []
        XCTAssertEqual(changes.first { $0["order_id"]?.stringValue == low }?["new"], "low", "risk was 2 at as_of")
    }

    func testACanceledRunStopsAndAnotherOrganizationSeesNoRun() throws {
        _ = try scenario()
        let queued = try post("/v1/rescoring_runs", ["ruleset": "risk", "version": 1], expect: 201)
        let id = queued["id"]?.stringValue ?? ""
        XCTAssertEqual(try post("/v1/rescoring_runs/\(id)/cancel", [:], expect: 200)["status"], "canceled")
        try rescoring.drain()
        XCTAssertEqual(try get("/v1/rescoring_runs/\(id)")["orders_evaluated"], 0)
        XCTAssertEqual(try post("/v1/rescoring_runs/\(id)/apply", [:], expect: 409)["error"]?["code"], "run_not_completed")

        let other = try TestOrganization(database: database, name: "Other")
        XCTAssertEqual(try get("/v1/rescoring_runs/\(id)", key: other.readKey, expect: 404)["error"]?["code"], "resource_missing")
        XCTAssertEqual(try get("/v1/rescoring_runs/\(id)/changes", key: other.readKey, expect: 404)["error"]?["code"], "resource_missing")
        XCTAssertEqual(try post("/v1/rescoring_runs/\(id)/apply", [:], key: other.adminKey, expect: 404)["error"]?["code"], "resource_missing")
        XCTAssertEqual(try post("/v1/rescoring_runs/\(id)/cancel", [:], key: other.adminKey, expect: 404)["error"]?["code"], "resource_missing")
        XCTAssertEqual(try get("/v1/rescoring_runs", key: other.readKey)["data"], [])
        XCTAssertEqual(try post("/v1/rescoring_runs", ["ruleset": "risk", "version": 1], key: other.adminKey, expect: 404)["error"]?["param"], "ruleset",
                       "another organization's ruleset")
    }

    /// An entity's data key moved out of reach (and back): its orders' personal data cannot be opened meanwhile.
    func moveKey(of entity: String, to other: String) throws {
        _ = try database.ownerConnection().query("UPDATE ledger.data_keys SET entity_id = $2 WHERE entity_id = $1", [entity, other])
    }

    func testRulesThatReadNoPersonalDataOpenNoneAndRulesThatDoSeeIt() throws {
        for (index, entity) in ["cus_a", "cus_a", "cus_b"].enumerated() { _ = try order(risk: "\(index)", entity: entity, email: "ada\(index)@example.com") }
        let sealed = try database.ownerConnection().query("SELECT count(*) FROM ledger.orders WHERE document::text LIKE '%encrypted_personal_data%'")
        XCTAssertEqual(sealed.int(0, 0), 3, "the orders' personal data is sealed")
        try post("/v1/rulesets", ["name": "plain", "rules": ["band": ["if": [[">": [["var": "metadata.risk"], 1]], "high", "low"]]]], expect: 201)
        try post("/v1/rulesets", ["name": "pii", "rules": ["reachable": ["in": ["@example.com", ["var": "user.email"]]]]], expect: 201)

        try moveKey(of: "cus_b", to: "cus_b_aside")
        let plain = try post("/v1/rescoring_runs", ["ruleset": "plain", "version": 1], expect: 201)["id"]?.stringValue ?? ""
        try rescoring.drain()
        let run = try get("/v1/rescoring_runs/\(plain)")
        XCTAssertEqual(run["status"], "completed", "no key is needed for rules that read no personal data")
        XCTAssertEqual(run["orders_changed"], 3)
        XCTAssertEqual(run["attempts"], 0)

        try moveKey(of: "cus_b_aside", to: "cus_b")
        let pii = try post("/v1/rescoring_runs", ["ruleset": "pii", "version": 1], expect: 201)["id"]?.stringValue ?? ""
        try rescoring.drain()
        let seen = try get("/v1/rescoring_runs/\(pii)")
        XCTAssertEqual(seen["status"], "completed")
        XCTAssertEqual(seen["diff"]?["scores"]?.jsonString, #"{"reachable":[{"old":null,"new":true,"orders":3}]}"#,
                       "the rules see the applicant's email, opened under the entity's key")
        XCTAssertEqual(seen["missing_fields"]?.jsonString, "{}")
    }

    func testAFailingBatchIsTriedAgainThenFailsVisiblyAndAFailedRunResumesFromItsCheckpoint() throws {
        let now = LockedBox(Date(timeIntervalSince1970: 1_800_000_000))
        let pool = database.pool(size: 4)
        let rescoring = Rescoring(pool: pool, engine: CommandEngine(pool: pool, stateCacheSize: 0, vault: try TestKeyEncryptionKey.vault()),
                                  batchSize: 2, retries: RescoringRetryPolicy(delays: [10, 20]), clock: { now.get() })
        for (index, entity) in ["cus_a", "cus_a", "cus_b"].enumerated() { _ = try order(risk: "\(index)", entity: entity, email: "ada\(index)@example.com") }
        try post("/v1/rulesets", ["name": "pii", "rules": ["reachable": ["in": ["@example.com", ["var": "user.email"]]]]], expect: 201)
        try moveKey(of: "cus_b", to: "cus_b_aside")
        let id = try post("/v1/rescoring_runs", ["ruleset": "pii", "version": 1], expect: 201)["id"]?.stringValue ?? ""

        XCTAssertTrue(try rescoring.step(), "the first batch (cus_a's two orders) is evaluated")
        XCTAssertTrue(try rescoring.step(), "the second fails: cus_b's key is out of reach")
        var run = try get("/v1/rescoring_runs/\(id)")
        XCTAssertEqual(run["status"], "running")
        XCTAssertEqual(run["orders_evaluated"], 2, "the failed batch wrote nothing; the checkpoint stays")
        XCTAssertEqual(run["attempts"], 1)
        XCTAssertEqual(run["last_error"], .string(PersonalDataError.keyMissing.description))
        XCTAssertEqual(run["retry_at"], .string(Timestamp.rfc3339(now.get().addingTimeInterval(10))))
        XCTAssertFalse(try rescoring.step(), "not tried again before its pause is over")

        now.update { $0.addTimeInterval(10) }
        XCTAssertTrue(try rescoring.step())
        XCTAssertEqual(try get("/v1/rescoring_runs/\(id)")["attempts"], 2)
        now.update { $0.addTimeInterval(20) }
        XCTAssertTrue(try rescoring.step())
        run = try get("/v1/rescoring_runs/\(id)")
        XCTAssertEqual(run["status"], "failed", "the third attempt was the last")
        XCTAssertEqual(run["attempts"], 3)
        XCTAssertEqual(run["retry_at"], .null)
        XCTAssertEqual(run["failure"], .string("gave up after 3 attempts: \(PersonalDataError.keyMissing.description)"))
        XCTAssertFalse(try rescoring.step(), "a failed run is left alone")

        let other = try TestOrganization(database: database, name: "Other")
        XCTAssertEqual(try post("/v1/rescoring_runs/\(id)/retry", [:], key: other.adminKey, expect: 404)["error"]?["code"], "resource_missing")
        try moveKey(of: "cus_b_aside", to: "cus_b")
        let resumed = try post("/v1/rescoring_runs/\(id)/retry", [:], expect: 200)
        XCTAssertEqual(resumed["status"], "queued")
        XCTAssertEqual(resumed["attempts"], 0)
        XCTAssertEqual(resumed["failure"], .null)
        try rescoring.drain()
        run = try get("/v1/rescoring_runs/\(id)")
        XCTAssertEqual(run["status"], "completed")
        XCTAssertEqual(run["orders_evaluated"], 3, "each order evaluated once: the run went on from its checkpoint")
        XCTAssertEqual(run["last_error"], .string(PersonalDataError.keyMissing.description), "the last error stays to be read")
        let changes = try database.ownerConnection().query("SELECT count(*), count(DISTINCT verification_id) FROM ledger.rescoring_changes WHERE run_id = $1", [id])
        XCTAssertEqual(changes.int(0, 0), 3)
        XCTAssertEqual(changes.int(0, 1), 3)
        XCTAssertEqual(try post("/v1/rescoring_runs/\(id)/retry", [:], expect: 409)["error"]?["code"], "run_not_failed")
    }

    func testAnApplyThatKeepsFailingFailsItsApplyAndResumesWhereItStopped() throws {
        let now = LockedBox(Date(timeIntervalSince1970: 1_800_000_000))
        let pool = database.pool(size: 4)
        let rescoring = Rescoring(pool: pool, engine: CommandEngine(pool: pool, stateCacheSize: 0, vault: try TestKeyEncryptionKey.vault()),
                                  batchSize: 2, retries: RescoringRetryPolicy(delays: [0]), clock: { now.get() })
        let (low, high, _, _) = try scenario()
        let id = try dryRun()
        XCTAssertEqual(try post("/v1/rescoring_runs/\(id)/apply", [:], expect: 200)["apply_status"], "pending")
        // The service may not mark a change applied: every apply batch is refused by the database until the grant is back.
        let owner = try database.ownerConnection()
        try owner.execute("REVOKE UPDATE ON ledger.rescoring_changes FROM ledger_service")
        try rescoring.drain()
        var run = try get("/v1/rescoring_runs/\(id)")
        XCTAssertEqual(run["status"], "completed")
        XCTAssertEqual(run["apply_status"], "failed")
        XCTAssertEqual(run["attempts"], 2)
        XCTAssertTrue(run["failure"]?.stringValue?.hasPrefix("gave up after 2 attempts: ") == true, run.jsonString)
        XCTAssertTrue(run["failure"]?.stringValue?.contains("42501") == true, "permission denied, by its SQL state: \(run.jsonString)")
        XCTAssertEqual(try get("/v1/orders/\(low)")["custom_scores"]?.jsonString, "{}")

        try owner.execute("GRANT UPDATE ON ledger.rescoring_changes TO ledger_service")
        XCTAssertEqual(try post("/v1/rescoring_runs/\(id)/retry", [:], expect: 200)["apply_status"], "pending")
        try rescoring.drain()
        run = try get("/v1/rescoring_runs/\(id)")
        XCTAssertEqual(run["apply_status"], "applied")
        XCTAssertEqual(run["orders_applied"], 2)
        XCTAssertEqual(try get("/v1/orders/\(high)")["custom_scores"]?.jsonString, #"{"band":"high"}"#)
    }
}
