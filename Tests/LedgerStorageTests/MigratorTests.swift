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

    func definition(_ connection: PostgresConnection, _ function: String) throws -> String? {
        try connection.query("SELECT pg_get_functiondef(to_regproc($1))", ["ledger.\(function)"]).string(0, 0)
    }

    func testFunctionFilesAreAppliedAfterTheMigrationsInEveryRunAndAChangedOneReplacesItsFunction() throws {
        let directory = try migrations(["1_create.sql": "CREATE TABLE ledger.t (a int); INSERT INTO ledger.t VALUES (41);"])
        let functions = directory.appendingPathComponent("functions")
        try FileManager.default.createDirectory(at: functions, withIntermediateDirectories: true)
        func write(_ body: String) throws {
            try Data("-- The answer.\nCREATE OR REPLACE FUNCTION ledger.answer() RETURNS int LANGUAGE sql AS $$ \(body) $$;\n".utf8)
                .write(to: functions.appendingPathComponent("answer.sql"))
        }
        try write("SELECT a + 1 FROM ledger.t") // reads the migration's table: the functions come after the migrations
        let connection = try database.ownerConnection()
        XCTAssertEqual(try Migrator(directory: directory).migrate(connection).map(\.version), [1])
        XCTAssertEqual(try connection.query("SELECT ledger.answer()").int(0, 0), 42)
        let first = try connection.query("SELECT checksum, changed_at FROM ledger.schema_functions WHERE name = 'answer'")
        XCTAssertEqual(first.count, 1)

        let before = try definition(connection, "answer")
        XCTAssertEqual(try Migrator(directory: directory).migrate(connection), [], "a second run applies no migration")
        XCTAssertEqual(try definition(connection, "answer"), before, "and leaves every function as it was")
        let second = try connection.query("SELECT checksum, changed_at FROM ledger.schema_functions WHERE name = 'answer'")
        XCTAssertEqual(second.string(0, 0), first.string(0, 0))
        XCTAssertEqual(second.string(0, 1), first.string(0, 1), "an unchanged file is not recorded as a change")

        try write("SELECT a + 2 FROM ledger.t")
        XCTAssertEqual(try Migrator(directory: directory).migrate(connection), [])
        XCTAssertEqual(try connection.query("SELECT ledger.answer()").int(0, 0), 43, "the changed file replaced the function")
        XCTAssertNotEqual(try connection.query("SELECT checksum FROM ledger.schema_functions WHERE name = 'answer'").string(0, 0),
                          first.string(0, 0))

        try connection.execute("DROP FUNCTION ledger.answer()")
        try Migrator(directory: directory).migrate(connection)
        XCTAssertEqual(try connection.query("SELECT ledger.answer()").int(0, 0), 43, "a function dropped by hand comes back")
    }

    func testAFailingFunctionFileChangesNoFunction() throws {
        let directory = try migrations(["1_a.sql": "SELECT 1;"])
        let functions = directory.appendingPathComponent("functions")
        try FileManager.default.createDirectory(at: functions, withIntermediateDirectories: true)
        try Data("CREATE OR REPLACE FUNCTION ledger.a() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;".utf8)
            .write(to: functions.appendingPathComponent("a.sql"))
        let connection = try database.ownerConnection()
        try Migrator(directory: directory).migrate(connection)
        try Data("CREATE OR REPLACE FUNCTION ledger.a() RETURNS int LANGUAGE sql AS $$ SELECT 2 $$;".utf8)
            .write(to: functions.appendingPathComponent("a.sql"))
        try Data("CREATE OR REPLACE FUNCTION ledger.b( RETURNS int".utf8).write(to: functions.appendingPathComponent("b.sql"))
        XCTAssertThrowsError(try Migrator(directory: directory).migrate(connection)) { error in
            XCTAssertEqual((error as? Migrator.Failure).map { if case let .functionFailed(name, _) = $0 { return name } else { return "" } }, "b")
        }
        XCTAssertEqual(try connection.query("SELECT ledger.a()").int(0, 0), 1, "a.sql, applied before b.sql failed, was rolled back")
    }

    /// Every SQL function of the ledger is defined, as the database runs it, by the one file named after it
    /// in `Schema/functions/`: the current `append_events` is read there, not pieced together from migrations.
    func testEveryFunctionOfTheLedgerIsTheOneInItsFunctionFile() throws {
        let connection = try database.ownerConnection()
        let migrator = try Migrator(directory: TestPostgres.schemaDirectory)
        try migrator.migrate(connection)
        let rows = try connection.query("""
            SELECT p.proname, p.prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = 'ledger' ORDER BY p.proname
            """)
        let live = (0..<rows.count).map { (rows.string($0, 0) ?? "", rows.string($0, 1) ?? "") }
        XCTAssertTrue(live.contains { $0.0 == "append_events" })
        XCTAssertEqual(live.map(\.0), migrator.functions.map(\.name), "one file per function, one function per file, no overloads")
        for (name, source) in live {
            guard let file = migrator.functions.first(where: { $0.name == name }) else { continue }
            let parts = file.sql.components(separatedBy: "$$")
            XCTAssertEqual(parts.count, 3, "\(name).sql holds one $$-quoted body")
            XCTAssertEqual(parts.count == 3 ? parts[1] : nil, source, "\(name) runs the body of \(name).sql")
        }
    }
}
