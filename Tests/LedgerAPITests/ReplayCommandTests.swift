import Foundation
import LedgerCLI
import LedgerTestSupport
import XCTest

/// `ledger replay` as an operator runs it: exit statuses and what it leaves behind.
final class ReplayCommandTests: XCTestCase {
    func testCheckExitsOneOnAHandCorruptedRowAndReplayRepairsIt() throws {
        let database = try makeDatabase()
        let acme = try TestOrganization(database: database)
        let server = try TestServer(database: database)
        defer { server.stop() }
        let created = try TestClient(baseURL: server.baseURL).post("/v1/verifications", json: ["entity_id": "cus_1", "checks": ["email"]],
                                                                   headers: .bearer(acme.writeKey))
        XCTAssertEqual(created.status, 201, created.text)
        let id = try XCTUnwrap(created.json?["id"]?.stringValue)
        let environment = ["DATABASE_URL": database.conninfo]
        func replay(_ arguments: String...) -> Int32 { LedgerCommandLine.run(["ledger", "replay"] + arguments, environment: environment) }
        func migrate() -> Int32 { LedgerCommandLine.run(["ledger", "migrate"], environment: environment) }

        XCTAssertEqual(replay("--check"), 0)
        let owner = try database.ownerConnection()
        try owner.query("UPDATE ledger.verifications SET entity_id = 'cus_2' WHERE id = $1", [id])
        XCTAssertEqual(replay("--check"), 1)
        XCTAssertEqual(replay("--check", "--projection", "orders", "--projection", "verification_deadlines"), 0,
                       "only the projections named are checked")
        XCTAssertEqual(replay("--check", "--projection", "nonsense"), 2)
        XCTAssertEqual(replay(), 0)
        XCTAssertEqual(replay("--check"), 0)
        XCTAssertEqual(try owner.query("SELECT entity_id FROM ledger.verifications WHERE id = $1", [id]).string(0, 0), "cus_1")

        // `ledger migrate` (as every command that migrates) rebuilds a projection whose version was raised.
        try owner.query("UPDATE ledger.projection_versions SET version = 0 WHERE name = 'verifications'")
        try owner.query("UPDATE ledger.verifications SET status = 'approved' WHERE id = $1", [id])
        XCTAssertEqual(migrate(), 0)
        XCTAssertEqual(try owner.query("SELECT status FROM ledger.verifications WHERE id = $1", [id]).string(0, 0), "created")
        XCTAssertEqual(try owner.query("SELECT version FROM ledger.projection_versions WHERE name = 'verifications'").int(0, 0), 1)
    }
}
