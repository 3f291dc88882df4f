import Foundation
import LedgerAPI
import LedgerDomain
import LedgerTestSupport
import XCTest

/// Seed 003 over HTTP: `/v1/customer_verifications`.
final class CustomerVerificationAPITests: VendorViewsTestCase {
    func testCreateRunsTheSandboxAndTheObjectHasExactlyTheSeedsFieldsWithTheirTypes() throws {
        let id = try createCustomerVerification("cus_approve")
        let pending = try get("/v1/customer_verifications/\(id)")["data"]
        XCTAssertEqual(pending?.objectValue?.map(\.0).sorted(), CustomerVerificationView.fields)
        // The background run may already have moved on; sync finishes it either way.
        let synced = try sync(id)
        XCTAssertEqual(synced["status"], "approved")
        let object = try get("/v1/customer_verifications/\(id)")["data"]
        XCTAssertEqual(object?.objectValue?.map(\.0).sorted(), CustomerVerificationView.fields)
        XCTAssertEqual(kinds(object), [
            "actor_id": "string", "check_type": "string", "created_at": "time", "customer_id": "string", "expires_at": "time",
            "id": "string", "last_checked_at": "time", "organization_id": "string", "provider": "string",
            "provider_reference": "string", "reason": "null", "result_payload": "object", "status": "string", "updated_at": "time",
            "verification_type": "string", "verified_at": "time",
        ])
        XCTAssertEqual(object?["status"], "verified")
        XCTAssertEqual(object?["actor_id"], "sandbox", "the provider made the last change")
        XCTAssertEqual(object?["check_type"], "identity_verification")
        XCTAssertEqual(object?["customer_id"], "cus_approve")
        XCTAssertEqual(object?["organization_id"]?.stringValue, acme.id.uuidString.lowercased())
        XCTAssertEqual(object?["provider_reference"], "sbx_identity_verification_1")
        XCTAssertEqual(object?["result_payload"]?["status"], "approved")
        let verifiedAt = object?["verified_at"]?.stringValue.flatMap(Timestamp.parse)
        let expiresAt = object?["expires_at"]?.stringValue.flatMap(Timestamp.parse)
        XCTAssertEqual(expiresAt.flatMap { end in verifiedAt.map { end.timeIntervalSince($0) } }, 365 * 86_400, "valid a year")
        // The native view is the same verification.
        XCTAssertEqual(try get("/v1/verifications/\(id)")["status"], "approved")
    }

    func testADeclineFailsWithTheCodesSummaryAsReason() throws {
        let id = try createCustomerVerification("cus_decline_62101")
        try sync(id)
        let object = try get("/v1/customer_verifications/\(id)")["data"]
        XCTAssertEqual(object?["status"], "failed")
        XCTAssertNotNil(object?["reason"]?.stringValue)
        XCTAssertEqual(object?["verified_at"], .null)
        XCTAssertEqual(object?["expires_at"], .null)
    }

