import Foundation
import LedgerAPI
import LedgerStorage
import LedgerTestSupport
import XCTest

final class ReadinessTests: XCTestCase {
    func testReadyOnAMigratedDatabase() throws {
        let server = try TestServer(database: try makeDatabase())
        defer { server.stop() }
        let response = try TestClient(baseURL: server.baseURL).get("/readyz")
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.json?["status"], "ready")
    }

    /// The README's `/readyz` example names the schema version a migrated database answers with.
    func testTheReadmeShowsTheSchemaVersionReadyzAnswers() throws {
        let server = try TestServer(database: try makeDatabase())
        defer { server.stop() }
        let answered = try TestClient(baseURL: server.baseURL).get("/readyz").json?["schema_version"]?.intValue
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        guard let range = text.range(of: #"\{"status":"ready","schema_version":([0-9]+)\}"#, options: .regularExpression) else {
            return XCTFail("the README has no /readyz example")
        }
        let shown = Int64(text[range].filter(\.isNumber))
        XCTAssertNotNil(answered)
        XCTAssertEqual(shown, answered, "README's /readyz example")
    }

    func testNotReadyBeforeMigrations() throws {
        let server = try TestServer(database: try makeDatabase(empty: true))
        defer { server.stop() }
        let client = TestClient(baseURL: server.baseURL)
        let response = try client.get("/readyz")
        XCTAssertEqual(response.status, 503)
        XCTAssertEqual(response.json?["error"]?["code"], "migrations_pending")
        XCTAssertEqual(try client.get("/healthz").status, 200, "the process itself is up")
    }

    /// Stops and restarts a PostgreSQL of its own under a running service: 503 while it is down, then the
    /// pool reconnects by itself.
    func testReadyzFollowsTheDatabaseDownAndBackUp() throws {
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("ledger-restart-\(UUID().uuidString.prefix(8))")
        let cluster = try EmbeddedPostgres(directory: directory, settings: ["fsync": "off"])
        try cluster.start()
        defer {
            try? cluster.stop()
            try? FileManager.default.removeItem(at: directory)
        }
        let owner = try PostgresConnection(conninfo: cluster.conninfo())
        let migrator = try Migrator(directory: TestPostgres.schemaDirectory)
        try migrator.migrate(owner)
        let pool = ConnectionPool(conninfo: cluster.conninfo(), size: 4, role: "ledger_service", acquireTimeout: 2)
        let application = LedgerApplication(pool: pool, schemaVersion: migrator.migrations.last?.version ?? 0,
                                            configuration: APIConfiguration(logRequests: false))
        let server = try TestServer(handler: application.handle)
        defer { server.stop() }
        let client = TestClient(baseURL: server.baseURL)
        XCTAssertEqual(try client.get("/readyz").status, 200)

        try cluster.stop()
        let down = try client.get("/readyz")
        XCTAssertEqual(down.status, 503)
        XCTAssertEqual(down.json?["error"]?["code"], "database_unavailable")
        XCTAssertNotNil(down.header("Retry-After"))
        XCTAssertEqual(try client.get("/healthz").status, 200)

        try cluster.start()
        XCTAssertTrue(try eventually(timeout: 20) { try client.get("/readyz").status == 200 })
    }
}
