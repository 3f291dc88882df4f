import Foundation
import LedgerStorage
import LedgerTestSupport
import XCTest

final class PostgresConnectionTests: XCTestCase {
    var database: TestDatabase!

    override func setUpWithError() throws {
        database = try TestPostgres.shared().makeDatabase()
        try database.ownerConnection().execute("CREATE TABLE ledger.t (n int PRIMARY KEY)")
    }

    func count(_ connection: PostgresConnection) throws -> Int {
        try connection.query("SELECT count(*) FROM ledger.t").int(0, 0) ?? -1
    }

    func testAPipelineReturnsEachStatementsRowsInOrder() throws {
        let connection = try database.ownerConnection()
        let rows = try connection.pipeline([
            ("INSERT INTO ledger.t VALUES ($1) RETURNING n", [1]),
            ("SELECT $1::int + 1", [41]),
            ("SELECT n FROM ledger.t", []),
        ])
        XCTAssertEqual(rows.map { $0.int(0, 0) }, [1, 42, 1])
    }

    func testAFailingStatementThrowsAndTheTransactionLeavesNothing() throws {
        let connection = try database.ownerConnection()
        XCTAssertThrowsError(try connection.transaction { tx in
            _ = try tx.pipeline([("INSERT INTO ledger.t VALUES ($1)", [1]), ("INSERT INTO ledger.t VALUES ($1)", [1]),
                                 ("INSERT INTO ledger.t VALUES ($1)", [2])])
        }) { error in
            XCTAssertEqual((error as? PostgresError)?.sqlState, "23505", "the first error is the one reported")
        }
        XCTAssertFalse(connection.isInTransaction)
        XCTAssertFalse(connection.isBroken)
        XCTAssertEqual(try count(connection), 0)
    }

    func testBeginTravelsWithTheFirstStatementAndAnEmptyTransactionSendsNothing() throws {
        let connection = try database.ownerConnection()
        try connection.transaction { tx in
            XCTAssertFalse(tx.isInTransaction, "BEGIN waits for the first statement")
            try tx.query("INSERT INTO ledger.t VALUES (1)")
            XCTAssertTrue(tx.isInTransaction)
        }
        XCTAssertFalse(connection.isInTransaction)
        XCTAssertEqual(try count(connection), 1)
        try connection.transaction { _ in }
        XCTAssertThrowsError(try connection.transaction { tx in
            try tx.query("INSERT INTO ledger.t VALUES (2)")
            throw CocoaError(.userCancelled)
        })
        XCTAssertEqual(try count(connection), 1, "rolled back")
    }

    func testWaitingStatementsTravelWithCommitAndCommitActionsRunAfterIt() throws {
        let connection = try database.ownerConnection()
        let committed = LockedBox(false)
        try connection.transaction { tx in
            tx.sendWithNextRoundTrip([("INSERT INTO ledger.t VALUES ($1)", [1]), ("INSERT INTO ledger.t VALUES ($1)", [2])])
            tx.afterCommit { committed.set(true) }
            XCTAssertFalse(tx.isInTransaction, "nothing is sent before COMMIT")
            XCTAssertFalse(committed.get())
        }
        XCTAssertTrue(committed.get())
        XCTAssertFalse(connection.isInTransaction)
        XCTAssertEqual(try count(connection), 2)
    }

    func testWaitingStatementsTravelWithTheNextQuery() throws {
        let connection = try database.ownerConnection()
        try connection.transaction { tx in
            tx.sendWithNextRoundTrip([("INSERT INTO ledger.t VALUES ($1)", [1])])
            XCTAssertEqual(try count(tx), 1, "the query sees the write sent before it")
        }
        XCTAssertEqual(try count(connection), 1)
    }

    struct Mapped: Error, Equatable { let sqlState: String? }

    func testAFailingWaitingStatementThrowsItsMappedErrorAndNothingIsKept() throws {
        let connection = try database.ownerConnection()
        try connection.query("INSERT INTO ledger.t VALUES (1)")
        let committed = LockedBox(false)
        XCTAssertThrowsError(try connection.transaction { tx in
            try tx.query("INSERT INTO ledger.t VALUES (2)")
            tx.sendWithNextRoundTrip([("INSERT INTO ledger.t VALUES ($1)", [3]), ("INSERT INTO ledger.t VALUES ($1)", [1])]) { error in
                Mapped(sqlState: (error as? PostgresError)?.sqlState)
            }
            tx.afterCommit { committed.set(true) }
        }) { error in
            XCTAssertEqual(error as? Mapped, Mapped(sqlState: "23505"))
        }
        XCTAssertFalse(committed.get(), "no commit, no commit actions")
        XCTAssertFalse(connection.isInTransaction)
        XCTAssertFalse(connection.isBroken)
        XCTAssertEqual(try count(connection), 1, "rolled back")
        try connection.transaction { tx in tx.sendWithNextRoundTrip([("INSERT INTO ledger.t VALUES ($1)", [4])]) }
        XCTAssertEqual(try count(connection), 2, "the connection is clean for the next transaction")
    }
}
