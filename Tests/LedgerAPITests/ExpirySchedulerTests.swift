import Foundation
@testable import LedgerAPI
import LedgerDomain
@testable import LedgerEngine
import LedgerStorage
import LedgerTestSupport
import Synchronization
import XCTest

/// The expiry scheduler beside failures and beside commands; read models beside late writers.
final class ExpirySchedulerTests: XCTestCase, ClockedServiceTestCase {
    var service: ServiceFixture!

    override func setUpWithError() throws { try startClockedService() }

    func create() throws -> String {
        try post("/v1/verifications", ["entity_id": "cus_1", "checks": ["identity_verification"]], expect: 201)["id"]?.stringValue ?? ""
    }

    /// A counter of `/metrics`, read as Prometheus' own parser reads the line.
    func metric(_ name: String) throws -> Int {
        let text = try client.get("/metrics").text
        let line = text.split(separator: "\n").first { $0.hasPrefix(name + " ") }
        return line.flatMap { Int($0.dropFirst(name.count + 1)) } ?? -1
    }

    func testAVerificationThatCannotBeReadDoesNotKeepTheOthersFromExpiring() throws {
        let broken = try create()
        let healthy = try create()
        // An event this build cannot decode, in the stream whose deadline comes first.
        _ = try EventStore.append(try database.ownerConnection(), organizationID: acme.id, streamID: broken, expectedVersion: .exact(1),
                                  events: [NewEvent(id: UUID(), type: "FromAFutureRelease", data: [:], occurredAt: clock.get())],
                                  metadata: EventMetadata(actorID: "test", actorType: .system))
        let scheduler = ExpiryScheduler(pool: database.pool(size: 2), vault: try TestKeyEncryptionKey.vault(), clock: { [clock] in clock.get() }, retryDelay: 600)
        let failuresBefore = try metric("ledger_expiry_failures_total")
        XCTAssertGreaterThanOrEqual(failuresBefore, 0, "the counter is on /metrics")

        advance(8 * 86_400)
        XCTAssertEqual(try scheduler.runOnce(), 1, "the healthy one expires")
        XCTAssertEqual(try get("/v1/verifications/\(healthy)")["status"], "expired")
        XCTAssertEqual(try get("/v1/verifications/\(broken)")["status"], "created")
        XCTAssertEqual(try metric("ledger_expiry_failures_total") - failuresBefore, 1)

        XCTAssertEqual(try scheduler.runOnce(), 0, "the broken one waits for its retry")
        XCTAssertEqual(try metric("ledger_expiry_failures_total") - failuresBefore, 1)
        advance(601)
        XCTAssertEqual(try scheduler.runOnce(), 0)
        XCTAssertEqual(try metric("ledger_expiry_failures_total") - failuresBefore, 2, "tried again after the delay")
    }

    func testTheSchedulerAndCommandsOnTheSameVerificationsNeverAnswer500() throws {
        var ids: [String] = []
        for _ in 0..<3 { ids.append(try create()) }
        // Each command a millisecond after the one before, so that every attempt it starts moves the deadline;
        // an hour ahead of the commands, the scheduler finds each of those attempts already due. Both write the
        // same streams and deadlines all along.
        let now = Mutex(clock.get())
        let scheduler = ExpiryScheduler(pool: database.pool(size: 4), vault: try TestKeyEncryptionKey.vault(), clock: { now.withLock { $0 }.addingTimeInterval(3600) })
        let running = Atomic<Bool>(true)
        let stopped = Atomic<Bool>(false)
        let expired = Atomic<Int>(0)
        let schedulerFailures = Mutex<[String]>([])
        let thread = Thread {
            defer { stopped.store(true, ordering: .releasing) }
            while running.load(ordering: .acquiring) {
                do {
                    expired.add(try scheduler.runOnce(), ordering: .relaxed)
                } catch {
                    schedulerFailures.withLock { $0.append("\(error)") }
                }
            }
        }
        thread.start()
        // Without the state cache every command reads its stream under lock before it writes the deadline,
        // which holds the stream's lock longest.
        let ticking: @Sendable () -> Date = {
            now.withLock { now in
                now = now.addingTimeInterval(0.001)
                return now
            }
        }
        let uncached = try TestServer(database: database, api: APIConfiguration(authCacheSeconds: 0, logRequests: false,
                                                                                clock: ticking, stateCacheSize: 0))
        defer { uncached.stop() }
        let statuses = Mutex<[Int]>([])
        let client = TestClient(baseURL: uncached.baseURL), auth = self.auth, verificationIDs = ids
        // Bounded by time as well as by count: a deadlock costs PostgreSQL a second to detect.
        let deadline = Date().addingTimeInterval(5)
        concurrently(8) { index in
            for round in 0..<200 where Date() < deadline {
                let id = verificationIDs[(index + round) % verificationIDs.count]
                let status = (try? client.post("/v1/verifications/\(id)/attempts", json: [:], headers: auth).status) ?? -1
                statuses.withLock { $0.append(status) }
            }
        }
        running.store(false, ordering: .releasing)
        XCTAssertTrue(eventually { stopped.load(ordering: .acquiring) })
        let all = statuses.withLock { $0 }
        XCTAssertTrue(all.allSatisfy { $0 == 201 }, "\(all.count) commands, these not 201: \(all.filter { $0 != 201 })")
        XCTAssertEqual(schedulerFailures.withLock { $0 }, [])
        XCTAssertGreaterThan(expired.load(ordering: .relaxed), 0, "the scheduler expired attempts meanwhile")
    }

    func testAnOlderProjectionNeverReplacesANewerDocument() throws {
        let id = try create()
        let attemptID = try post("/v1/verifications/\(id)/attempts", [:], expect: 201)["id"]?.stringValue ?? ""
        for status in ["capture_in_progress", "completed"] {
            try post("/v1/verifications/\(id)/attempts/\(attemptID)/progress", ["status": .string(status)])
        }
        let olderAt = clock.get()
        try post("/v1/verifications/\(id)/score", ["score": "ID_VERIFIED", "reason": "checked by hand"])
        let newerVerification = try get("/v1/verifications/\(id)")
        let newerOrder = try get("/v1/orders/\(id)")
        XCTAssertEqual(newerVerification["version"], 5)
        XCTAssertEqual(newerOrder["score"], "ID_VERIFIED")

        // A late writer projects the verification as it was at version 4, when its order was open.
        try database.pool(size: 1).transaction(scope: .system) { tx in
            let older = try XCTUnwrap(try VerificationStore.load(tx, organizationID: acme.id, id: id, asOf: olderAt))
            XCTAssertEqual(older.version, 4)
            XCTAssertNotNil(older.state.orderStatus)
            try VerificationStore.project(tx, organizationID: acme.id, older)
        }
        XCTAssertEqual(try get("/v1/verifications/\(id)"), newerVerification)
        XCTAssertEqual(try get("/v1/orders/\(id)"), newerOrder)
    }
}