    func testListFiltersAndPaginatesWithNextCursor() throws {
        var created: [String] = []
        for (index, customer) in ["cus_a", "cus_b", "cus_a", "cus_c_decline", "cus_a"].enumerated() {
            advance(60)
            created.append(try createCustomerVerification(customer, type: index == 1 ? "age" : "kyc"))
        }
        for id in created { try sync(id) }
        let start = clock.get().addingTimeInterval(-5 * 60 - 1)

        func ids(_ query: String) throws -> [String] {
            try get("/v1/customer_verifications?\(query)")["data"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
        }
        XCTAssertEqual(try ids(""), created.reversed(), "newest first")
        XCTAssertEqual(try ids("customer_id=cus_a"), [created[4], created[2], created[0]])
        XCTAssertEqual(try ids("status=failed"), [created[3]])
        XCTAssertEqual(try ids("status=verified").count, 4)
        XCTAssertEqual(try ids("verification_type=age"), [created[1]])
        let third = Timestamp.rfc3339(start.addingTimeInterval(3 * 60 + 1))
        XCTAssertEqual(try ids("occurred_after=\(third)"), [created[4], created[3], created[2]], "created_at >= the third's")
        XCTAssertEqual(try ids("occurred_before=\(third)"), [created[1], created[0]], "created_at < the third's")
        XCTAssertEqual(try ids("occurred_after=\(Timestamp.rfc3339(start))&occurred_before=\(third)&customer_id=cus_a"), [created[0]])

        var pages: [[String]] = []
        var cursor: String?
        repeat {
            let page = try get("/v1/customer_verifications?limit=2" + (cursor.map { "&cursor=\($0)" } ?? ""))
            pages.append(page["data"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? [])
            cursor = page["next_cursor"]?.stringValue
            XCTAssertNotNil(page.objectValue?.first { $0.0 == "next_cursor" }, "next_cursor is always there")
        } while cursor != nil && pages.count < 10
        XCTAssertEqual(pages, [[created[4], created[3]], [created[2], created[1]], [created[0]]])
        try get("/v1/customer_verifications?limit=0", expect: 400)
        try get("/v1/customer_verifications?status=approved", expect: 400)
        try get("/v1/customer_verifications?occurred_after=yesterday", expect: 400)
    }

    func testAnotherOrganizationAndTheOtherModeGet404AndEmptyLists() throws {
        let id = try createCustomerVerification("cus_mine")
        let globex = try TestOrganization(database: database, name: "Globex")
        for key in [globex.adminKey, acme.liveAdminKey] {
            try get("/v1/customer_verifications/\(id)", key: key, expect: 404)
            try get("/v1/customer_verifications/\(id)?as_of=\(Timestamp.rfc3339(clock.get()))", key: key, expect: 404)
            XCTAssertEqual(try get("/v1/customer_verifications", key: key)["data"], [])
            try send("/v1/customer_verifications/\(id)", ["status": "verified", "reason": "x"], method: "PATCH", key: key, expect: 404)
        }
        try get("/v1/customer_verifications/ver_000000000000000000000000", expect: 404)
    }

    func testAsOfShowsTheObjectAsItWasThen() throws {
        let id = try createCustomerVerification("cus_history")
        let createdAt = clock.get()
        try sync(id)
        advance(3600)
        let verifiedThen = clock.get().addingTimeInterval(-1)
        try send("/v1/customer_verifications/\(id)", ["status": "expired", "reason": "documents withdrawn"], method: "PATCH")
        let then = try get("/v1/customer_verifications/\(id)?as_of=\(Timestamp.rfc3339(verifiedThen))")["data"]
        XCTAssertEqual(then?.objectValue?.map(\.0).sorted(), CustomerVerificationView.fields)
        XCTAssertEqual(then?["status"], "verified")
        XCTAssertEqual(then?["actor_id"], "sandbox")
        XCTAssertEqual(then?["reason"], .null)
        let now = try get("/v1/customer_verifications/\(id)")["data"]
        XCTAssertEqual(now?["status"], "expired")
        XCTAssertEqual(now?["actor_id"]?.stringValue?.hasPrefix("key_"), true)
        XCTAssertEqual(try get("/v1/customer_verifications/\(id)?as_of=\(Timestamp.rfc3339(clock.get()))")["data"], now,
                       "the fold up to now is the stored row")
        XCTAssertEqual(try get("/v1/customer_verifications/\(id)?as_of=\(Timestamp.rfc3339(createdAt))")["data"]?["created_at"],
                       now?["created_at"])
        try get("/v1/customer_verifications/\(id)?as_of=\(Timestamp.rfc3339(createdAt.addingTimeInterval(-1)))", expect: 404)
        try get("/v1/customer_verifications/\(id)?as_of=soon", expect: 400)
    }

    func testAnAdminOverrideWithAReasonAndTheActor() throws {
        let id = try createCustomerVerification("cus_expire")
        try sync(id)
        XCTAssertEqual(try get("/v1/customer_verifications/\(id)")["data"]?["status"], "pending", "expiry waits for the deadline")
        try send("/v1/customer_verifications/\(id)", ["status": "verified", "reason": "checked by hand"], method: "PATCH", key: acme.writeKey, expect: 403)
        try send("/v1/customer_verifications/\(id)", ["status": "approved", "reason": "x"], method: "PATCH", expect: 400)
        try send("/v1/customer_verifications/\(id)", ["status": "verified"], method: "PATCH", expect: 400)
        let updated = try send("/v1/customer_verifications/\(id)", ["status": "verified", "reason": "checked by hand"], method: "PATCH")["data"]
        XCTAssertEqual(updated?["status"], "verified")
        XCTAssertEqual(updated?["actor_id"]?.stringValue?.hasPrefix("key_"), true)
        let expired = try send("/v1/customer_verifications/\(id)", ["status": "expired", "reason": "documents withdrawn"], method: "PATCH")["data"]
        XCTAssertEqual(expired?["status"], "expired")
        XCTAssertEqual(expired?["reason"], "documents withdrawn")
        XCTAssertEqual(try get("/v1/customer_verifications/\(id)")["data"], expired)
    }

    /// `actor_id` is whoever made the latest decision on the status (the creator, the provider, an admin), not the
    /// actor of the latest event: a change that decides nothing (metadata from another key) leaves it.
    func testTheActorIsWhoMadeTheLatestStatusDecision() throws {
        let id = try createCustomerVerification("cus_actor")
        try sync(id)
        func actor(_ query: String = "") throws -> JSONValue? { try get("/v1/customer_verifications/\(id)\(query)")["data"]?["actor_id"] }
        XCTAssertEqual(try actor(), "sandbox")
        advance(60)
        try send("/v1/verifications/\(id)/metadata", ["metadata": ["note": "called the customer"]], key: acme.writeKey)
        XCTAssertEqual(try actor(), "sandbox", "a metadata update decides nothing")
        XCTAssertEqual(try get("/v1/customer_verifications?customer_id=cus_actor")["data"]?.arrayValue?.first?["actor_id"], "sandbox")
        advance(60)
        let beforeOverride = clock.get()
        advance(60)
        let overridden = try send("/v1/customer_verifications/\(id)", ["status": "failed", "reason": "document reported stolen"], method: "PATCH")
        let admin = overridden["data"]?["actor_id"]
        XCTAssertEqual(admin?.stringValue?.hasPrefix("key_"), true)
        advance(60)
        try send("/v1/verifications/\(id)/metadata", ["metadata": ["note": "told the customer"]], key: acme.writeKey)
        XCTAssertEqual(try actor(), admin)
        XCTAssertEqual(try actor("?as_of=\(Timestamp.rfc3339(clock.get()))"), admin)
        XCTAssertEqual(try actor("?as_of=\(Timestamp.rfc3339(beforeOverride))"), "sandbox")
        let other = try send("/v1/api_keys", ["scopes": ["read", "write", "admin"]], expect: 201)["secret"]?.stringValue ?? ""
        let again = try send("/v1/customer_verifications/\(id)", ["status": "failed", "reason": "document reported stolen"], method: "PATCH",
                             key: other)
        XCTAssertEqual(again["data"]?["actor_id"], admin, "an override that changes nothing answers with the decision's actor")
        XCTAssertEqual(try actor(), admin)
    }

    func testCreateIsIdempotentAndValidatesItsBody() throws {
        let body: JSONValue = ["customer_id": "cus_once", "check_type": "document"]
        let first = try send("/v1/customer_verifications", body, headers: ["Idempotency-Key": "k1"], expect: 201)
        let again = try send("/v1/customer_verifications", body, headers: ["Idempotency-Key": "k1"], expect: 201)
        XCTAssertEqual(first["data"]?["id"], again["data"]?["id"])
        try send("/v1/customer_verifications", ["customer_id": "cus_x", "check_type": "document"], headers: ["Idempotency-Key": "k1"], expect: 422)
        try send("/v1/customer_verifications", ["customer_id": "cus_x"], expect: 400)
        try send("/v1/customer_verifications", ["customer_id": "cus_x", "check_type": "palm_reading"], expect: 400)
        try send("/v1/customer_verifications", ["customer_id": "cus_x", "check_type": "document", "provider": "acme"], expect: 400)
        XCTAssertEqual(try get("/v1/customer_verifications")["data"]?.arrayValue?.count, 1)
    }
}
