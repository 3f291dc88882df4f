import Foundation
import LedgerAPI
import LedgerDomain
import LedgerEngine
import LedgerTestSupport
import XCTest

/// Every row of the README's sandbox magic-value table, end to end over HTTP: created, run by the sandbox as the
/// provider actor, its webhooks queued, and its final state read in all five views; then the read models are
/// what the log makes of them (`ledger replay --check`).
final class SandboxEndToEndTests: VendorViewsTestCase {
    struct Row {
        let id: String
        var checks = ["identity_verification"]
        let ledger: String, validation: String, customer: String, order: String
        /// How many Stripe reports the flow leaves (one per completed attempt), and the first's document status.
        let reports: Int
        var report: String? = nil
    }

    static let rows = [
        Row(id: "cus_plain", ledger: "approved", validation: "approved", customer: "verified", order: "COMPLETE", reports: 1, report: "verified"),
        Row(id: "cus_expire_after_capture", ledger: "expired", validation: "abandoned", customer: "expired", order: "INCOMPLETE", reports: 0),
        Row(id: "cus_expire", ledger: "expired", validation: "expired", customer: "expired", order: "INCOMPLETE", reports: 0),
        Row(id: "cus_refuse", ledger: "refused", validation: "abandoned", customer: "failed", order: "INCOMPLETE", reports: 0),
        Row(id: "cus_63001", ledger: "refused", validation: "abandoned", customer: "failed", order: "INCOMPLETE", reports: 0),
        Row(id: "cus_inconclusive", ledger: "inconclusive", validation: "rejected", customer: "failed", order: "INCOMPLETE", reports: 1,
            report: "unverified"),
        Row(id: "cus_abort_decline_62102", ledger: "declined", validation: "rejected", customer: "failed", order: "COMPLETE", reports: 1,
            report: "unverified"),
        Row(id: "cus_abort", ledger: "approved", validation: "approved", customer: "verified", order: "COMPLETE", reports: 1, report: "verified"),
        Row(id: "cus_retry_61302_decline", ledger: "declined", validation: "rejected", customer: "failed", order: "COMPLETE", reports: 2,
            report: "unverified"),
        Row(id: "cus_retry", ledger: "approved", validation: "approved", customer: "verified", order: "COMPLETE", reports: 2, report: "unverified"),
        Row(id: "cus_decline_99999", ledger: "declined", validation: "rejected", customer: "failed", order: "COMPLETE", reports: 1,
            report: "unverified"),
        Row(id: "cus_62304", ledger: "declined", validation: "rejected", customer: "failed", order: "COMPLETE", reports: 1, report: "verified"),
        Row(id: "cus_61112", ledger: "approved", validation: "approved", customer: "verified", order: "COMPLETE", reports: 2, report: "unverified"),
        Row(id: "cus_aml_match", checks: ["identity_verification", "aml_screening"], ledger: "review_required", validation: "in_progress",
            customer: "pending", order: "PENDING", reports: 1, report: "verified"),
        Row(id: "cus_hold", checks: ["identity_verification", "background_check"], ledger: "approved", validation: "approved",
            customer: "verified", order: "COMPLETE", reports: 1, report: "verified"),
        Row(id: "cus_hold_alert", checks: ["identity_verification", "background_check"], ledger: "approved", validation: "approved",
            customer: "verified", order: "COMPLETE", reports: 1, report: "verified"),
    ]

