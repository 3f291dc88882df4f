import Foundation
import LedgerStorage
import XCTest

/// The test suite's own PostgreSQL: one throwaway cluster per test process (or the server at DATABASE_URL),
/// a migrated template database, and a fresh database cloned from it for every test that asks.
public final class TestPostgres: @unchecked Sendable {
    public static let schemaDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Schema")

    private static let started: Result<TestPostgres, any Error> = Result { try TestPostgres() }

    /// The shared instance, started on first use and stopped when the process exits.
    public static func shared() throws -> TestPostgres { try started.get() }

    public let cluster: EmbeddedPostgres?
    private let adminConninfo: String
    private let conninfoForDatabase: @Sendable (String) -> String
    private let template: String
    private let lock = NSLock()
    private var created = 0

    private init() throws {
        let environment = ProcessInfo.processInfo.environment
        if let url = environment["DATABASE_URL"], !url.isEmpty {
            cluster = nil
            adminConninfo = url
            conninfoForDatabase = { database in TestPostgres.replacingDatabase(in: url, with: database) }
            // The server outlives the run: leave no template behind on it either.
            atexit {
                guard case let .success(shared) = TestPostgres.started, shared.cluster == nil,
                      let admin = try? PostgresConnection(conninfo: shared.adminConninfo) else { return }
                try? admin.execute("DROP DATABASE IF EXISTS \(shared.template) WITH (FORCE)")
            }
        } else {
            let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("ledger-test-\(getpid())")
            let cluster = try EmbeddedPostgres(directory: directory, databaseName: "postgres",
                                               settings: ["fsync": "off", "synchronous_commit": "off",
                                                          "full_page_writes": "off", "max_connections": "300"])
            try cluster.start()
            self.cluster = cluster
            adminConninfo = cluster.conninfo(database: "postgres")
            conninfoForDatabase = { cluster.conninfo(database: $0) }
            atexit {
                guard case let .success(shared) = TestPostgres.started, let cluster = shared.cluster else { return }
                try? cluster.stop()
                try? FileManager.default.removeItem(at: cluster.directory)
            }
        }
        template = "ledger_template_\(getpid())"
        let admin = try PostgresConnection(conninfo: adminConninfo)
        try admin.execute("DROP DATABASE IF EXISTS \(template)")
        try admin.execute("CREATE DATABASE \(template)")
        let templateConnection = try PostgresConnection(conninfo: conninfoForDatabase(template))
        try Migrator(directory: TestPostgres.schemaDirectory).migrate(templateConnection)
    }

    /// A new, migrated database of its own.
    public func makeDatabase() throws -> TestDatabase { try createDatabase(prefix: "ledger_test", template: template) }

    /// A new empty database (no migrations), for testing the migrator itself.
    public func makeEmptyDatabase() throws -> TestDatabase { try createDatabase(prefix: "ledger_empty", template: nil) }

    private func createDatabase(prefix: String, template: String?) throws -> TestDatabase {
        lock.lock()
        defer { lock.unlock() }
        created += 1
        let name = "\(prefix)_\(getpid())_\(created)"
        let admin = try PostgresConnection(conninfo: adminConninfo)
        try admin.execute("CREATE DATABASE \(name)" + (template.map { " TEMPLATE \($0)" } ?? ""))
        return TestDatabase(name: name, conninfo: conninfoForDatabase(name))
    }

    /// Whether each test's database is dropped when the test ends: on a server at DATABASE_URL, which outlives
    /// the run; the embedded cluster is removed whole when the process ends.
    public var dropsDatabasesAfterEachTest: Bool { cluster == nil }

    /// Drops a test's database, ending any connection still open to it.
    public func drop(_ database: TestDatabase) throws {
        let admin = try PostgresConnection(conninfo: adminConninfo)
        try admin.execute("DROP DATABASE IF EXISTS \(database.name) WITH (FORCE)")
    }

    /// Whether a database of this name exists on the server.
    public func exists(_ database: TestDatabase) throws -> Bool {
        try PostgresConnection(conninfo: adminConninfo).query("SELECT 1 FROM pg_database WHERE datname = $1", [database.name]).count == 1
    }

