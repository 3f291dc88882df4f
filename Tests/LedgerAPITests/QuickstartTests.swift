import Foundation
import LedgerDomain
import LedgerStorage
import LedgerTestSupport
import XCTest

/// The README's quickstart, its lines run as written by bash against `ledger serve` (with its dispatcher) on a
/// test database.
final class QuickstartTests: XCTestCase {
    static let projectDirectory = TestPostgres.schemaDirectory.deletingLastPathComponent()

    func quickstartLines() throws -> String {
        let readme = try String(contentsOf: Self.projectDirectory.appendingPathComponent("README.md"), encoding: .utf8)
        guard let start = readme.range(of: "<!-- quickstart -->\n```sh\n"), let end = readme.range(of: "```\n<!-- /quickstart -->"),
              start.upperBound < end.lowerBound else { throw XCTSkip("README has no quickstart block") }
        return String(readme[start.upperBound..<end.lowerBound])
    }

    func testTheQuickstartRunsAsWritten() throws {
        let database = try makeDatabase()
        let organization = try TestOrganization(database: database)
        let port = try freeLoopbackPort()
        var environment = ProcessInfo.processInfo.environment
        environment["DATABASE_URL"] = database.conninfo
        environment["LEDGER_LISTEN"] = "127.0.0.1:\(port)"
        environment["LEDGER_WEBHOOK_ALLOW_PRIVATE"] = "1"
        environment["LEDGER_LOG_REQUESTS"] = "0"
        environment["LEDGER_KEK"] = TestKeyEncryptionKey.base64
        let serve = try ChildProcess.Running(try ledgerExecutable(), ["serve"], workingDirectory: Self.projectDirectory.path,
                                             environment: environment)
        stopWhenTheTestEnds(serve)
        let client = TestClient(baseURL: "http://127.0.0.1:\(port)")
        guard eventually(timeout: 60, interval: 0.1, { serve.poll() == nil && (try? client.get("/readyz").status) == 200 }) else {
            return XCTFail("ledger serve did not become ready:\n\(serve.outputSoFar)")
        }

        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("ledger-quickstart-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var shell = ProcessInfo.processInfo.environment
        shell["LEDGER_API_URL"] = "http://127.0.0.1:\(port)"
        shell["LEDGER_API_KEY"] = organization.adminKey
        shell["PATH"] = URL(fileURLWithPath: try ledgerExecutable()).deletingLastPathComponent().path + ":" + (shell["PATH"] ?? "/usr/bin:/bin")
        let script = directory.appendingPathComponent("quickstart.sh")
        try Data(("set -euo pipefail\n" + (try quickstartLines())).utf8).write(to: script)
        // Both streams into one file opened once, so that the lines keep their order.
        let run = try ChildProcess.Running("bash", ["-c", "bash quickstart.sh > output.txt 2>&1"], workingDirectory: directory.path,
                                           environment: shell)
        stopWhenTheTestEnds(run, signal: SIGKILL)
        let written = { (try? String(contentsOf: directory.appendingPathComponent("output.txt"), encoding: .utf8)) ?? "" }
        guard eventually(timeout: 120, interval: 0.1, { run.poll() != nil }) else {
            return XCTFail("the quickstart did not finish:\n\(written())")
        }
        let output = written()
        XCTAssertEqual(run.wait().status, 0, output)
        for expected in ["VALIDATION_STATUS_CHANGE", "signature verified", #""object":"verification","status":"approved""#,
                         #""status":"COMPLETE""#, #""object":"identity.verification_report""#, #""status":"verified""#,
                         #""entityId":"cus_quickstart""#, #""verified":true"#, "Removed endpoint"] {
            XCTAssertTrue(output.contains(expected), "\(expected) missing from:\n\(output)")
        }
        XCTAssertFalse(output.contains("NOT verified"), output)
        XCTAssertEqual(try client.get("/v1/webhook_endpoints", headers: .bearer(organization.adminKey)).json?["data"], [])
    }
}
