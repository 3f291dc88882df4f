import Foundation
import LedgerAPI
import LedgerDomain
import LedgerTestSupport
import XCTest

final class RulesetTests: XCTestCase, ServiceTestCase {
    var service: ServiceFixture!

    override func setUpWithError() throws { try startService() }

    func post(_ body: JSONValue, key: String? = nil, expect status: Int, file: StaticString = #filePath, line: UInt = #line) throws -> JSONValue {
        let response = try client.post("/v1/rulesets", json: body, headers: .bearer(key ?? acme.writeKey))
        XCTAssertEqual(response.status, status, response.text, file: file, line: line)
        return response.json ?? .null
    }


    let rules: JSONValue = ["band": ["if": [["==": [["var": "score"], "ID_VERIFIED"]], "low", "high"]], "flag": ["!!": [["var": "alert"]]]]

    func testVersionsAreImmutableAndHashedByContent() throws {
        let first = try post(["name": "risk", "description": "v1", "rules": rules], expect: 201)
        XCTAssertEqual(first["version"], 1)
        let hash = try XCTUnwrap(first["hash"]?.stringValue)
        XCTAssertTrue(hash.hasPrefix("sha256:") && hash.count == 71, hash)

        let reordered: JSONValue = ["flag": ["!!": [["var": "alert"]]], "band": ["if": [["==": [["var": "score"], "ID_VERIFIED"]], "low", "high"]]]
        let same = try post(["name": "risk", "description": "v1", "rules": reordered], expect: 200)
        XCTAssertEqual(same["version"], 1, "the same content (members in any order) is the same version")
        XCTAssertEqual(same["hash"]?.stringValue, hash)

        let second = try post(["name": "risk", "description": "v1", "rules": ["band": "low"]], expect: 201)
        XCTAssertEqual(second["version"], 2)
        XCTAssertNotEqual(second["hash"]?.stringValue, hash)
        XCTAssertEqual(try post(["name": "risk", "description": "v2", "rules": ["band": "low"]], expect: 201)["version"], 3,
                       "the description is content too")

        XCTAssertEqual(try get("/v1/rulesets/risk/versions/1").jsonString, first.jsonString, "version 1 reads as it was made")
        let latest = try get("/v1/rulesets/risk")
        XCTAssertEqual(latest["version"], 3)
        XCTAssertEqual(latest["versions"]?.arrayValue?.compactMap { $0["version"]?.intValue }, [3, 2, 1])
        XCTAssertEqual(try get("/v1/rulesets")["data"]?.arrayValue?.map { $0["version"] }, [3])
        for missing in ["4", "0", "x", "9999999999"] {
            XCTAssertEqual(try get("/v1/rulesets/risk/versions/\(missing)", expect: 404)["error"]?["param"], "version")
        }

        let owner = try database.ownerConnection()
        XCTAssertThrowsError(try owner.query("UPDATE ledger.ruleset_versions SET description = 'changed'"), "not even the owner may change a version")
        XCTAssertThrowsError(try owner.query("DELETE FROM ledger.ruleset_versions"))
    }

    func testABadRuleIsRefusedNamingItsPathAndNothingIsWritten() throws {
        let unknown = try post(["name": "risk", "rules": ["band": ["if": [true, ["nope": 1], 2]]]], expect: 400)["error"]
        XCTAssertEqual(unknown?["code"], "jsonlogic_error")
        XCTAssertEqual(unknown?["type"], "Unknown Operator")
        XCTAssertEqual(unknown?["param"], "rules.band.if[1]")
        XCTAssertEqual(try post(["name": "Risk Rules", "rules": rules], expect: 400)["error"]?["param"], "name")
        XCTAssertEqual(try post(["name": "risk", "rules": [:]], expect: 400)["error"]?["param"], "rules")
        XCTAssertEqual(try get("/v1/rulesets/risk", expect: 404)["error"]?["code"], "resource_missing")
        XCTAssertEqual(try database.ownerConnection().query("SELECT count(*) FROM ledger.ruleset_versions").int(0, 0), 0)
    }

    func testAnotherOrganizationsOrModesRulesetIsNotFound() throws {
        _ = try post(["name": "risk", "rules": rules], expect: 201)
        let other = try TestOrganization(database: database, name: "Other")
        XCTAssertEqual(try get("/v1/rulesets/risk", key: other.readKey, expect: 404)["error"]?["code"], "resource_missing")
        XCTAssertEqual(try get("/v1/rulesets/risk/versions/1", key: other.readKey, expect: 404)["error"]?["code"], "resource_missing")
        XCTAssertEqual(try get("/v1/rulesets", key: other.readKey)["data"], [])
        XCTAssertEqual(try get("/v1/rulesets/risk", key: acme.liveAdminKey, expect: 404)["error"]?["code"], "resource_missing")
        XCTAssertEqual(try post(["name": "risk", "rules": rules], key: other.adminKey, expect: 201)["version"], 1, "names are per organization")
    }
}
