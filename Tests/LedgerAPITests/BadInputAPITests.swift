import Foundation
import LedgerAPI
import LedgerDomain
import LedgerTestSupport
import XCTest

/// Every kind of bad input a read or write key can send gets a 4xx naming the parameter, and the service
/// answers `/healthz` afterwards.
final class BadInputAPITests: XCTestCase {
    var database: TestDatabase!
    var server: TestServer!
    var client: TestClient!
    var auth: [String: String] = [:]

    override func setUpWithError() throws {
        database = try makeDatabase()
        server = try TestServer(database: database)
        client = TestClient(baseURL: server.baseURL)
        auth = .bearer(try TestOrganization(database: database).adminKey)
    }

    override func tearDown() { server?.stop() }

    func assertRefused(_ response: TestResponse, param: JSONValue, code: JSONValue = "parameter_invalid",
                       file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(response.status, 400, response.text, file: file, line: line)
        XCTAssertEqual(response.json?["error"]?["code"], code, response.text, file: file, line: line)
        XCTAssertEqual(response.json?["error"]?["param"], param, response.text, file: file, line: line)
        XCTAssertEqual(try client.get("/healthz").status, 200, "the service still answers", file: file, line: line)
    }

    func postRaw(_ path: String, _ body: [UInt8], headers: [String: String] = [:]) throws -> TestResponse {
        try client.request("POST", path, headers: auth.merging(["Content-Type": "application/json"]) { $1 }.merging(headers) { $1 },
                           body: Data(body))
    }