    func testEveryMagicValueEndToEndInAllFiveViews() throws {
        try send("/v1/webhook_endpoints", ["url": "https://127.0.0.1:9/hooks", "events": ["*"]], expect: 201)
        var ids: [String] = []
        for row in Self.rows {
            advance(1)
            // One check through seed 003's create (which starts the sandbox itself); packages through the invite.
            let id = row.checks.count == 1 ? try createCustomerVerification(row.id)
                : try send("/v1/verifications", ["entity_id": .string(row.id), "checks": .array(row.checks.map(JSONValue.string))],
                           expect: 201)["id"]?.stringValue ?? ""
            ids.append(id)
            try sync(id)
        }
        // Rows that end by themselves are final now; the expiry rows wait for their deadline, which the scheduler
        // takes from there (and which would also end the one left under review, so it is read before).
        for (row, id) in zip(Self.rows, ids) where !row.id.hasPrefix("cus_expire") { try assertFinal(row, id) }
        advance(8 * 86_400)
        let clock = self.clock
        XCTAssertEqual(try ExpiryScheduler(pool: database.pool(size: 2), clock: { clock.get() }).runOnce(), 3)
        for (row, id) in zip(Self.rows, ids) where row.id.hasPrefix("cus_expire") { try assertFinal(row, id) }
        let owner = try database.ownerConnection()
        XCTAssertEqual(try Replay.check(owner).map(\.description), [], "the read models are what the log makes of them")
    }

    func assertFinal(_ row: Row, _ id: String) throws {
        let label = row.id
        XCTAssertEqual(try get("/v1/verifications/\(id)")["status"]?.stringValue, row.ledger, label)
        XCTAssertEqual(try get("/v1/validations/\(id)")["status"]?.stringValue, row.validation, label)
        XCTAssertEqual(try get("/v1/customer_verifications/\(id)")["data"]?["status"]?.stringValue, row.customer, label)
        XCTAssertEqual(try get("/v1/orders/\(id)")["status"]?.stringValue, row.order, label)
        let session = StripeReportView.sessionID(verificationID: id)
        let reports = try get("/v1/identity/verification_reports?verification_session=\(session)")["data"]?.arrayValue ?? []
        XCTAssertEqual(reports.count, row.reports, label)
        XCTAssertEqual(reports.last?["document"]?["status"]?.stringValue, row.report, "\(label): the first report")
        XCTAssertEqual(try get("/v1/entities/\(row.id)/kyc-status")["status"]?.stringValue,
                       ["abandoned", "expired"].contains(row.validation) ? "not_started" : row.validation,
                       "\(label): a validation abandoned or expired unused does not count")

        let deliveries = try get("/v1/webhook_deliveries?verification_id=\(id)&limit=100")["data"]?.arrayValue ?? []
        let types = Set(deliveries.compactMap { $0["event_type"]?.stringValue })
        XCTAssertTrue(types.isSuperset(of: ["VERIFICATION_STATUS_CHANGE", "VALIDATION_STATUS_CHANGE", "CHECK_STATUS_CHANGE",
                                            "ATTEMPT_STATUS_CHANGE", "ORDER_STATUS_CHANGE"]), "\(label): \(types.sorted())")
        let events = try get("/v1/verifications/\(id)/events")["data"]?.arrayValue ?? []
        let byProvider = events.filter { $0["metadata"]?["actor_type"] == "provider" }
        XCTAssertGreaterThan(byProvider.count, 0, label)
        XCTAssertTrue(byProvider.allSatisfy { $0["metadata"]?["actor_id"] == "sandbox" }, label)
    }

    /// The sandbox's steps are recorded once however often they are delivered: the create's background run and
    /// any number of syncs, concurrently.
    func testAStepDeliveredTwiceAppendsOnce() throws {
        let id = try createCustomerVerification("cus_retry_decline")
        let failures = Collector<String>()
        let client = self.client, auth = self.auth
        concurrently(4) { _ in
            do { _ = try client.post("/v1/validations/\(id)/sync", json: [:], headers: auth) } catch { failures.append("\(error)") }
        }
        XCTAssertEqual(failures.values, [])
        let events = try get("/v1/verifications/\(id)/events")["data"]?.arrayValue ?? []
        let again = try sync(id)
        XCTAssertEqual(again["changed"], false)
        let steps = SandboxProvider(captureBaseURL: "x").steps(
            verificationID: id, invitation: Invitation(entityID: "cus_retry_decline", checks: [.identityVerification], expiresAt: Date()),
            startedAt: Date())
        // Each step appends one event, and a new attempt's start also terminates none (the first ended completed).
        XCTAssertEqual(events.count, 1 + steps.count, "the invite and one event per step")
        XCTAssertEqual(try get("/v1/verifications/\(id)")["status"], "declined")
    }
}
