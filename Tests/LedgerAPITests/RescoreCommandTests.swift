import Foundation
import LedgerCLI
import LedgerDomain
import LedgerEngine
import LedgerStorage
import LedgerTestSupport
import XCTest

/// `ledger rescore` as an operator runs it, and a run surviving the kill -9 of the process working it.
final class RescoreCommandTests: XCTestCase {
    var database: TestDatabase!
    var acme: TestOrganization!
    var pool: ConnectionPool!

    override func setUpWithError() throws {
        database = try makeDatabase()
        acme = try TestOrganization(database: database)
        pool = database.pool(size: 4)
    }

    /// `count` orders whose flow has ended, through the command path (each in one command), and ruleset `risk`
    /// whose `band` gives every one of them a new score.
    func seed(_ count: Int) throws {
        let engine = CommandEngine(pool: pool, stateCacheSize: 0, vault: try TestKeyEncryptionKey.vault())
        let now = Date()
        for index in 0..<count {
            let invitation = Invitation(entityID: "cus_\(index)", checks: [.identityVerification], applicant: Applicant(firstName: "Ada"),
                                        metadata: ["risk": String(index * 3 % 10)],
                                        expiresAt: now.addingTimeInterval(86_400))
            try engine.execute(CommandRequest(organizationID: acme.id, livemode: false, streamID: "ver_\(String(format: "%024d", index))", commands: [
                .invite(invitation), .startAttempt(attemptID: "att_\(index)", url: "https://capture.example/\(index)", expiresAt: now.addingTimeInterval(900)),
                .recordProgress(attemptID: "att_\(index)", status: .captureInProgress), .recordProgress(attemptID: "att_\(index)", status: .completed),
            ], actor: EventMetadata(actorID: "test", actorType: .system), now: now))
        }
        let ruleset = try RulesetStore.make(name: "risk", description: nil, rules: ["band": ["if": [[">": [["var": "metadata.risk"], 4]], "high", "low"]]])
        _ = try pool.transaction(scope: .tenant(organizationID: acme.id, livemode: false)) {
            try RulesetStore.create($0, organizationID: acme.id, livemode: false, ruleset, actor: "test", now: now)
        }
    }

    func environment(_ extra: [String: String] = [:]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["DATABASE_URL"] = database.conninfo
        // As deployed: the orders' personal data is sealed under the test key, which the command needs.
        environment["LEDGER_KEK"] = TestKeyEncryptionKey.base64
        environment["LEDGER_KEK_FILE"] = nil
        return environment.merging(extra) { $1 }
    }

    func testADryRunPrintsTheDiffAndApplyRecordsTheScores() throws {
        try seed(4)
        let dry = try ChildProcess.Running(try ledgerExecutable(), ["rescore", "--org", acme.id.uuidString, "--ruleset", "risk", "--version", "1", "--json"],
                                           environment: environment()).wait()
        XCTAssertEqual(dry.status, 0, dry.output)
        let run = try XCTUnwrap(dry.output.split(separator: "\n").last.flatMap { try? JSONValue.parse(String($0)) }, dry.output)
        XCTAssertEqual(run["orders_changed"], 4)
        XCTAssertEqual(run["diff"]?["scores"]?["band"]?.arrayValue?.count, 2)
        let owner = try database.ownerConnection()
        XCTAssertEqual(try owner.query("SELECT count(*) FROM ledger.events WHERE type = 'CustomScoreSet'").int(0, 0), 0, "a dry run records nothing")

        let applied = try ChildProcess.Running(try ledgerExecutable(), ["rescore", "--org", acme.id.uuidString, "--ruleset", "risk", "--version", "1",
                                                                        "--filter", "status=IN_PROGRESS", "--apply"], environment: environment()).wait()
        XCTAssertEqual(applied.status, 0, applied.output)
        XCTAssertTrue(applied.output.contains("apply applied"), applied.output)
        XCTAssertTrue(applied.output.contains("\"high\""), "the diff as a table: \(applied.output)")
        XCTAssertEqual(try owner.query("SELECT count(*) FROM ledger.events WHERE type = 'CustomScoreSet'").int(0, 0), 4)

        let bad = try ChildProcess.Running(try ledgerExecutable(), ["rescore", "--org", acme.id.uuidString, "--ruleset", "risk", "--version", "9"],
                                           environment: environment()).wait()
        XCTAssertEqual(bad.status, 2, bad.output)
    }

    func testARunKilledMidWayGoesOnFromItsCheckpoint() throws {
        let orders = 400
        try seed(orders)
        // One order per checkpoint, so that the process is killed between two of them.
        let worker = try ChildProcess.Running(try ledgerExecutable(), ["rescore", "--org", acme.id.uuidString, "--ruleset", "risk", "--version", "1"],
                                              environment: environment(["LEDGER_RESCORING_BATCH": "1"]))
        stopWhenTheTestEnds(worker, signal: SIGKILL)
        let owner = try database.ownerConnection()
        func evaluated() throws -> Int { try owner.query("SELECT coalesce(max(orders_evaluated), 0) FROM ledger.rescoring_runs").int(0, 0) ?? 0 }
        XCTAssertTrue(try eventually(timeout: 60) { try evaluated() >= 5 }, worker.outputSoFar)
        worker.signal(SIGKILL)
        _ = worker.wait()
        let left = try evaluated()
        XCTAssertLessThan(left, orders, "killed mid-run")
        let run = try owner.query("SELECT id, status FROM ledger.rescoring_runs")
        XCTAssertEqual(run.string(0, 1), "running")
        let id = try XCTUnwrap(run.string(0, 0))

        let resumed = try ChildProcess.Running(try ledgerExecutable(), ["rescore", "--org", acme.id.uuidString, "--resume", id, "--json"],
                                               environment: environment(["LEDGER_RESCORING_BATCH": "50"])).wait()
        XCTAssertEqual(resumed.status, 0, resumed.output)
        let counts = try owner.query("""
            SELECT r.status, r.orders_evaluated, r.orders_changed, (SELECT count(*) FROM ledger.rescoring_changes c WHERE c.run_id = r.id)
            FROM ledger.rescoring_runs r
            """)
        XCTAssertEqual(counts.string(0, 0), "completed")
        XCTAssertEqual(counts.int(0, 1), orders, "every order evaluated once: none twice, none skipped")
        XCTAssertEqual(counts.int(0, 2), orders)
        XCTAssertEqual(counts.int(0, 3), orders)
    }
}
