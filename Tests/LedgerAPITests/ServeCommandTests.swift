import Foundation
import LedgerDomain
import LedgerStorage
import LedgerTestSupport
import XCTest

/// Runs the real `ledger` executable, as the README's run command does.
final class ServeCommandTests: XCTestCase {
    static let projectDirectory = TestPostgres.schemaDirectory.deletingLastPathComponent()

    func testServeOnTheEmbeddedDatabaseAndStopCleanlyOnSIGINT() throws {
        let dataDirectory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("ledger-serve-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: dataDirectory) }
        let port = try freeLoopbackPort()
        var environment = ProcessInfo.processInfo.environment
        environment["DATABASE_URL"] = nil
        environment["LEDGER_KEK"] = nil
        environment["LEDGER_KEK_FILE"] = nil
        environment["LEDGER_DATA_DIR"] = dataDirectory.path
        environment["LEDGER_LISTEN"] = "127.0.0.1:\(port)"
        let serve = try ChildProcess.Running(try ledgerExecutable(), ["serve"], workingDirectory: Self.projectDirectory.path,
                                             environment: environment)
        // An early return still stops it, and with SIGINT so that it stops its PostgreSQL too.
        stopWhenTheTestEnds(serve, signal: SIGINT)
        let client = TestClient(baseURL: "http://127.0.0.1:\(port)")
        let ready = eventually(timeout: 60, interval: 0.1) {
            serve.poll() == nil && (try? client.get("/readyz").status) == 200
        }
        XCTAssertTrue(ready, serve.outputSoFar)
        XCTAssertEqual(try client.get("/healthz").status, 200)
        // The embedded setup makes its key-encryption key on first start, for its owner only, and says to back it up.
        let keyFile = dataDirectory.appendingPathComponent("kek").path
        XCTAssertEqual((try FileManager.default.attributesOfItem(atPath: keyFile)[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        XCTAssertTrue(serve.outputSoFar.contains("generated a key-encryption key; back it up"), serve.outputSoFar)

        // A fresh embedded database gets a demo organization and a key, printed once, never logged.
        let printed = serve.outputSoFar
        guard let secret = printed.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "'" })
            .first(where: { $0.hasPrefix("sk_test_") }).map(String.init) else {
            return XCTFail("no demo key printed:\n\(printed)")
        }
        XCTAssertTrue(printed.contains("curl -s -H 'Authorization: Bearer \(secret)' http://127.0.0.1:\(port)/v1/organization"), printed)
        let organization = try client.get("/v1/organization", headers: .bearer(secret))
        XCTAssertEqual(organization.status, 200)
        guard let requestID = organization.header("Request-Id"), let orgID = organization.json?["id"]?.stringValue else {
            return XCTFail(organization.text)
        }
        XCTAssertTrue(eventually { serve.outputSoFar.contains(requestID) })
        let logLines = serve.outputSoFar.split(separator: "\n").filter { $0.hasPrefix("{\"time\"") }
        guard let line = logLines.first(where: { $0.contains(requestID) }) else { return XCTFail("no log line for \(requestID)") }
        for field in ["\"method\":\"GET\"", "\"route\":\"/v1/organization\"", "\"status\":200", "\"org_id\":\"\(orgID)\"",
                      "\"key_id\":\"key_", "\"duration_ms\":", "\"level\":\"info\""] {
            XCTAssertTrue(line.contains(field), "\(field) missing from \(line)")
        }
        XCTAssertFalse(logLines.contains { $0.contains(secret) || $0.contains(String(secret.suffix(20))) }, "a secret reached the logs")

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

    /// Sharing the API's pool, the dispatcher waited behind requests under load, could not record a delivery,
    /// and the message went out again when its lease ran out: it must hold connections of its own.
    func testTheInProcessDispatcherHasConnectionsApartFromTheAPIs() throws {
        let database = try makeDatabase()
        let port = try freeLoopbackPort()
        var environment = ProcessInfo.processInfo.environment
        environment["DATABASE_URL"] = database.conninfo
        environment["LEDGER_LISTEN"] = "127.0.0.1:\(port)"
        environment["LEDGER_KEK"] = TestKeyEncryptionKey.base64
        let serve = try ChildProcess.Running(try ledgerExecutable(), ["serve"], workingDirectory: Self.projectDirectory.path,
                                             environment: environment)
        stopWhenTheTestEnds(serve)
        let client = TestClient(baseURL: "http://127.0.0.1:\(port)")
        XCTAssertTrue(eventually(timeout: 60, interval: 0.1) { serve.poll() == nil && (try? client.get("/readyz").status) == 200 },
                      serve.outputSoFar)
        let observer = try database.ownerConnection()
        func connections(of application: String) throws -> Int64 {
            try observer.query("SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = $2",
                               [database.name, application]).int64(0, 0) ?? 0
        }
        // The dispatcher polls its claim on its own, so its connections appear without any request.
        XCTAssertTrue(eventually(timeout: 10, interval: 0.05) { (try? connections(of: "ledger-api")) ?? 0 > 0 }, "no API connection")
        XCTAssertTrue(eventually(timeout: 10, interval: 0.05) { (try? connections(of: "ledger-dispatcher")) ?? 0 > 0 },
                      "no connection of the dispatcher's own")
    }

    func testHelpForEveryCommand() throws {
        for arguments in [["--help"], ["serve", "--help"], ["migrate", "--help"], ["bench", "--help"]] {
            let outcome = try ChildProcess.run(try ledgerExecutable(), arguments)
            XCTAssertEqual(outcome.status, 0, "\(arguments)")
            XCTAssertTrue(outcome.output.hasPrefix("ledger"), outcome.output)
        }
        let unknown = try ChildProcess.run(try ledgerExecutable(), ["frobnicate"])
        XCTAssertEqual(unknown.status, 2)
        XCTAssertTrue(unknown.output.contains("unknown command 'frobnicate'"))
    }

    func testABadSettingIsNamed() throws {
        var environment = ProcessInfo.processInfo.environment
        environment["LEDGER_LISTEN"] = "nonsense"
        let outcome = try ChildProcess.Running(try ledgerExecutable(), ["serve"], environment: environment).wait()
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

/// `ledger orgs` and `ledger keys` against a test database.
final class AccessCommandTests: XCTestCase {
    func run(_ arguments: [String], database: TestDatabase) throws -> ChildProcess.Outcome {
        var environment = ProcessInfo.processInfo.environment
        environment["DATABASE_URL"] = database.conninfo
        let binary = try ledgerExecutable()
        return try ChildProcess.Running(binary, arguments, environment: environment).wait()
    }

    func testCreateListAndRevokeFromTheCommandLine() throws {
        let database = try makeDatabase()
        let org = try run(["orgs", "create", "Initech", "Ltd"], database: database)
        XCTAssertEqual(org.status, 0, org.output)
        let orgID = org.output.trimmingCharacters(in: .newlines)
        XCTAssertNotNil(UUID(uuidString: orgID), "only the id is printed: \(org.output)")
        XCTAssertEqual(org.output, orgID + "\n")

        let key = try run(["keys", "create", "--org", orgID, "--scopes", "read,write"], database: database)
        XCTAssertEqual(key.status, 0, key.output)
        let secret = key.output.trimmingCharacters(in: .newlines)
        XCTAssertEqual(APIKeySecret.livemode(of: secret), false, key.output)
        let live = try run(["keys", "create", "--org", orgID, "--scopes", "admin", "--live"], database: database)
        XCTAssertEqual(APIKeySecret.livemode(of: live.output.trimmingCharacters(in: .newlines)), true, live.output)

        let list = try run(["keys", "list", "--org", orgID], database: database)
        XCTAssertEqual(list.status, 0)
        let lines = list.output.split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        XCTAssertFalse(list.output.contains(secret), "list never shows a secret")
        XCTAssertTrue(list.output.contains(APIKeySecret.hint(of: secret)))
        guard let testLine = lines.first(where: { $0.contains(" test ") }), let keyID = testLine.split(separator: " ").first else {
            return XCTFail(list.output)
        }
        XCTAssertTrue(testLine.contains("read,write") && testLine.contains("active"), String(testLine))

        let connection = try database.ownerConnection()
        XCTAssertNotNil(try AccessStore.authenticate(connection, secret: secret))
        let revoke = try run(["keys", "revoke", String(keyID)], database: database)
        XCTAssertEqual(revoke.status, 0, revoke.output)
        XCTAssertNil(try AccessStore.authenticate(connection, secret: secret))
        XCTAssertTrue(try run(["keys", "list", "--org", orgID], database: database).output.contains("revoked"))
    }

    func testMistakesAreNamed() throws {
        let database = try makeDatabase()
        let badScope = try run(["keys", "create", "--org", UUID().uuidString, "--scopes", "read,root"], database: database)
        XCTAssertEqual(badScope.status, 2)
        XCTAssertTrue(badScope.output.contains("unknown scope 'root'"), badScope.output)
        let noOrg = try run(["keys", "create", "--org", UUID().uuidString, "--scopes", "read"], database: database)
        XCTAssertEqual(noOrg.status, 2)
        XCTAssertTrue(noOrg.output.contains("no organization"), noOrg.output)
        let badID = try run(["keys", "list", "--org", "acme"], database: database)
        XCTAssertEqual(badID.status, 2)
        XCTAssertTrue(badID.output.contains("--org takes an organization id"), badID.output)
        let missing = try run(["keys", "revoke", "key_nope"], database: database)
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.output.contains("no API key key_nope"), missing.output)
    }
}
