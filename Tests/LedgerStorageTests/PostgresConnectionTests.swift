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
}
