import Foundation
import LedgerAPI
import LedgerDomain
import LedgerEngine
import LedgerTestSupport
import XCTest

/// The end of an approval's validity: the expiry scheduler records it, every view follows, and the validation
/// webhooks fire.
final class ValidityExpiryTests: VendorViewsTestCase {
    func testTheSchedulerEndsAnApprovalAtTheEndOfItsValidity() throws {
        try send("/v1/webhook_endpoints", ["url": "https://127.0.0.1:9/hooks", "events": ["VALIDATION_STATUS_CHANGE"]], expect: 201)
        let id = try createCustomerVerification("cus_valid")
        try sync(id)
        let approved = try get("/v1/customer_verifications/\(id)")["data"]
        XCTAssertEqual(approved?["status"], "verified")
        let validUntil = approved?["expires_at"]?.stringValue.flatMap(Timestamp.parse) ?? .distantPast
        let clock = self.clock
        let scheduler = ExpiryScheduler(pool: database.pool(size: 2), vault: try TestKeyEncryptionKey.vault(), clock: { clock.get() })

        advance(364 * 86_400)
        XCTAssertEqual(try scheduler.runOnce(), 0, "still valid")
        XCTAssertEqual(try get("/v1/entities/cus_valid/kyc-status")["needsReverification"], true, "inside the 30 days before the end")
        clock.set(validUntil)
        XCTAssertEqual(try scheduler.runOnce(), 1)
        XCTAssertEqual(try scheduler.runOnce(), 0, "once")

        let expired = try get("/v1/customer_verifications/\(id)")["data"]
        XCTAssertEqual(expired?["status"], "expired")
        XCTAssertEqual(expired?["actor_id"], "expiry-scheduler")
        XCTAssertEqual(expired?["expires_at"]?.stringValue.flatMap(Timestamp.parse), validUntil)
        XCTAssertEqual(try get("/v1/validations/\(id)")["status"], "expired")
        let status = try get("/v1/entities/cus_valid/kyc-status")
        XCTAssertEqual(status["verified"], false)
        XCTAssertEqual(status["status"], "expired")
        XCTAssertEqual(try get("/v1/verifications/\(id)")["status"], "approved", "the verification itself stays approved")
        XCTAssertEqual(try get("/v1/orders/\(id)")["status"], "COMPLETE")

        let deliveries = try get("/v1/webhook_deliveries?verification_id=\(id)&limit=100")["data"]?.arrayValue ?? []
        XCTAssertEqual(deliveries.compactMap { $0["event_type"]?.stringValue }, Array(repeating: "VALIDATION_STATUS_CHANGE", count: 4),
                       "pending, in progress, approved, expired")
        let events = try get("/v1/verifications/\(id)/events")["data"]?.arrayValue ?? []
        XCTAssertEqual(events.last?["type"], "ValidityEnded")
        XCTAssertEqual(events.last?["metadata"]?["actor_type"], "system")
    }

    func testTheValidityIsTheConfiguredOneRecordedWithTheInvite() throws {
        let clock = self.clock
        try restartServer(api: APIConfiguration(authCacheSeconds: 0, logRequests: false, clock: { clock.get() },
                                                validity: ValidityPolicy(validity: 10 * 86_400, reverificationWindow: 2 * 86_400)))
        let id = try createCustomerVerification("cus_short")
        try sync(id)
        let object = try get("/v1/customer_verifications/\(id)")["data"]
        let verifiedAt = object?["verified_at"]?.stringValue.flatMap(Timestamp.parse) ?? .distantPast
        XCTAssertEqual(object?["expires_at"]?.stringValue.flatMap(Timestamp.parse), verifiedAt.addingTimeInterval(10 * 86_400))
        advance(7 * 86_400)
        XCTAssertEqual(try get("/v1/entities/cus_short/kyc-status")["needsReverification"], false)
        advance(86_400 + 1)
        XCTAssertEqual(try get("/v1/entities/cus_short/kyc-status")["needsReverification"], true, "two days before the end")
        advance(2 * 86_400)
        let scheduler = ExpiryScheduler(pool: database.pool(size: 2), vault: try TestKeyEncryptionKey.vault(), clock: { clock.get() })
        XCTAssertEqual(try scheduler.runOnce(), 1)
        XCTAssertEqual(try get("/v1/customer_verifications/\(id)")["data"]?["status"], "expired")
    }
}
