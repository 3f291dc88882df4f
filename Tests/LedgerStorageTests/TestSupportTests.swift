import Foundation
import LedgerStorage
import LedgerTestSupport
import XCTest

/// The test suite's own tools, which every other test relies on.
final class TestSupportTests: XCTestCase {
    func testTheCollectorKeepsEveryAppendUnderContention() {
        let collector = Collector<Int>()
        concurrently(16) { thread in
            for index in 0..<500 { collector.append(thread * 500 + index) }
        }
        XCTAssertEqual(collector.values.count, 16 * 500)
        XCTAssertEqual(Set(collector.values), Set(0..<(16 * 500)))
    }

    func testADroppedDatabaseIsGoneEvenWithConnectionsStillOpen() throws {
        let postgres = try TestPostgres.shared()
        let database = try postgres.makeDatabase()
        let pool = database.pool(size: 2)
        XCTAssertEqual(try pool.withConnection { try $0.query("SELECT 1").int(0, 0) }, 1)
        XCTAssertTrue(try postgres.exists(database))
        try postgres.drop(database)
        XCTAssertFalse(try postgres.exists(database))
    }

    func testADatabaseMadeForATestIsDroppedWhenTheTestEnds() throws {
        let made = LockedBox<TestDatabase?>(nil)
        // Teardown blocks run last-registered first: this one runs after the drop that makeDatabase registers.
        addTeardownBlock {
            guard let database = made.get() else { return XCTFail("no database was made") }
            XCTAssertFalse(try TestPostgres.shared().exists(database), "\(database.name) outlived its test")
        }
        let database = try makeDatabase(dropWhenTheTestEnds: true)
        made.set(database)
        XCTAssertTrue(try TestPostgres.shared().exists(database))
        _ = try database.ownerConnection().query("SELECT 1")
    }
}
