import Foundation
import LedgerAPI
import LedgerDomain
import LedgerEngine
import LedgerStorage
import LedgerTestSupport
import XCTest

/// Seed 001 over HTTP: Stripe Identity's verification reports, and Stripe's own Python library against them.
final class VerificationReportAPITests: VendorViewsTestCase {
    static let reportFields = ["client_reference_id", "created", "document", "email", "id", "id_number", "livemode", "object", "options",
                               "phone", "selfie", "type", "verification_flow", "verification_session"]

    /// A native verification run by the sandbox to its end; its id.
    func verification(_ entityID: String, checks: [String], reference: String? = nil, key: String? = nil,
                      runAfter seconds: Double = 0) throws -> String {
        var body: [(String, JSONValue)] = [("entity_id", .string(entityID)), ("checks", .array(checks.map(JSONValue.string)))]
        if let reference { body.append(("client_reference_id", .string(reference))) }
        let created = try send("/v1/verifications", .object(body), key: key, expect: 201)
        guard let id = created["id"]?.stringValue else { throw XCTSkip("the verification was not created") }
        advance(seconds)
        try sync(id, key: key)
        return id
    }

    func reportIDForCursor(_ verificationID: String) -> String { StripeReportView.reportID(verificationID: verificationID, key: "a1") }

    /// Reports are one row each, keyed by verification and report: the replay check names a verification whose
    /// report row was altered or lost, and the repair brings back exactly the rows the log makes.
    func testReplayChecksAndRepairsReportRowsOneByOne() throws {
        let first = try verification("cus_replay_retry", checks: ["identity_verification"])
        let second = try verification("cus_replay_2", checks: ["identity_verification"])
        XCTAssertEqual(try database.ownerConnection().query("SELECT count(*) FROM ledger.verification_reports WHERE id = $1", [first])
            .int64(0, 0), 2, "a report per attempt")
        let owner = try database.ownerConnection()
        let vault = try TestKeyEncryptionKey.vault()
        XCTAssertEqual(try Replay.check(owner, vault: vault), [])
        try owner.query("UPDATE ledger.verification_reports SET type = 'id_number' WHERE id = $1 AND report_id = $2",
                        [first, StripeReportView.reportID(verificationID: first, key: "a2")])
        try owner.query("DELETE FROM ledger.verification_reports WHERE id = $1", [second])
        let found = try Replay.check(owner, vault: vault).filter { $0.projection == "verification_reports" }
        XCTAssertEqual(found.map(\.id).sorted(), [first, second].sorted())
        try Replay.repair(owner, vault: vault)
        XCTAssertEqual(try Replay.check(owner, vault: vault), [])
        XCTAssertEqual(try get("/v1/identity/verification_reports?verification_session=\(StripeReportView.sessionID(verificationID: second))")["data"]?
            .arrayValue?.count, 1)
    }

    /// Report rows written before Schema/063 take their entity from their verification: migrated, they read as before
    /// (each report opened under its entity's key) and are the rows the log makes.
    func testReportRowsWrittenBeforeTheyNamedTheirEntityAreGivenItByTheMigration() throws {
        let id = try verification("cus_before_063", checks: ["identity_verification"])
        let reportID = StripeReportView.reportID(verificationID: id, key: "a1")
        let shown = try get("/v1/identity/verification_reports/\(reportID)")
        XCTAssertEqual(shown["document"]?["first_name"], "Jenny")
        let owner = try database.ownerConnection()
        try owner.execute("ALTER TABLE ledger.verification_reports DROP COLUMN entity_id; DELETE FROM ledger.schema_migrations WHERE version = 63")
        let applied = try Migrator(directory: TestPostgres.schemaDirectory).migrate(owner)
        XCTAssertEqual(applied.map(\.version), [63])
        XCTAssertEqual(try owner.query("SELECT entity_id FROM ledger.verification_reports WHERE id = $1", [id]).string(0, 0), "cus_before_063")
        XCTAssertEqual(try get("/v1/identity/verification_reports/\(reportID)"), shown)
        XCTAssertEqual(try get("/v1/identity/verification_reports?verification_session=\(StripeReportView.sessionID(verificationID: id))")["data"],
                       [shown])
        XCTAssertEqual(try Replay.check(owner, vault: try TestKeyEncryptionKey.vault()), [])
    }

