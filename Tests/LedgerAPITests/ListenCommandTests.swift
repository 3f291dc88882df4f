import Foundation
import LedgerAPI
import LedgerDomain
import LedgerStorage
import LedgerTestSupport
import LedgerWebhooks
import XCTest

/// `ledger listen`: a temporary endpoint, each webhook printed with its signature checked, the endpoint
/// removed on Ctrl-C.
final class ListenCommandTests: VendorViewsTestCase {
    func testListenPrintsEachWebhookVerifiedAndRemovesItsEndpointOnInterrupt() throws {
        let listen = try ChildProcess.Running(try ledgerExecutable(), ["listen", "--url", server.baseURL, "--key", acme.adminKey,
                                                                       "--events", "VERIFICATION_STATUS_CHANGE,VALIDATION_STATUS_CHANGE"])
        stopWhenTheTestEnds(listen, signal: SIGKILL)
        XCTAssertTrue(eventually(timeout: 30) { listen.outputSoFar.contains("Ready:") }, listen.outputSoFar)
        let endpoints = try get("/v1/webhook_endpoints")["data"]?.arrayValue ?? []
        XCTAssertEqual(endpoints.count, 1)
        XCTAssertEqual(endpoints.first?["events"], ["VERIFICATION_STATUS_CHANGE", "VALIDATION_STATUS_CHANGE"])

        let id = try createCustomerVerification("cus_listen")
        try sync(id)
        let dispatcher = WebhookDispatcher(pool: database.pool(size: 2), conninfo: database.conninfo,
                                           configuration: .init(schedule: try RetrySchedule(parsing: "0s,0s,0s"), concurrency: 4, timeout: 5,
                                                                policy: WebhookURLPolicy(allowPrivate: true)))
        let queued = try get("/v1/webhook_deliveries?verification_id=\(id)&limit=100")["data"]?.arrayValue?.count ?? 0
        XCTAssertGreaterThan(queued, 3)
        func printed() -> [Substring] { listen.outputSoFar.split(separator: "\n").filter { $0.contains(id) } }
        XCTAssertTrue(try eventually(timeout: 30) {
            try dispatcher.runOnce()
            return printed().count >= queued
        }, listen.outputSoFar)
        XCTAssertEqual(printed().count, queued, listen.outputSoFar)
        XCTAssertTrue(printed().allSatisfy { $0.hasSuffix("signature verified") }, listen.outputSoFar)
        XCTAssertEqual(printed().filter { $0.contains("VALIDATION_STATUS_CHANGE") }.count, 3)
        XCTAssertTrue(printed().contains { $0.contains("seq 1  ") })

        listen.signal(SIGINT)
        let outcome = listen.wait()
        XCTAssertEqual(outcome.status, 0, outcome.output)
        XCTAssertTrue(outcome.output.contains("Removed endpoint"), outcome.output)
        XCTAssertEqual(try get("/v1/webhook_endpoints")["data"], [])
    }

    func testListenWithoutAKeyOrWithAReadKeyExplainsItself() throws {
        let none = try ChildProcess.run(try ledgerExecutable(), ["listen", "--url", server.baseURL])
        XCTAssertEqual(none.status, 2)
        XCTAssertTrue(none.output.contains("--key"), none.output)
        let read = try ChildProcess.run(try ledgerExecutable(), ["listen", "--url", server.baseURL, "--key", acme.readKey])
        XCTAssertEqual(read.status, 2)
        XCTAssertTrue(read.output.contains("403"), read.output)
    }
}
