import Foundation
import LedgerDomain
import LedgerTestSupport
import XCTest

/// One organization's objects of every kind, made through the API in one mode: a verification with an attempt
/// that completed (so it has an order), a postback (an outbox row), a webhook endpoint, an API key, a ruleset and
/// a re-scoring run, an idempotency record and the postback secret.
struct TenantData {
    let verificationID: String
    let attemptID: String
    let endpointID: String
    let apiKeyID: String
    let entityID: String
    let rulesetName: String
    let rescoringRunID: String
    let eventID: String

    /// The value of every `{name}` path parameter for this tenant's objects.
    var pathParameters: [String: String] {
        ["id": verificationID, "attempt_id": attemptID, "dispute_id": "dsp_000000000000000000000000", "entity_id": entityID,
         "name": rulesetName, "version": "1",
         "event_id": eventID]
    }

    init(client: TestClient, adminKey: String, label: String, file: StaticString = #filePath, line: UInt = #line) throws {
        func post(_ path: String, _ body: JSONValue, headers: [String: String] = [:], expect: Int) throws -> JSONValue {
            let response = try client.post(path, json: body, headers: .bearer(adminKey).merging(headers) { $1 })
            XCTAssertEqual(response.status, expect, "\(path): \(response.text)", file: file, line: line)
            return response.json ?? .null
        }
        entityID = "cus_\(label)"
        let created = try post("/v1/verifications", [
            "entity_id": .string("cus_\(label)"), "client_reference_id": .string("ref-\(label)"), "package_id": "pkg_identity",
            "checks": ["identity_verification"], "postback_url": "https://127.0.0.1:9/postback",
            "applicant": ["first_name": .string(label), "last_name": "Tenant", "email": "tenant@example.com"],
        ], headers: ["Idempotency-Key": "create-\(label)"], expect: 201)
        verificationID = created["id"]?.stringValue ?? ""
        let attempt = try post("/v1/verifications/\(verificationID)/attempts", [:], expect: 201)
        attemptID = attempt["id"]?.stringValue ?? ""
        for status in ["capture_in_progress", "completed"] {
            _ = try post("/v1/verifications/\(verificationID)/attempts/\(attemptID)/progress", ["status": .string(status)], expect: 200)
        }
        _ = try post("/v1/verifications/\(verificationID)/results", ["check": "identity_verification", "status": "approved"], expect: 200)
        endpointID = try post("/v1/webhook_endpoints", ["url": "https://127.0.0.1:9/hooks", "events": ["*"]], expect: 201)["id"]?
            .stringValue ?? ""
        apiKeyID = try post("/v1/api_keys", ["scopes": ["read"]], expect: 201)["id"]?.stringValue ?? ""
        // Named apart per tenant: another tenant's ruleset of the same name would answer for its own.
        rulesetName = "risk-" + label.lowercased().filter { $0.isLetter || $0.isNumber }
        _ = try post("/v1/rulesets", ["name": .string(rulesetName), "rules": ["band": ["var": "score"]]], expect: 201)
        rescoringRunID = try post("/v1/rescoring_runs", ["ruleset": .string(rulesetName), "version": 1], expect: 201)["id"]?.stringValue ?? ""
        XCTAssertEqual(try client.get("/v1/webhook_secret", headers: .bearer(adminKey)).status, 200, file: file, line: line)
        eventID = try client.get("/v1/verifications/\(verificationID)/events", headers: .bearer(adminKey))
            .json?["data"]?.arrayValue?.first?["id"]?.stringValue ?? ""
    }
}