    func testAReportIsStripesObjectWithEachFieldOfItsType() throws {
        let id = try verification("cus_doc", checks: ["identity_verification"], reference: "ref-doc")
        let reportID = StripeReportView.reportID(verificationID: id, key: "a1")
        let report = try get("/v1/identity/verification_reports/\(reportID)")
        XCTAssertEqual(report.objectValue?.map(\.0).sorted(), Self.reportFields)
        XCTAssertEqual(kinds(report), [
            "client_reference_id": "string", "created": "number", "document": "object", "email": "null", "id": "string",
            "id_number": "null", "livemode": "bool", "object": "string", "options": "object", "phone": "null", "selfie": "object",
            "type": "string", "verification_flow": "null", "verification_session": "string",
        ])
        XCTAssertEqual(report["object"], "identity.verification_report")
        XCTAssertEqual(report["created"]?.intValue, Int64(clock.get().timeIntervalSince1970))
        XCTAssertEqual(report["verification_session"]?.stringValue, StripeReportView.sessionID(verificationID: id))
        XCTAssertEqual(report["type"], "document")
        XCTAssertEqual(report["livemode"], false)
        let document = report["document"]
        XCTAssertEqual(document?["status"], "verified")
        XCTAssertEqual(document?["error"], .null)
        XCTAssertEqual(document?["first_name"], "Jenny")
        XCTAssertEqual(document?["type"], "driving_license")
        XCTAssertEqual(document?["expiration_date"], ["day": 1, "month": 12, "year": 2030])
        XCTAssertEqual(report["selfie"]?["status"], "verified")

        let declined = try verification("cus_decline_62304", checks: ["identity_verification"])
        let failed = try get("/v1/identity/verification_reports/\(StripeReportView.reportID(verificationID: declined, key: "a1"))")
        XCTAssertEqual(failed["selfie"]?["status"], "unverified")
        XCTAssertEqual(failed["selfie"]?["error"]?["code"], "selfie_face_mismatch")

        // A page splices the stored reports in unparsed: still one JSON object, encoded as every answer is, either way.
        var shown: [String] = []
        for cursor in ["", "&starting_after=", "&ending_before="] {
            let listed = try client.get("/v1/identity/verification_reports?limit=1" + cursor + (cursor.isEmpty ? "" : shown.last ?? ""),
                                        headers: auth)
            XCTAssertEqual(listed.status, 200, listed.text)
            XCTAssertEqual(listed.text, listed.json?.jsonString, cursor)
            shown += listed.json?["data"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
        }
        XCTAssertEqual(shown.count, 3)
        XCTAssertEqual(shown.first, shown.last, "back to the first page")
        XCTAssertEqual(Set(shown).count, 2, "the two reports")

        let missing = try client.get("/v1/identity/verification_reports/vr_nothing_a1", headers: auth)
        XCTAssertEqual(missing.status, 404)
        XCTAssertEqual(missing.json?["error"]?["code"], "resource_missing")
        XCTAssertEqual(missing.json?["error"]?["param"], "id")
        try get("/v1/identity/verification_reports/\(StripeReportView.reportID(verificationID: id, key: "a2"))", expect: 404)
        try get("/v1/identity/verification_reports?limit=101", expect: 400)
        try get("/v1/identity/verification_reports?created=soon", expect: 400)
        try get("/v1/identity/verification_reports?type=selfie", expect: 400)
        try get("/v1/identity/verification_reports?starting_after=vr_nothing_a1", expect: 404)
        try get("/v1/identity/verification_reports?starting_after=\(reportIDForCursor(id))&ending_before=\(reportIDForCursor(id))", expect: 400)
    }

    /// Bad parameters are refused in Stripe's codes and words, over HTTP and as Stripe's library raises them.
    func testRefusalsAreStripesCodesAndWordsAlsoThroughStripesLibrary() throws {
        let empty = { (param: String) in
            "You passed an empty string for '\(param)'. We assume empty values are an attempt to unset a parameter; however '\(param)' "
                + "cannot be unset. You should remove '\(param)' from your request or supply a non-empty value."
        }
        let expected: [(name: String, path: String, status: Int, code: String, param: String, message: String)] = [
            ("limit_not_integer", "?limit=abc", 400, "parameter_invalid_integer", "limit", "Invalid integer: abc"),
            ("limit_zero", "?limit=0", 400, "parameter_invalid_integer", "limit", "This value must be greater than or equal to 1."),
            ("limit_too_large", "?limit=101", 400, "parameter_invalid_integer", "limit", "This value must be less than or equal to 100."),
            ("created_gte_not_integer", "?created%5Bgte%5D=x", 400, "parameter_invalid_integer", "created[gte]", "Invalid integer: x"),
            ("created_not_integer", "?created=soon", 400, "parameter_invalid_integer", "created", "Invalid integer: soon"),
            ("type_empty", "?type=", 400, "parameter_invalid_empty", "type", empty("type")),
            ("type_unknown", "?type=selfie", 400, "parameter_invalid", "type",
             "Invalid type: must be one of document, id_number, or verification_flow"),
            ("client_reference_id_empty", "?client_reference_id=", 400, "parameter_invalid_empty", "client_reference_id",
             empty("client_reference_id")),
            ("unknown_parameter", "?colour=blue", 400, "parameter_unknown", "colour", "Received unknown parameter: colour"),
            ("unknown_cursor", "?starting_after=vr_nothing_a1", 404, "resource_missing", "starting_after",
             "No such verification report: 'vr_nothing_a1'"),
            ("both_cursors", "?starting_after=vr_nothing_a1&ending_before=vr_nothing_a2", 400, "parameters_exclusive", "ending_before",
             "You may only specify one of these parameters: ending_before, starting_after."),
            ("unknown_id", "/vr_nothing_a1", 404, "resource_missing", "id", "No such verification report: 'vr_nothing_a1'"),
        ]
        for probe in expected {
            let response = try client.get("/v1/identity/verification_reports" + probe.path, headers: auth)
            XCTAssertEqual(response.status, probe.status, probe.name)
            XCTAssertEqual(response.json?["error"], [
                "type": "invalid_request_error", "code": .string(probe.code), "message": .string(probe.message), "param": .string(probe.param),
            ], probe.name)
        }
        try get("/v1/identity/verification_reports?starting_after=&limit=1", expect: 400)
        try get("/v1/identity/verification_reports?created%5Bgte%5D=2026-01-01T00:00:00Z", expect: 400)

        let script = TestPostgres.schemaDirectory.deletingLastPathComponent().appendingPathComponent("Tests/Fixtures/stripe_errors.py").path
        let outcome = try ChildProcess.run("python3", [script, server.baseURL, acme.readKey])
        XCTAssertEqual(outcome.status, 0, outcome.output)
        guard let line = outcome.output.split(separator: "\n").first(where: { $0.hasPrefix("RESULT ") }),
              let raised = try? JSONValue.parse(Array(line.dropFirst(7).utf8), maxDepth: 64) else {
            return XCTFail("no result from the script: \(outcome.output)")
        }
        for probe in expected {
            XCTAssertEqual(raised[probe.name], [
                "status": .int(Int64(probe.status)), "code": .string(probe.code), "param": .string(probe.param), "message": .string(probe.message),
            ], "InvalidRequestError of \(probe.name)")
        }
    }

    func testAnotherOrganizationAndTheOtherModeSeeNoReportAndAsOf() throws {
        // A native create leaves the sandbox to the sync, which runs it 10 s later.
        let id = try verification("cus_doc", checks: ["identity_verification"], runAfter: 10)
        let reportID = StripeReportView.reportID(verificationID: id, key: "a1")
        let globex = try TestOrganization(database: database, name: "Globex")
        for key in [globex.adminKey, acme.liveAdminKey] {
            try get("/v1/identity/verification_reports/\(reportID)", key: key, expect: 404)
            try get("/v1/identity/verification_reports/\(reportID)?as_of=\(Timestamp.rfc3339(clock.get()))", key: key, expect: 404)
            XCTAssertEqual(try get("/v1/identity/verification_reports", key: key)["data"], [])
            try get("/v1/identity/verification_reports?starting_after=\(reportID)", key: key, expect: 404)
        }
        // A report exists from its attempt's results on; before, as_of finds none.
        let created = try get("/v1/verifications/\(id)")["created_at"]?.stringValue.flatMap(Timestamp.parse) ?? Date()
        try get("/v1/identity/verification_reports/\(reportID)?as_of=\(Timestamp.rfc3339(created))", expect: 404)
        advance(10)
        XCTAssertEqual(try get("/v1/identity/verification_reports/\(reportID)?as_of=\(Timestamp.rfc3339(clock.get()))"),
                       try get("/v1/identity/verification_reports/\(reportID)"))
    }

    /// 250 test-mode reports (120 email verifications that retry, two reports each; 10 document checks) and 4
    /// live ones, read through Stripe's library: retrieve, each filter, auto-pagination both ways.
    func testStripesPythonLibraryRetrievesListsFiltersAndAutoPaginatesUnchanged() throws {
        var expected: [(created: Int64, id: String, verification: String, reference: String?, type: String)] = []
        for index in 0..<130 {
            advance(1)
            let document = index % 13 == 0
            let reference = "ref-\(index % 3)"
            let id = try verification(document ? "cus_doc_\(index)" : "cus_retry_\(index)", checks: [document ? "identity_verification" : "email"],
                                      reference: reference)
            let created = Int64(clock.get().timeIntervalSince1970)
            for key in document ? ["a1"] : ["e1", "e2"] {
                expected.append((created, StripeReportView.reportID(verificationID: id, key: key), id, reference,
                                 document ? "document" : "verification_flow"))
            }
        }
        var live: [String] = []
        for index in 0..<2 {
            let id = try verification("cus_live_retry_\(index)", checks: ["email"], key: acme.liveAdminKey)
            live += ["e1", "e2"].map { StripeReportView.reportID(verificationID: id, key: $0) }
        }
        XCTAssertEqual(expected.count, 250)
        let newestFirst = expected.sorted { ($0.created, $0.id) > ($1.created, $1.id) }
        let order = newestFirst.map(\.id)
        let session = StripeReportView.sessionID(verificationID: expected[5].verification)
        let gte = expected[20].created, lt = expected[40].created
        let probes: JSONValue = [
            "client_reference_id": "ref-1", "session": .string(session), "created_gte": .int(gte), "created_lt": .int(lt),
            "created": .int(expected[7].created), "oldest": .string(order[order.count - 1]),
        ]
        let script = TestPostgres.schemaDirectory.deletingLastPathComponent().appendingPathComponent("Tests/Fixtures/stripe_reports.py").path
        let outcome = try ChildProcess.run("python3", [script, server.baseURL, acme.readKey, acme.liveAdminKey, probes.jsonString])
        let line = outcome.output.split(separator: "\n").first { $0.hasPrefix("RESULT ") }
        XCTAssertEqual(outcome.status, 0, outcome.output)
        guard let line, let result = try? JSONValue.parse(Array(line.dropFirst(7).utf8), maxDepth: 64) else {
            return XCTFail("no result from the script: \(outcome.output)")
        }
        func list(_ name: String) -> [String] { result[name]?.arrayValue?.compactMap(\.stringValue) ?? [] }
        XCTAssertEqual(list("forward"), order, "auto-pagination forward, pages of 100")
        XCTAssertEqual(list("forward_small_pages"), order, "auto-pagination forward, pages of 7")
        XCTAssertEqual(list("backward"), Array(order.dropLast().reversed()), "auto-pagination backward from the oldest, pages of 100")
        XCTAssertEqual(result["retrieved"], [
            "id": .string(order[0]), "object": "identity.verification_report", "created_is_int": true, "livemode": false,
            "type": .string(newestFirst[0].type), "verification_session": .string(StripeReportView.sessionID(verificationID: newestFirst[0].verification)),
            "status": "verified",
        ])
        XCTAssertEqual(list("by_client_reference_id"), newestFirst.filter { $0.reference == "ref-1" }.map(\.id))
        XCTAssertEqual(list("by_type_document"), newestFirst.filter { $0.type == "document" }.map(\.id))
        XCTAssertEqual(list("by_type_verification_flow").count, 240)
        XCTAssertEqual(list("by_session"), newestFirst.filter { $0.verification == expected[5].verification }.map(\.id))
        XCTAssertEqual(list("by_created_range"), newestFirst.filter { $0.created >= gte && $0.created < lt }.map(\.id))
        XCTAssertEqual(list("by_created_exact"), newestFirst.filter { $0.created == expected[7].created }.map(\.id))
        XCTAssertEqual(result["expand_ignored"]?.stringValue, order[0])
        XCTAssertEqual(result["missing"], ["status": 404, "code": "resource_missing", "param": "id"])
        XCTAssertEqual(Set(list("live")), Set(live), "a live key sees the live reports only")
        XCTAssertEqual(result["live_sees_test"], false)
    }
}
