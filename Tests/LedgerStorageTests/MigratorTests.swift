import Foundation
import LedgerStorage
import LedgerTestSupport
import XCTest

final class MigratorTests: XCTestCase {
    var database: TestDatabase!

    override func setUpWithError() throws {
        database = try makeDatabase(empty: true)
    }

    func migrations(_ files: [String: String]) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("migrations-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for (name, sql) in files { try Data(sql.utf8).write(to: directory.appendingPathComponent(name)) }
        addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
        return directory
    }

    func applied(_ connection: PostgresConnection) throws -> [Int] {
        let rows = try connection.query("SELECT version FROM ledger.schema_migrations ORDER BY applied_at, version")
        return (0..<rows.count).compactMap { rows.int($0, 0) }
    }

    func testTheProjectsMigrationsApplyOnceAndInOrder() throws {
        let connection = try database.ownerConnection()
        let migrator = try Migrator(directory: TestPostgres.schemaDirectory)
        let versions = migrator.migrations.map(\.version)
        XCTAssertEqual(versions, versions.sorted())
        XCTAssertEqual(try migrator.migrate(connection).map(\.version), versions)
        XCTAssertEqual(try applied(connection), versions)
        XCTAssertEqual(try migrator.migrate(connection), [], "a second run applies nothing")
        XCTAssertEqual(try migrator.pendingMigrations(connection), [])
    }

    func testNumericOrderNotNameOrder() throws {
        // 10 sorts before 9 by name; it must run after 9, which creates its table.
        let directory = try migrations([
            "9_create.sql": "CREATE TABLE ledger.t (a int);",
            "10_alter.sql": "ALTER TABLE ledger.t ADD COLUMN b int;",
            "README.md": "not a migration",
        ])
        let connection = try database.ownerConnection()
        XCTAssertEqual(try Migrator(directory: directory).migrate(connection).map(\.version), [9, 10])
        XCTAssertEqual(try applied(connection), [9, 10])
    }

    func testAChangedAppliedMigrationStopsStartUp() throws {
        let directory = try migrations(["1_create.sql": "CREATE TABLE ledger.t (a int);"])
        let connection = try database.ownerConnection()
        try Migrator(directory: directory).migrate(connection)
        try Data("CREATE TABLE ledger.t (a bigint);".utf8).write(to: directory.appendingPathComponent("1_create.sql"))
        XCTAssertThrowsError(try Migrator(directory: directory).migrate(connection)) { error in
            guard case let .changedAfterApplied(version, name, _, _)? = error as? Migrator.Failure else {
                return XCTFail("expected changedAfterApplied, got \(error)")
            }
            XCTAssertEqual(version, 1)
            XCTAssertEqual(name, "create")
            XCTAssertTrue("\(error)".contains("was changed after it was applied"))
        }
    }

    func testAFailingMigrationLeavesNothingHalfDone() throws {
        let directory = try migrations([
            "1_good.sql": "CREATE TABLE ledger.t (a int);",
            "2_bad.sql": "CREATE TABLE ledger.u (a int); SELECT * FROM no_such_table;",
        ])
        let connection = try database.ownerConnection()
        XCTAssertThrowsError(try Migrator(directory: directory).migrate(connection)) { error in
            guard case .failed(version: 2, name: "bad", _)? = error as? Migrator.Failure else {
                return XCTFail("expected failed(2), got \(error)")
            }
        }
        XCTAssertEqual(try applied(connection), [1])
        XCTAssertEqual(try connection.query("SELECT to_regclass('ledger.u') IS NULL").bool(0, 0), true)
    }

    func testADatabaseNewerThanTheBuildIsRefused() throws {
        let directory = try migrations(["1_a.sql": "SELECT 1;", "2_b.sql": "SELECT 2;"])
        let connection = try database.ownerConnection()
        try Migrator(directory: directory).migrate(connection)
        try FileManager.default.removeItem(at: directory.appendingPathComponent("2_b.sql"))
        XCTAssertThrowsError(try Migrator(directory: directory).migrate(connection)) { error in
            XCTAssertEqual(error as? Migrator.Failure, .unknownApplied(version: 2, name: "b"))
        }
    }
}
