import Foundation
import LedgerStorage
import LedgerTestSupport
import XCTest

/// Runs the real `ledger` executable, as the README's run command does.
final class ServeCommandTests: XCTestCase {
    static let projectDirectory = TestPostgres.schemaDirectory.deletingLastPathComponent()

    func ledgerBinary() throws -> String {
        for configuration in ["debug", "release"] {
            let path = Self.projectDirectory.appendingPathComponent(".build/\(configuration)/ledger").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        XCTFail("build the ledger executable first (swift build)")
        throw CocoaError(.fileNoSuchFile)
    }

    func freePort() throws -> UInt16 {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) } }
        return UInt16(bigEndian: address.sin_port)
    }

    func testServeOnTheEmbeddedDatabaseAndStopCleanlyOnSIGINT() throws {
        let dataDirectory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("ledger-serve-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: dataDirectory) }
        let port = try freePort()
        var environment = ProcessInfo.processInfo.environment
        environment["DATABASE_URL"] = nil
        environment["LEDGER_DATA_DIR"] = dataDirectory.path
        environment["LEDGER_LISTEN"] = "127.0.0.1:\(port)"
        let serve = try ChildProcess.Running(try ledgerBinary(), ["serve"], workingDirectory: Self.projectDirectory.path,
                                             environment: environment)
        let client = TestClient(baseURL: "http://127.0.0.1:\(port)")
        let ready = eventually(timeout: 60, interval: 0.1) {
            serve.poll() == nil && (try? client.get("/readyz").status) == 200
        }
        XCTAssertTrue(ready, serve.outputSoFar)
        XCTAssertEqual(try client.get("/healthz").status, 200)
        let postmasterPID = dataDirectory.appendingPathComponent("pg/postmaster.pid").path
        XCTAssertTrue(FileManager.default.fileExists(atPath: postmasterPID), "the embedded PostgreSQL is running")

        serve.signal(SIGINT)
        XCTAssertTrue(eventually(timeout: 60, interval: 0.05) { serve.poll() != nil })
        let outcome = serve.wait()
        XCTAssertEqual(outcome.status, 0, outcome.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: postmasterPID), "no PostgreSQL left behind")
        XCTAssertTrue(outcome.output.contains("\"message\":\"stopped the embedded PostgreSQL\""), outcome.output)
        XCTAssertThrowsError(try RawConnection(port: port))
    }

    func testHelpForEveryCommand() throws {
        for arguments in [["--help"], ["serve", "--help"], ["migrate", "--help"], ["bench", "--help"]] {
            let outcome = try ChildProcess.run(try ledgerBinary(), arguments)
            XCTAssertEqual(outcome.status, 0, "\(arguments)")
            XCTAssertTrue(outcome.output.hasPrefix("ledger"), outcome.output)
        }
        let unknown = try ChildProcess.run(try ledgerBinary(), ["frobnicate"])
        XCTAssertEqual(unknown.status, 2)
        XCTAssertTrue(unknown.output.contains("unknown command 'frobnicate'"))
    }

    func testABadSettingIsNamed() throws {
        var environment = ProcessInfo.processInfo.environment
        environment["LEDGER_LISTEN"] = "nonsense"
        let outcome = try ChildProcess.Running(try ledgerBinary(), ["serve"], environment: environment).wait()
        XCTAssertEqual(outcome.status, 1)
        XCTAssertTrue(outcome.output.contains("LEDGER_LISTEN=nonsense is not valid"), outcome.output)
    }

    func testDockerComposeFileParsesAndWiresTheService() throws {
        let check = """
            import sys, yaml
            doc = yaml.safe_load(open(sys.argv[1]))
            services = doc["services"]
            db, app = services["postgres"], services["ledger"]
            assert db["image"].startswith("postgres:15"), db["image"]
            assert "healthcheck" in db and "healthcheck" in app
            env = app["environment"]
            assert env["DATABASE_URL"].startswith("postgresql://") and "@postgres:5432/" in env["DATABASE_URL"], env
            assert app["depends_on"]["postgres"]["condition"] == "service_healthy"
            assert app["build"]["dockerfile"] == "Dockerfile"
            print("compose ok")
            """
        let outcome = try ChildProcess.run("python3", ["-c", check, Self.projectDirectory.appendingPathComponent("docker-compose.yml").path])
        XCTAssertEqual(outcome.status, 0, outcome.output)
        XCTAssertTrue(outcome.output.contains("compose ok"), outcome.output)
    }
}