    func invite(_ extra: String = "") -> [UInt8] {
        Array(#"{"entity_id":"cus_1","checks":["identity_verification"]\#(extra)}"#.utf8)
    }

    func testTimeFiltersOutsideTheRepresentableYearsAreRefused() throws {
        for name in ["created[gte]", "created[gt]", "created[lte]", "created[lt]"] {
            let encoded = name.replacingOccurrences(of: "[", with: "%5B").replacingOccurrences(of: "]", with: "%5D")
            for value in ["9223372036854775807", "-9223372036854775808", "253402300800", "-62135596801", "1e300",
                          "99999999999999999999", "99999-01-01T00:00:00Z", "0000-01-01T00:00:00Z", "2026-02-30T00:00:00Z"] {
                try assertRefused(try client.get("/v1/orders?\(encoded)=\(value)", headers: auth), param: .string(name))
            }
        }
        XCTAssertEqual(try client.get("/v1/orders?created%5Bgte%5D=253402300799&created%5Blt%5D=-62135596800", headers: auth).status, 200)
    }

    func testAsOfLimitAndIfMatchOutOfRangeAreRefused() throws {
        let created = try postRaw("/v1/verifications", invite())
        XCTAssertEqual(created.status, 201, created.text)
        let id = created.json?["id"]?.stringValue ?? ""
        for value in ["99999-01-01T00:00:00Z", "9999-12-31T23:59:60Z", "0000-12-31T23:59:59Z", "1e300"] {
            try assertRefused(try client.get("/v1/verifications/\(id)?as_of=\(value)", headers: auth), param: "as_of")
        }
        for value in ["99999999999999999999", "-9223372036854775809", "1e3", "-1", "0"] {
            try assertRefused(try client.get("/v1/verifications?limit=\(value)", headers: auth), param: "limit")
        }
        for value in ["99999999999999999999", "\"-1\"", "+1", "W/\"1e300\"", "1W/", "\"\""] {
            try assertRefused(try postRaw("/v1/verifications/\(id)/withdraw", [], headers: ["If-Match": value]), param: "If-Match")
        }
        let stale = try postRaw("/v1/verifications/\(id)/withdraw", [], headers: ["If-Match": "\"9223372036854775807\""])
        XCTAssertEqual(stale.status, 409, stale.text)
    }

    func testNumbersInBodiesOutsideTheirRangesAreRefused() throws {
        let id = try postRaw("/v1/verifications", invite()).json?["id"]?.stringValue ?? ""
        for value in ["1e300", "-1e300", "99999999999999999999", "-9223372036854775808", "9223372036854775807", "60.5"] {
            try assertRefused(try postRaw("/v1/verifications/\(id)/attempts", Array(#"{"expires_in":\#(value)}"#.utf8)), param: "expires_in")
        }
        for value in ["1e300", "99999999999999999999", "{\"code\":1e300}"] {
            let body = Array(#"{"check":"document","status":"approved","response_codes":[\#(value)]}"#.utf8)
            try assertRefused(try postRaw("/v1/verifications/\(id)/results", body), param: "response_codes[0]")
        }
        for value in ["99999-01-01T00:00:00Z", "9999-12-31T23:59:60Z"] {
            try assertRefused(try postRaw("/v1/verifications", invite(#","expires_at":"\#(value)""#)), param: "expires_at")
        }
        // The last representable millisecond is kept and written back as sent.
        let late = try postRaw("/v1/verifications", invite(#","expires_at":"9999-12-31T23:59:59.999Z""#))
        XCTAssertEqual(late.status, 201, late.text)
        XCTAssertEqual(late.json?["expires_at"], "9999-12-31T23:59:59.999Z")
        let lateID = late.json?["id"]?.stringValue ?? ""
        XCTAssertEqual(try client.get("/v1/verifications/\(lateID)", headers: auth).json?["expires_at"], "9999-12-31T23:59:59.999Z")
        XCTAssertEqual(try client.get("/v1/verifications/\(lateID)?as_of=9999-12-31T23:59:59.999Z", headers: auth).status, 200)
        XCTAssertEqual(try client.get("/v1/verifications?limit=100", headers: auth).json?["data"]?.arrayValue?.count, 2)
    }

    func testNULInABodyStringIsRefusedWithTheFieldsPath() throws {
        try assertRefused(try postRaw("/v1/verifications", invite(#","metadata":{"note":"a\u0000b"}"#)), param: "metadata.note")
        try assertRefused(try postRaw("/v1/verifications", invite(#","metadata":{"note":"a"#) + [0] + Array(#"b"}"#.utf8)),
                          param: "metadata.note")
        try assertRefused(try postRaw("/v1/verifications", invite(#","applicant":{"first_name":"\u0000"}"#)), param: "applicant.first_name")
        XCTAssertEqual(try client.get("/v1/verifications", headers: auth).json?["data"]?.arrayValue?.count, 0, "nothing was written")
    }

    func testInvalidUTF8InABodyStringIsRefusedNotStoredAsReplacementCharacters() throws {
        let body = invite(#","applicant":{"first_name":"Ad"#) + [0xE9] + Array(#"le"}"#.utf8)
        try assertRefused(try postRaw("/v1/verifications", body), param: "applicant.first_name")
        XCTAssertEqual(try client.get("/v1/verifications", headers: auth).json?["data"]?.arrayValue?.count, 0, "nothing was written")
    }

    func testNULOrInvalidUTF8InAQueryParameterIsRefusedNotCut() throws {
        try assertRefused(try client.get("/v1/verifications?entity_id=cus_1%00x", headers: auth), param: "entity_id")
        try assertRefused(try client.get("/v1/verifications?entity_id=cus_%FF", headers: auth), param: "entity_id")
        try assertRefused(try client.get("/v1/verifications/ver_1%00x", headers: auth), param: .null)
    }

    func testTenThousandKeyObjectsAreRefusedByTheirLimits() throws {
        let metadata = (0..<10_000).map { "\"k\($0)\":\"v\"" }.joined(separator: ",")
        try assertRefused(try postRaw("/v1/verifications", invite(",\"metadata\":{\(metadata)}")), param: "metadata")
        try assertRefused(try postRaw("/v1/verifications", invite(",\"metadata\":{\(metadata),\"one_more\":\"v\"}")), param: "metadata",
                          code: "body_too_many_elements")
        let unknown = (0..<9_000).map { "\"x\($0)\":1" }.joined(separator: ",")
        try assertRefused(try postRaw("/v1/verifications", invite(",\(unknown)")), param: "x0", code: "parameter_unknown")
        try assertRefused(try postRaw("/v1/verifications", invite(#","entity_id":"cus_2""#)), param: "entity_id", code: "parameter_duplicate")
    }
}
