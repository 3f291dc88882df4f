import Foundation
import LedgerAPI
import LedgerDomain
import LedgerStorage
import LedgerTestSupport
import XCTest

/// Responses carry the security headers, and unauthenticated callers cannot grow `/metrics`.
final class SecurityHeadersAndMetricsTests: XCTestCase, ServiceTestCase {
    var service: ServiceFixture!

    override func setUpWithError() throws {
        try startService()
    }

    /// Anyone may send these, without a key: each would otherwise become a label value of its own.
    func testMadeUpMethodsAndPathsAddNoLabelValues() throws {
        for index in 0..<20 {
            _ = try client.request("BREW\(index)", "/v1/organization")
            _ = try client.request("TRACE", "/made/up/\(index)")
            _ = try client.get("/made/up/\(index)")
            _ = try client.get("/v1/verifications/ver_\(index)")
        }
        let metrics = try client.get("/metrics").text
        let methods = Set(labelValues("method", in: metrics))
        // A made-up method is routed (405 with Allow) and counted as "other".
        XCTAssertTrue(methods.isSubset(of: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT", "other"]), "\(methods)")
        let routes = Set(labelValues("route", in: metrics))
        XCTAssertEqual(routes, ["unmatched", "/v1/verifications/{id}"], "\(routes)")
    }

    func testEveryResponseSaysNosniffAndAuthenticatedOnesAreNotStored() throws {
        let acme = try TestOrganization(database: database)
        let responses = [
            try client.get("/healthz"),
            try client.get("/openapi.json"),
            try client.get("/no/such/route"),
            try client.get("/v1/organization"),
            try client.get("/v1/organization", headers: .bearer(acme.readKey)),
            try client.post("/v1/api_keys", json: ["scopes": ["read"]], headers: .bearer(acme.adminKey)),
        ]
        for response in responses {
            XCTAssertEqual(response.header("X-Content-Type-Options"), "nosniff", "status \(response.status)")
            XCTAssertNil(response.header("Server"), "status \(response.status)")
            XCTAssertNil(response.header("X-Powered-By"))
        }
        for response in responses[3...5] {
            XCTAssertEqual(response.header("Cache-Control"), "no-store", "status \(response.status)")
        }
        // Refused by the HTTP engine before any handler runs.
        let raw = try RawConnection(port: server.port)
        raw.send(Array("POST /v1/verifications HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n".utf8))
        let tooLarge = raw.receive()
        XCTAssertTrue(tooLarge.hasPrefix("HTTP/1.1 413"), tooLarge)
        XCTAssertTrue(tooLarge.lowercased().contains("x-content-type-options: nosniff"), tooLarge)
    }

    private func labelValues(_ label: String, in metrics: String) -> [String] {
        metrics.split(separator: "\n").filter { $0.hasPrefix("ledger_http_") }.compactMap { line -> String? in
            guard let start = line.range(of: "\(label)=\"") else { return nil }
            return line[start.upperBound...].split(separator: "\"", maxSplits: 1).first.map(String.init)
        }
    }
}