    /// `postgresql://…/db?x` with another database name; key=value strings get a `dbname=` appended.
    static func replacingDatabase(in url: String, with database: String) -> String {
        guard var components = URLComponents(string: url), url.contains("://") else { return "\(url) dbname=\(database)" }
        components.path = "/" + database
        return components.string ?? url
    }
}

public struct TestDatabase: Sendable {
    public let name: String
    /// Connects as the database owner (a superuser on the embedded cluster).
    public let conninfo: String

    /// A pool as the service has it: connections run as the ledger_service role.
    public func pool(size: Int = 8, commitThreads: Int = 0) -> ConnectionPool {
        ConnectionPool(conninfo: conninfo, size: size, role: "ledger_service", commitThreads: commitThreads)
    }

    public func ownerConnection() throws -> PostgresConnection {
        let connection = try PostgresConnection(conninfo: conninfo)
        try connection.execute("SET search_path = ledger, public; SET TimeZone = 'UTC'; SET DateStyle = 'ISO'")
        return connection
    }

    /// Every (table, column) of the ledger schema whose value contains `value` in plain text (bytea columns read
    /// as bytes), as "table.column": what at-rest tests expect to be empty for secrets and personal data.
    public func placesHolding(_ value: String) throws -> [String] {
        let owner = try ownerConnection()
        let columns = try owner.query("""
            SELECT table_name, column_name, data_type FROM information_schema.columns
            WHERE table_schema = 'ledger' AND data_type IN ('text', 'character varying', 'json', 'jsonb', 'bytea', 'ARRAY')
            ORDER BY table_name, column_name
            """)
        var places: [String] = []
        for row in 0..<columns.count {
            guard let table = columns.string(row, 0), let column = columns.string(row, 1), let type = columns.string(row, 2) else { continue }
            let bytes = type == "bytea" ? "\"\(column)\"" : "convert_to(\"\(column)\"::text, 'UTF8')"
            let found = try owner.query("SELECT count(*) FROM ledger.\"\(table)\" WHERE position(convert_to($1, 'UTF8') in \(bytes)) > 0", [value])
            if (found.int(0, 0) ?? 0) > 0 { places.append("\(table).\(column)") }
        }
        return places
    }
}

extension XCTestCase {
    /// A migrated database of this test's own (empty: no migrations), dropped when the test ends if `drop`
    /// says so, by default when the server outlives the run. The drop is registered only once the database
    /// exists, so a failed setUp leaves nothing to undo.
    public func makeDatabase(empty: Bool = false, dropWhenTheTestEnds drop: Bool? = nil) throws -> TestDatabase {
        let postgres = try TestPostgres.shared()
        let database = try empty ? postgres.makeEmptyDatabase() : postgres.makeDatabase()
        if drop ?? postgres.dropsDatabasesAfterEachTest {
            addTeardownBlock { try postgres.drop(database) }
        }
        return database
    }

    /// Stops `process` when the test ends, however it ends (an early return, a thrown error), unless it ended.
    public func stopWhenTheTestEnds(_ process: ChildProcess.Running, signal: Int32 = SIGTERM) {
        addTeardownBlock {
            guard process.poll() == nil else { return }
            process.signal(signal)
            _ = process.wait()
        }
    }
}

/// Polls `condition` until it holds or `timeout` seconds pass: the only way these tests wait.
public func eventually(timeout: Double = 10, interval: Double = 0.02, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    repeat {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: interval)
    } while Date() < deadline
    return try condition()
}

/// Runs `body` on `count` threads of their own, all at once (DispatchQueue.concurrentPerform would run only
/// as many at a time as there are cores), and returns when every one has finished.
public func concurrently(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    let start = DispatchSemaphore(value: 0)
    for index in 0..<count {
        group.enter()
        let thread = Thread {
            start.wait()
            body(index)
            group.leave()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
    for _ in 0..<count { start.signal() }
    group.wait()
}
