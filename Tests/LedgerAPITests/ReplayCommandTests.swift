import Foundation
import LedgerCLI
import LedgerDomain
import LedgerEngine
import LedgerStorage
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
        let environment = ["DATABASE_URL": database.conninfo, "LEDGER_KEK": TestKeyEncryptionKey.base64]
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
        XCTAssertEqual(try owner.query("SELECT version FROM ledger.projection_versions WHERE name = 'verifications'").int(0, 0), 2)
    }

    /// The real binary, killed with SIGKILL in its bulk pass: the live tables are untouched, and the next run
    /// continues from the checkpoint and swaps; a run for other projections starts clean and says so.
    func testAReplayKilledMidWayIsContinuedByTheNextAndNeverSwapsAHalfBuiltTable() throws {
        let database = try makeDatabase()
        let organizationID = try TestOrganization(database: database).id
        let engine = CommandEngine(pool: database.pool(size: 2), stateCacheSize: 0)
        let owner = try database.ownerConnection()
        let now = Date(timeIntervalSince1970: 1_790_000_000), actor = EventMetadata(actorID: "test", actorType: .system)
        // 150 verifications of 21 events each.
        for index in 0..<150 {
            let id = String(format: "ver_%03d", index)
            try engine.execute(CommandRequest(organizationID: organizationID, livemode: false, streamID: id,
                                              command: .invite(Invitation(entityID: "cus_1", checks: [.email], expiresAt: now.addingTimeInterval(86_400))),
                                              actor: actor, now: now))
            let changes = (0..<20).map { n in
                let event = VerificationEvent.metadataUpdated(changes: ["n": String(n)])
                return NewEvent(id: UUID(), type: event.type, schemaVersion: event.schemaVersion, data: event.data, occurredAt: now)
            }
            try EventStore.append(owner, organizationID: organizationID, streamID: id, expectedVersion: .exact(1), events: changes, metadata: actor)
        }
        // The read models are at version 1 of each stream: every row differs from what the log makes.
        var environment = ProcessInfo.processInfo.environment
        environment["DATABASE_URL"] = database.conninfo
        environment["LEDGER_REPLAY_PAGE_EVENTS"] = "7"
        let binary = try ledgerExecutable()
        func checkpoint() throws -> (phase: String, events: Int64)? {
            let rows = try owner.query("SELECT phase, events_folded FROM ledger.replay_checkpoint")
            guard rows.count == 1, let phase = rows.string(0, 0), let events = rows.int64(0, 1) else { return nil }
            return (phase, events)
        }
        func liveVersions() throws -> [Int64] {
            let rows = try owner.query("SELECT DISTINCT version FROM ledger.verifications ORDER BY 1")
            return (0..<rows.count).compactMap { rows.int64($0, 0) }
        }

        func killMidWay(_ arguments: [String], leaving unchanged: () throws -> Void) throws -> Int64 {
            let replay = try ChildProcess.Running(binary, ["replay"] + arguments, environment: environment)
            stopWhenTheTestEnds(replay)
            XCTAssertTrue(eventually(timeout: 60, interval: 0.002) { ((try? checkpoint())?.events ?? 0) > 0 }, replay.outputSoFar)
            replay.signal(SIGKILL)
            XCTAssertEqual(replay.wait().status, 128 + SIGKILL)
            let kept = try XCTUnwrap(try checkpoint(), "killed mid-way: the checkpoint is still there")
            XCTAssertEqual(kept.phase, "bulk")
            XCTAssertLessThan(kept.events, 150 * 21)
            try unchanged()
            return kept.events
        }

        XCTAssertEqual(try liveVersions(), [1])
        let folded = try killMidWay([]) { XCTAssertEqual(try liveVersions(), [1], "nothing was swapped in") }
        let resumed = try ChildProcess.Running(binary, ["replay"], environment: environment)
        stopWhenTheTestEnds(resumed)
        let outcome = resumed.wait()
        XCTAssertEqual(outcome.status, 0, outcome.output)
        XCTAssertTrue(outcome.output.contains("continuing the replay begun at"), outcome.output)
        let said = outcome.output.components(separatedBy: "\n").first { $0.contains("continuing the replay") } ?? ""
        XCTAssertTrue(said.contains(": \(folded) events of \(150 * 21) folded"), "it goes on from where the killed run got: \(said)")
        XCTAssertEqual(try liveVersions(), [21], "the finished rebuild was swapped in")
        XCTAssertNil(try checkpoint())

        // Killed while rebuilding one projection, then run for all: the checkpoint is not theirs.
        try owner.query("UPDATE ledger.verification_deadlines SET due_at = '2000-01-01T00:00:00Z'")
        func dueDates() throws -> [String] {
            let rows = try owner.query("SELECT DISTINCT to_char(due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') FROM ledger.verification_deadlines")
            return (0..<rows.count).compactMap { rows.string($0, 0) }
        }
        _ = try killMidWay(["--projection", "verification_deadlines"]) {
            XCTAssertEqual(try dueDates(), ["2000-01-01"], "nothing was swapped in")
        }
        let clean = try ChildProcess.Running(binary, ["replay"], environment: environment)
        stopWhenTheTestEnds(clean)
        let cleanOutcome = clean.wait()
        XCTAssertEqual(cleanOutcome.status, 0, cleanOutcome.output)
        XCTAssertTrue(cleanOutcome.output.contains("starting clean: the unfinished replay's checkpoint was for other projections"),
                      cleanOutcome.output)
        XCTAssertEqual(try dueDates(), ["2026-09-22"], "the deadlines were rebuilt by the run that started clean")
        XCTAssertEqual(try ChildProcess.Running(binary, ["replay", "--check"], environment: environment).wait().status, 0)
    }
}
