import Foundation
import LedgerAPI
import LedgerDomain
import LedgerStorage
import LedgerTestSupport
import XCTest

/// Every route that takes a key (read from the router, so a new route is covered without touching this test)
/// × every kind of caller that must not reach acme's test-mode objects: another organization's key, acme's
/// live key, a key without the route's scope, a revoked key, no key.
///
/// An object of another tenant must be answered exactly as an object that exists nowhere (same status, same
/// body once the ids are set aside), so nothing tells a caller what exists elsewhere.
final class IsolationMatrixTests: XCTestCase, ServiceTestCase {
    var service: ServiceFixture!
    var globex: TestOrganization!
    var acmeData: TenantData!
    var deliveryID = ""

    override func setUpWithError() throws {
        try startService(api: APIConfiguration(authCacheSeconds: 0, logRequests: false, allowPrivateWebhooks: true))
        globex = try TestOrganization(database: database, name: "Globex")
        acmeData = try TenantData(client: client, adminKey: acme.adminKey, label: "acme")
        _ = try TenantData(client: client, adminKey: globex.adminKey, label: "globex")
        let deliveries = try client.get("/v1/webhook_deliveries", headers: .bearer(acme.adminKey))
        deliveryID = deliveries.json?["data"]?.arrayValue?.first?["id"]?.stringValue ?? ""
        XCTAssertFalse(deliveryID.isEmpty, deliveries.text)
    }

    struct Route {
        let method: String
        let template: String
        let scope: Scope
    }

    func protectedRoutes() -> [Route] {
        LedgerApplication(pool: database.pool(size: 1), schemaVersion: 0).routeScopes.compactMap { route in
            route.scope.map { Route(method: route.method, template: route.template, scope: $0) }
        }
    }

    /// Acme's own object for each path parameter of `template`.
    func acmeIDs(_ template: String) throws -> [String: String] {
        var ids = acmeData.pathParameters
        let resource = template.split(separator: "/").dropFirst().first.map(String.init) ?? ""
        switch resource {
        case "verifications", "orders", "customer_verifications", "validations": ids["id"] = acmeData.verificationID
        case "identity": ids["id"] = StripeReportView.reportID(verificationID: acmeData.verificationID, key: "a1")
        case "entities": ids["entity_id"] = acmeData.entityID
        case "api_keys": ids["id"] = acmeData.apiKeyID
        case "webhook_endpoints": ids["id"] = acmeData.endpointID
        case "webhook_deliveries": ids["id"] = deliveryID
        case "rescoring_runs": ids["id"] = acmeData.rescoringRunID
        default:
            if template.contains("{id}") {
                XCTFail("\(template): the isolation matrix needs one of acme's \(resource) for {id} (TenantData)")
            }
        }
        // Only the route's own: a short value (a version, 1) would otherwise be normalized out of every answer.
        return ids.filter { template.contains("{\($0.key)}") }
    }

    /// Ids of the same shapes that exist nowhere.
    func nowhereIDs(like ids: [String: String]) -> [String: String] {
        ids.mapValues { id in
            guard let separator = id.firstIndex(of: "_") else { return String(repeating: "0", count: id.count) }
            return String(id[...separator]) + String(repeating: "0", count: id.distance(from: separator, to: id.endIndex) - 1)
        }
    }

    func path(_ template: String, _ ids: [String: String]) -> String {
        ids.reduce(template) { $0.replacingOccurrences(of: "{\($1.key)}", with: $1.value) }
    }

    func call(_ route: Route, _ ids: [String: String], key: String?) throws -> TestResponse {
        let headers: [String: String] = key.map { .bearer($0) } ?? [:]
        if route.method == "GET" || route.method == "DELETE" {
            return try client.request(route.method, path(route.template, ids), headers: headers)
        }
        return try client.request(route.method, path(route.template, ids), headers: headers.merging(["Content-Type": "application/json"]) { $1 },
                                  body: Data("{}".utf8))
    }

    /// The body with the ids asked for taken out, for comparing an answer about acme's object with one about nothing.
    func normalized(_ response: TestResponse, _ ids: [String: String]) -> String {
        ids.values.reduce(response.text) { $0.replacingOccurrences(of: $1, with: "{id}") }
    }

