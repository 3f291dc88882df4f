import Foundation
import LedgerAPI
import LedgerDomain
import LedgerStorage
import LedgerTestSupport
import XCTest

final class OpenAPIAndMetricsTests: XCTestCase, ServiceTestCase {
    var service: ServiceFixture!

    override func setUpWithError() throws {
        try startService()
    }

    func python(_ script: String, _ arguments: [String]) throws -> ChildProcess.Outcome {
        try ChildProcess.run("python3", ["-c", script] + arguments)
    }

    func temporaryFile(_ data: Data) throws -> String {
        let path = NSTemporaryDirectory() + "ledger-\(UUID().uuidString)"
        try data.write(to: URL(fileURLWithPath: path))
        addTeardownBlock { unlink(path) }
        return path
    }

    /// `openapi.json` at the top of the repository is what the declarations make: regenerate it with
    /// `swift run ledger openapi > openapi.json` when this fails.
    func testTheCommittedDocumentIsTheOneTheDeclarationsMake() throws {
        let committed = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("openapi.json")
        let text = try String(contentsOf: committed, encoding: .utf8)
        XCTAssertTrue(text == LedgerApplication.openAPIDocument,
                      "openapi.json is out of date: run `swift run ledger openapi > openapi.json`")
        let served = try client.get("/openapi.json")
        XCTAssertEqual(served.status, 200)
        XCTAssertEqual(String(decoding: served.body, as: UTF8.self), LedgerApplication.openAPIDocument)
    }

    func testTheDocumentIsValidOpenAPI31() throws {
        let document = try client.get("/openapi.json").body
        let outcome = try python("""
            import json, sys
            from openapi_spec_validator import validate
            from openapi_spec_validator.validation import OpenAPIV31SpecValidator
            spec = json.load(open(sys.argv[1]))
            assert spec["openapi"].startswith("3.1"), spec["openapi"]
            validate(spec, cls=OpenAPIV31SpecValidator)
            print("valid")
            """, [try temporaryFile(document)])
        XCTAssertEqual(outcome.status, 0, outcome.output)
        XCTAssertTrue(outcome.output.contains("valid"), outcome.output)
    }

    func testMetricsParseAsPrometheusTextAndCountRequests() throws {
        let acme = try TestOrganization(database: database)
        for _ in 0..<3 { XCTAssertEqual(try client.get("/v1/organization", headers: .bearer(acme.readKey)).status, 200) }
        XCTAssertEqual(try client.get("/v1/organization").status, 401)
        XCTAssertEqual(try client.get("/no/such/route").status, 404)
        for invented in ["FOO", "QUERY"] {
            let refused = try client.request(invented, "/v1/organization", headers: .bearer(acme.readKey))
            XCTAssertEqual(refused.status, 405, "\(invented): \(refused.text)")
            XCTAssertEqual(refused.header("Allow"), "GET", invented)
        }
        let metrics = try client.get("/metrics")
        XCTAssertEqual(metrics.status, 200)
        XCTAssertTrue(metrics.header("Content-Type")?.hasPrefix("text/plain") == true)
        let outcome = try python("""
            import sys
            from prometheus_client.parser import text_string_to_metric_families
            samples = {}
            for family in text_string_to_metric_families(open(sys.argv[1]).read()):
                for s in family.samples:
                    samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
            def get(name, **labels):
                return samples.get((name, tuple(sorted(labels.items()))))
            assert get("ledger_http_requests_total", method="GET", route="/v1/organization", status="200") == 3.0, samples
            assert get("ledger_http_requests_total", method="GET", route="/v1/organization", status="401") == 1.0
            assert get("ledger_http_requests_total", method="GET", route="unmatched", status="404") == 1.0
            assert get("ledger_http_requests_total", method="other", route="unmatched", status="405") == 2.0, samples
            assert not any(s[1] and ("method", "FOO") in s[1] for s in samples), "an invented method is not a label value"
            assert get("ledger_http_request_duration_seconds_count", route="/v1/organization") == 4.0
            assert get("ledger_http_request_duration_seconds_bucket", route="/v1/organization", le="+Inf") == 4.0
            assert get("ledger_db_pool_size") == 8.0
            assert get("ledger_db_pool_connections", state="in_use") is not None
            assert get("ledger_db_pool_waiting") == 0.0
            assert get("ledger_events_appended_total") is not None
            assert get("process_resident_memory_bytes") > 1e6
            print("parsed", len(samples))
            """, [try temporaryFile(metrics.body)])
        XCTAssertEqual(outcome.status, 0, outcome.output)
        XCTAssertTrue(outcome.output.contains("parsed"), outcome.output)
    }
}
