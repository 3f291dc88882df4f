import Foundation
import LedgerAPI
import LedgerDomain
import LedgerStorage
import LedgerTestSupport
import XCTest

/// What the declarations promise, checked against the document they make and the server that runs them.
final class DeclaredContractTests: XCTestCase {
    var database: TestDatabase!
    var server: TestServer!
    var client: TestClient!
    var auth: [String: String] = [:]
    var document: JSONValue = .null

    override func setUpWithError() throws {
        database = try makeDatabase()
        server = try TestServer(database: database)
        client = TestClient(baseURL: server.baseURL)
        auth = .bearer(try TestOrganization(database: database).adminKey)
        document = try JSONValue.parse(LedgerApplication.openAPIDocument, maxDepth: 512)
    }

    override func tearDown() { server?.stop() }

    func testEveryOperationListsTheFailuresThePipelineAnswersWith() throws {
        var checked = 0
        for (path, methods) in document["paths"]?.objectValue ?? [] {
            for (method, operation) in methods.objectValue ?? [] {
                let label = "\(method.uppercased()) \(path)"
                let statuses = Set((operation["responses"]?.objectValue ?? []).map(\.0))
                var expected: Set<String> = ["400", "414", "431"]
                if operation["security"]?.arrayValue?.isEmpty != true { expected.formUnion(["401", "403", "429", "503"]) }
                if path.contains("{") { expected.insert("404") }
                if operation["requestBody"] != nil { expected.formUnion(["413", "415"]) }
                let names = (operation["parameters"]?.arrayValue ?? []).compactMap { $0["$ref"]?.stringValue }
                if names.contains("#/components/parameters/IdempotencyKey") { expected.formUnion(["409", "422"]) }
                XCTAssertEqual(expected.subtracting(statuses).sorted(), [], "\(label) does not list every status it can answer with")
                XCTAssertTrue(statuses.contains { $0.hasPrefix("2") }, "\(label) has no success")
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 30)
    }

    /// A pattern that does not compile would refuse every value (Schema matches nothing with it).
    func testEveryPatternInTheDocumentCompiles() throws {
        var patterns: [String] = []
        func walk(_ value: JSONValue) {
            switch value {
            case let .object(members):
                for (key, member) in members {
                    if key == "pattern", let text = member.stringValue { patterns.append(text) } else { walk(member) }
                }
            case let .array(elements): elements.forEach(walk)
            default: break
            }
        }
        walk(document)
        XCTAssertGreaterThan(patterns.count, 10)
        for pattern in Set(patterns) { XCTAssertNoThrow(try NSRegularExpression(pattern: pattern), pattern) }
    }

    /// Checks a body against a schema of the document with the jsonschema library (openapi-spec-validator's).
    func assertMatches(_ body: Data, schema name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let directory = NSTemporaryDirectory() + "ledger-contract-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Data(LedgerApplication.openAPIDocument.utf8).write(to: URL(fileURLWithPath: directory + "/openapi.json"))
        try body.write(to: URL(fileURLWithPath: directory + "/body.json"))
        let outcome = try ChildProcess.run("python3", ["-c", """
            import json, sys, jsonschema
            document = json.load(open(sys.argv[1]))
            schema = {"$ref": "#/components/schemas/" + sys.argv[3], "components": document["components"]}
            jsonschema.validate(json.load(open(sys.argv[2])), schema, cls=jsonschema.Draft202012Validator)
            print("matches")
            """, directory + "/openapi.json", directory + "/body.json", name])
        XCTAssertTrue(outcome.output.contains("matches"), outcome.output, file: file, line: line)
    }

    /// A replayed creation has its secret redacted to null (found by the fuzzer: the document said a string).
    func testAReplayedKeyCreationMatchesTheDocumentedObject() throws {
        let headers = auth.merging(["Idempotency-Key": "contract-replay"]) { $1 }
        let first = try client.post("/v1/api_keys", json: ["scopes": ["read"]], headers: headers)
        let replay = try client.post("/v1/api_keys", json: ["scopes": ["read"]], headers: headers)
        XCTAssertEqual(replay.status, 201, replay.text)
        XCTAssertEqual(replay.header("Secret-Redacted"), "true")
        XCTAssertEqual(replay.json?["secret"], .null)
        try assertMatches(first.body, schema: "ApiKeyWithSecret")
        try assertMatches(replay.body, schema: "ApiKeyWithSecret")
    }

    func testIfMatchStarMeansAnyVersion() throws {
        let created = try client.post("/v1/verifications", json: ["entity_id": "cus_1", "checks": ["document"]], headers: auth)
        XCTAssertEqual(created.status, 201, created.text)
        let id = created.json?["id"]?.stringValue ?? ""
        let withdrawn = try client.post("/v1/verifications/\(id)/withdraw", json: [:], headers: auth.merging(["If-Match": "*"]) { $1 })
        XCTAssertEqual(withdrawn.status, 200, withdrawn.text)
        XCTAssertEqual(withdrawn.json?["status"], "withdrawn")
    }

    /// The pattern the document gives If-Match takes exactly the versions the server reads (0 to Int64.max).
    func testTheIfMatchPatternTakesExactlyTheVersionsTheServerReads() throws {
        guard let pattern = document["components"]?["parameters"]?["IfMatch"]?["schema"]?["pattern"]?.stringValue else {
            return XCTFail("no If-Match pattern")
        }
        func matches(_ text: String) -> Bool { text.range(of: pattern, options: .regularExpression) != nil }
        var random = SplitMix64(seed: 7)
        for _ in 0..<2_000 {
            let version = Int64.random(in: 0...Int64.max, using: &random)
            XCTAssertTrue(matches(String(version)) && matches("\"\(version)\"") && matches("W/\"\(version)\""), String(version))
        }
        for text in ["0", "9", "10", String(Int64.max), "*"] { XCTAssertTrue(matches(text), text) }
        for text in ["9223372036854775808", "9300000000000000000", "99999999999999999999", "-1", "+1", "\"\"", "W/", "**", "1 2"] {
            XCTAssertFalse(matches(text), text)
        }
    }

    func testAnEmptyTextFilterDoesNotFilterAndAnEmptyChoiceIsRefused() throws {
        for entity in ["cus_1", "cus_2"] {
            XCTAssertEqual(try client.post("/v1/verifications", json: ["entity_id": .string(entity), "checks": ["document"]], headers: auth).status, 201)
        }
        let unfiltered = try client.get("/v1/verifications?client_reference_id=&entity_id=&starting_after=", headers: auth)
        XCTAssertEqual(unfiltered.status, 200, unfiltered.text)
        XCTAssertEqual(unfiltered.json?["data"]?.arrayValue?.count, 2)
        let refused = try client.get("/v1/verifications?status=", headers: auth)
        XCTAssertEqual(refused.status, 400, refused.text)
        XCTAssertEqual(refused.json?["error"]?["param"], "status")
    }

    func testAQueryParameterNotDeclaredOrGivenTwiceIsRefused() throws {
        let unknown = try client.get("/v1/verifications?colour=red", headers: auth)
        XCTAssertEqual(unknown.status, 400, unknown.text)
        XCTAssertEqual(unknown.json?["error"]?["code"], "parameter_unknown")
        let twice = try client.get("/v1/verifications?limit=1&limit=2", headers: auth)
        XCTAssertEqual(twice.status, 400, twice.text)
        XCTAssertEqual(twice.json?["error"]?["code"], "parameter_duplicate")
        XCTAssertEqual(twice.json?["error"]?["param"], "limit")
    }
}