    /// What must never appear in an answer to a caller outside acme's test mode.
    var acmeMarkers: [String] {
        [acmeData.verificationID, acmeData.attemptID, acmeData.endpointID, acmeData.apiKeyID, deliveryID, "cus_acme", "ref-acme"]
    }

    /// `asked`: the ids in the path, which an error message may repeat.
    func assertNothingOfAcme(_ response: TestResponse, asked: [String: String] = [:], _ label: String) {
        let text = normalized(response, asked)
        for marker in acmeMarkers where !marker.isEmpty {
            XCTAssertFalse(text.contains(marker), "\(label) shows \(marker): \(response.text)")
        }
    }

    func testOtherTenantsAndTheOtherModeSeeNothingAndLearnNothing() throws {
        let outsiders = [("another organization", globex.adminKey), ("acme's live key", acme.liveAdminKey)]
        var covered = 0
        for route in protectedRoutes() {
            let ids = try acmeIDs(route.template)
            for (who, key) in outsiders {
                let label = "\(route.method) \(route.template) with \(who)"
                guard route.template.contains("{") else {
                    assertNothingOfAcme(try call(route, [:], key: key), label)
                    continue
                }
                let nowhere = nowhereIDs(like: ids)
                let aboutAcme = try call(route, ids, key: key)
                let aboutNothing = try call(route, nowhere, key: key)
                XCTAssertFalse((200..<300).contains(aboutAcme.status), "\(label): \(aboutAcme.status) \(aboutAcme.text)")
                XCTAssertNotEqual(aboutAcme.status, 403, label)
                XCTAssertEqual(aboutAcme.status, aboutNothing.status, "\(label): acme's object answers unlike one that does not exist")
                XCTAssertEqual(normalized(aboutAcme, ids), normalized(aboutNothing, nowhere), label)
                assertNothingOfAcme(aboutAcme, asked: ids, label)
                covered += 1
            }
        }
        XCTAssertGreaterThanOrEqual(covered, 30, "routes with ids × two outsiders")
        // Acme's objects are all still there and unchanged.
        let own = try client.get("/v1/verifications/\(acmeData.verificationID)", headers: .bearer(acme.readKey))
        XCTAssertEqual(own.status, 200)
        XCTAssertEqual(own.json?["status"], "approved")
        XCTAssertEqual(try client.get("/v1/webhook_endpoints/\(acmeData.endpointID)", headers: .bearer(acme.readKey)).json?["enabled"], true)
        XCTAssertNil(try client.get("/v1/api_keys/\(acmeData.apiKeyID)", headers: .bearer(acme.adminKey)).json?["revoked_at"]?.stringValue)
    }

    func testAKeyWithoutTheScopeARevokedKeyAndNoKeyAreRefusedBeforeAnythingIsLookedUp() throws {
        let owner = try database.ownerConnection()
        var lacking: [Scope: String] = [:]
        for scope in Scope.allCases {
            lacking[scope] = try AccessStore.createKey(owner, organizationID: acme.id, livemode: false,
                                                       scopes: Set(Scope.allCases).subtracting([scope])).secret
        }
        let revoked = try AccessStore.createKey(owner, organizationID: acme.id, livemode: false, scopes: Set(Scope.allCases))
        _ = try AccessStore.revokeKey(owner, organizationID: acme.id, id: revoked.record.id, reason: "isolation matrix")

        let routes = protectedRoutes()
        XCTAssertGreaterThanOrEqual(routes.count, 20)
        for route in routes {
            let ids = try acmeIDs(route.template)
            let callers: [(String, String?, Int, String)] = [
                ("a key without \(route.scope.rawValue)", lacking[route.scope], 403, "insufficient_scope"),
                ("a revoked key", revoked.secret, 401, "api_key_invalid"),
                ("no key", nil, 401, "api_key_missing"),
            ]
            for (who, key, status, code) in callers {
                let label = "\(route.method) \(route.template) with \(who)"
                for candidate in [ids, nowhereIDs(like: ids)] {
                    let response = try call(route, candidate, key: key)
                    XCTAssertEqual(response.status, status, "\(label): \(response.text)")
                    XCTAssertEqual(response.json?["error"]?["code"]?.stringValue, code, label)
                    assertNothingOfAcme(response, asked: candidate, label)
                }
            }
        }
    }
}
