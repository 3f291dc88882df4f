import Foundation
import LedgerAPI
import LedgerDomain
import LedgerTestSupport
import XCTest

/// `?as_of=` on every view of a verification, against the times of its events: each route that declares the
/// parameter is here (the API document is read to check it), and each shows the view as it was between two
/// events, as it is now when folded up to the last one, and nothing before the first.
final class AsOfViewsTests: VendorViewsTestCase {
    func testEveryViewWithAsOfShowsWhatTheLogHadAtThatTime() throws {
        let id = try createCustomerVerification("cus_as_of")
        let createdAt = clock.get()
        try sync(id)
        advance(3600)
        let approvedThen = clock.get().addingTimeInterval(-1)
        try send("/v1/customer_verifications/\(id)", ["status": "failed", "reason": "fraud found later"], method: "PATCH")
        let changedAt = clock.get()
        let reports = try get("/v1/identity/verification_reports?verification_session=\(StripeReportView.sessionID(verificationID: id))")
        let report = try XCTUnwrap(reports["data"]?.arrayValue?.first?["id"]?.stringValue)

        // Each view with a member it showed a second before the change, and that member's value then.
        let views: [(route: String, path: String, then: (String, JSONValue))] = [
            ("/v1/verifications/{id}", "/v1/verifications/\(id)", ("status", "approved")),
            ("/v1/orders/{id}", "/v1/orders/\(id)", ("status", "COMPLETE")),
            ("/v1/customer_verifications/{id}", "/v1/customer_verifications/\(id)", ("data", "verified")),
            ("/v1/validations/{id}", "/v1/validations/\(id)", ("status", "approved")),
            ("/v1/entities/{entity_id}/validations/current", "/v1/entities/cus_as_of/validations/current", ("id", .string(id))),
            ("/v1/entities/{entity_id}/kyc-status", "/v1/entities/cus_as_of/kyc-status", ("verified", true)),
            ("/v1/identity/verification_reports/{id}", "/v1/identity/verification_reports/\(report)", ("id", .string(report))),
        ]
        let document = try get("/openapi.json")
        let declared = (document["paths"]?.objectValue ?? []).filter { _, operations in
            (operations["get"]?["parameters"]?.arrayValue ?? []).contains { $0["name"] == "as_of" }
        }.map(\.0)
        XCTAssertEqual(Set(declared), Set(views.map(\.route)), "every view route that accepts as_of is tested here, and only those")

        for (route, path, (field, value)) in views {
            let now = try client.get(path, headers: auth)
            let folded = try client.get(path + "?as_of=\(Timestamp.rfc3339(changedAt))", headers: auth)
            XCTAssertEqual(folded.status, now.status, route)
            XCTAssertEqual(folded.json, now.json, "\(route): folded up to the last event, the view is the one now")

            let then = try get(path + "?as_of=\(Timestamp.rfc3339(approvedThen))")
            let shown = field == "data" ? then["data"]?["status"] : then[field]
            XCTAssertEqual(shown, value, "\(route) as it was before the change")

            let before = try client.get(path + "?as_of=\(Timestamp.rfc3339(createdAt.addingTimeInterval(-1)))", headers: auth)
            XCTAssertEqual(before.status, 404, "\(route) before the first event: \(before.text)")
        }
        XCTAssertEqual(try get("/v1/verifications/\(id)")["status"], "declined", "the change is in the views now")
        XCTAssertEqual(try get("/v1/entities/cus_as_of/validations/current")["status"], "rejected")
        XCTAssertEqual(try get("/v1/entities/cus_as_of/kyc-status")["verified"], false)
    }
}
