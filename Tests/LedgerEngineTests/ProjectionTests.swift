import Foundation
import LedgerDomain
@testable import LedgerEngine
import LedgerStorage
import LedgerTestSupport
import XCTest

/// Projections are values: what commands write inline, row by row as they go, is what the same projections
/// write from the folded log alone.
final class ProjectionTests: XCTestCase {
    /// SplitMix64, so that a failing history can be run again from its seed.
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9e37_79b9_7f4a_7c15
            var z = state
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }
    }

    func randomCommand(_ state: VerificationState, _ random: inout Generator, now: Date, serial: Int) -> VerificationCommand {
        let attempt = state.attempts.last?.id ?? "att_none"
        let check = state.checks.randomElement(using: &random)?.type ?? .document
        switch Int.random(in: 0..<13, using: &random) {
        case 0, 1: return .startAttempt(attemptID: "att_\(serial)", url: "https://capture.example/\(serial)", expiresAt: now.addingTimeInterval(900))
        case 2, 3: return .recordProgress(attemptID: attempt, status: AttemptStatus.allCases.randomElement(using: &random) ?? .completed)
        case 4, 5: return .recordResult(CheckResult(check: check, status: CheckStatus.allCases.randomElement(using: &random) ?? .approved))
        case 6: return .assignScore(OrderScore.allCases.randomElement(using: &random) ?? .reviewPass, reason: "review")
        case 7: return .setCustomScore(name: "risk", value: .string(["low", "high"].randomElement(using: &random) ?? "low"), reason: nil)
        case 8: return .openDispute(disputeID: "dsp_\(serial)", reason: "customer says so")
        case 9:
            return .resolveDispute(disputeID: state.disputes.last?.id ?? "dsp_none", outcome: DisputeOutcome.allCases.randomElement(using: &random) ?? .upheld,
                                   score: nil, reason: "looked again")
        case 10: return .updateMetadata(["step": String(serial)])
        case 11: return [VerificationCommand.expire, .expireAttempt, .withdraw(reason: nil)].randomElement(using: &random) ?? .expire
        default: return .override(OverrideStatus.allCases.randomElement(using: &random) ?? .approved, reason: "ops")
        }
    }

    /// The stream's rows in every inline projection's table.
    func snapshot(_ connection: PostgresConnection, _ organizationID: UUID, _ id: String) throws -> [String: String] {
        var tables: [String: String] = [:]
        for projection in Projections.inline {
            let rows = try connection.query("""
                SELECT coalesce(jsonb_agg(to_jsonb(t)), '[]')::text FROM ledger.\(projection.table.name) t
                WHERE t.organization_id = $1 AND t.id = $2
                """, [organizationID, id])
            tables[projection.name] = rows.string(0, 0)
        }
        return tables
    }

    /// The stream's rows as the projections write them from its folded log alone, into tables emptied of
    /// the stream's rows, in a transaction that is rolled back.
    func rebuilt(_ connection: PostgresConnection, _ organizationID: UUID, _ id: String) throws -> [String: String] {
        try connection.execute("BEGIN")
        defer { try? connection.execute("ROLLBACK") }
        for projection in Projections.inline {
            try connection.query("DELETE FROM ledger.\(projection.table.name) WHERE organization_id = $1 AND id = $2", [organizationID, id])
        }
        let folded = try XCTUnwrap(try VerificationStore.load(connection, organizationID: organizationID, id: id))
        try VerificationStore.project(connection, organizationID: organizationID, folded)
        return try snapshot(connection, organizationID, id)
    }

    /// After every command of every history, the rows the commands wrote (only what changed, command by
    /// command) are the rows rebuilt from the log.
    func testInlineRowsAreTheRowsRebuiltFromTheLogForRandomHistories() throws {
        let database = try makeDatabase()
        let organizationID = try TestOrganization(database: database).id
        let pool = database.pool(size: 2, commitThreads: 1)
        let engine = CommandEngine(pool: pool, stateCacheSize: 100)
        let owner = try database.ownerConnection()
        let actor = EventMetadata(actorID: "property", actorType: .system)
        var reachedOrders = 0, movedDeadlines = 0
        for seed in UInt64(1)...12 {
            var random = Generator(state: seed)
            var now = Date(timeIntervalSince1970: 1_790_000_000)
            let id = "ver_\(seed)", livemode = seed % 2 == 0
            let checks = Array(CheckType.allCases.shuffled(using: &random).prefix(Int.random(in: 1...3, using: &random)))
            var state = try engine.execute(CommandRequest(
                organizationID: organizationID, livemode: livemode, streamID: id,
                command: .invite(Invitation(entityID: "cus_\(seed % 3)", checks: checks, expiresAt: now.addingTimeInterval(86_400),
                                            livemode: livemode)),
                actor: actor, now: now)).verification.state
            for serial in 0..<30 {
                now = now.addingTimeInterval(Double(Int.random(in: 1...14_400, using: &random)))
                let command = randomCommand(state, &random, now: now, serial: serial)
                let before = DeadlinesProjection.deadline(state)
                do {
                    state = try engine.execute(CommandRequest(organizationID: organizationID, livemode: livemode, streamID: id,
                                                              command: command, actor: actor, now: now)).verification.state
                } catch CommandError.refused {
                    // Refusals are part of a history too: they write nothing.
                }
                if before != nil, let after = DeadlinesProjection.deadline(state), after != before { movedDeadlines += 1 }
                XCTAssertEqual(try snapshot(owner, organizationID, id), try rebuilt(owner, organizationID, id),
                               "history \(seed), after command \(serial) (\(command.name))")
            }
            if state.orderStatus != nil { reachedOrders += 1 }
        }
        XCTAssertGreaterThan(reachedOrders, 0, "some histories reach an order")
        XCTAssertGreaterThan(movedDeadlines, 0, "some commands move a deadline")
    }

    /// A deadline row is written when a command moves the deadline and goes once the verification ends,
    /// decided from the rows of the states before and after.
    func testOnlyRowsThatChangedAreWritten() {
        let organizationID = UUID()
        let start = Date(timeIntervalSince1970: 1_790_000_000)
        let invited = VerificationDecider.evolve(VerificationDecider.initialState,
                                                 .invited(Invitation(entityID: "cus_1", checks: [.email], expiresAt: start.addingTimeInterval(60))),
                                                 at: start)
        let tagged = VerificationDecider.evolve(invited, .metadataUpdated(changes: ["k": "v"]), at: start)
        let withdrawn = VerificationDecider.evolve(tagged, .withdrawn(reason: nil), at: start)
        func stream(_ state: VerificationState, _ version: Int64) -> StreamState {
            StreamState(organizationID: organizationID, LoadedVerification(id: "ver_1", state: state, version: version))
        }
        let tables = { (statements: [PostgresStatement]) in statements.map { $0.0.split(separator: " ").prefix(3).joined(separator: " ") } }
        XCTAssertEqual(tables(Projections.statements(before: stream(invited, 1), after: stream(tagged, 2))),
                       ["INSERT INTO ledger.verifications", "INSERT INTO ledger.customer_verifications", "INSERT INTO ledger.validations"],
                       "the deadline stayed where it was; no report yet")
        XCTAssertEqual(tables(Projections.statements(before: stream(tagged, 2), after: stream(withdrawn, 3))),
                       ["INSERT INTO ledger.verifications", "INSERT INTO ledger.orders", "DELETE FROM ledger.verification_deadlines",
                        "INSERT INTO ledger.customer_verifications", "INSERT INTO ledger.validations"],
                       "the withdrawal opens the order and ends the deadline")
        XCTAssertEqual(tables(Projections.statements(before: nil, after: stream(tagged, 2))),
                       ["INSERT INTO ledger.verifications", "INSERT INTO ledger.verification_deadlines", "INSERT INTO ledger.customer_verifications",
                        "INSERT INTO ledger.validations"], "unknown rows are all written")
    }

    /// A command's read-model writes go as one statement: each write a CTE, its placeholders numbered after the
    /// parameters of the writes before it, the parameters in the same order.
    func testReadModelWritesCombineIntoOneStatementWithRenumberedParameters() {
        XCTAssertEqual(Projections.renumbered("VALUES ($1, $2) WHERE x.v < $12 AND y = '$'", after: 3),
                       "VALUES ($4, $5) WHERE x.v < $15 AND y = '$'")
        XCTAssertEqual(Projections.renumbered("VALUES ($1)", after: 0), "VALUES ($1)")
        let combined = Projections.combined([("INSERT INTO ledger.a VALUES ($1, $2)", ["x", 1]),
                                             ("DELETE FROM ledger.b WHERE organization_id = $1 AND id = $2", ["y", "z"])])
        XCTAssertEqual(combined.count, 1)
        XCTAssertEqual(combined.first?.0, "WITH w0 AS (INSERT INTO ledger.a VALUES ($1, $2)), "
                       + "w1 AS (DELETE FROM ledger.b WHERE organization_id = $3 AND id = $4) SELECT")
        XCTAssertEqual(combined.first?.1.map { $0?.postgresText }, ["x", "1", "y", "z"])
        let single: [PostgresStatement] = [("DELETE FROM ledger.b WHERE id = $1", ["y"])]
        XCTAssertEqual(Projections.combined(single).map(\.0), single.map(\.0), "one write stays as it is")
        XCTAssertTrue(Projections.combined([]).isEmpty)
    }

    /// A query that travels with the writes (the kept data key's check) becomes the combined statement's final
    /// SELECT, its placeholders numbered after the writes' and its parameters last; the same shape gives the same text.
    func testAQueryWithTheWritesEndsTheCombinedStatement() {
        let writes: [PostgresStatement] = [("INSERT INTO ledger.a VALUES ($1, $2)", ["x", 1])]
        let check: PostgresStatement = ("SELECT ledger.check($1, $2)", ["k", true])
        let combined = Projections.combined(writes, then: check)
        XCTAssertEqual(combined.map(\.0), ["WITH w0 AS (INSERT INTO ledger.a VALUES ($1, $2)) SELECT ledger.check($3, $4)"])
        XCTAssertEqual(combined.first?.1.map { $0?.postgresText }, ["x", "1", "k", "t"])
        let again = Projections.combined([("INSERT INTO ledger.a VALUES ($1, $2)", ["y", 2])], then: ("SELECT ledger.check($1, $2)", ["l", false]))
        XCTAssertEqual(again.map(\.0), combined.map(\.0))
        XCTAssertEqual(again.first?.1.map { $0?.postgresText }, ["y", "2", "l", "f"], "the text is kept, never the parameters")
        XCTAssertEqual(Projections.combined(writes + writes).first?.0,
                       "WITH w0 AS (INSERT INTO ledger.a VALUES ($1, $2)), w1 AS (INSERT INTO ledger.a VALUES ($3, $4)) SELECT",
                       "without a query the statement ends as before")
        XCTAssertEqual(Projections.combined([], then: check).map(\.0), [check.0], "no writes: the query alone")
    }
}
