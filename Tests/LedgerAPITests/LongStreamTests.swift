import Foundation
import LedgerAPI
import LedgerDomain
import LedgerEngine
import LedgerStorage
import LedgerTestSupport
import XCTest

/// A verification whose stream holds more events than one read brings (over 10,000) behaves as a short one.
final class LongStreamTests: XCTestCase, ClockedServiceTestCase {
    var service: ServiceFixture!

    override func setUpWithError() throws {
        try startClockedService()
        auth = .bearer(acme.readKey)
    }

    func testAStreamOfMoreThanTenThousandEventsTakesCommandsPaginatesAndAnswersAsOf() throws {
        let created = try client.post("/v1/verifications", json: ["entity_id": "cus_1", "checks": ["email"]],
                                      headers: .bearer(acme.writeKey))
        XCTAssertEqual(created.status, 201, created.text)
        let id = try XCTUnwrap(created.json?["id"]?.stringValue)

        // 10,500 metadata changes appended straight to the stream (a day of a busy integration), event n at
        // start + n + 1 seconds. The read model is left at version 1, as a long-lived state cache entry is.
        let start = clock.get()
        let owner = try database.ownerConnection()
        var version: Int64 = 1
        let appended = 10_500
        for first in stride(from: 0, to: appended, by: 1_500) {
            let events = (first..<min(appended, first + 1_500)).map { n in
                let event = VerificationEvent.metadataUpdated(changes: ["n": String(n)])
                return NewEvent(id: UUID(), type: event.type, schemaVersion: event.schemaVersion, data: event.data,
                                occurredAt: start.addingTimeInterval(Double(n + 1)))
            }
            version = try EventStore.append(owner, organizationID: acme.id, streamID: id, expectedVersion: .exact(version),
                                            events: events, metadata: EventMetadata(actorID: "test", actorType: .system)).newVersion
        }
        XCTAssertEqual(version, 10_501)
        clock.set(start.addingTimeInterval(Double(appended) + 60))

        let command = try client.post("/v1/verifications/\(id)/metadata", json: ["metadata": ["after": "yes"]],
                                      headers: .bearer(acme.writeKey))
        XCTAssertEqual(command.status, 200, command.text)
        XCTAssertEqual(command.json?["version"], 10_502)
        XCTAssertEqual(command.json?["metadata"], ["n": "10499", "after": "yes"])
        XCTAssertEqual(command.header("ETag"), "\"10502\"")

        let asOf = try get("/v1/verifications/\(id)?as_of=\(Timestamp.rfc3339(start.addingTimeInterval(10_200)))")
        XCTAssertEqual(asOf["version"], 10_201, "the invite and events 0 to 10199")
        XCTAssertEqual(asOf["metadata"], ["n": "10199"])

        var versions: [Int64] = []
        var cursor: String?
        var pages = 0
        repeat {
            let page = try get("/v1/verifications/\(id)/events?limit=100" + (cursor.map { "&starting_after=\($0)" } ?? ""))
            let data = page["data"]?.arrayValue ?? []
            versions += data.compactMap { $0["version"]?.intValue }
            cursor = page["has_more"] == true ? data.last?["id"]?.stringValue : nil
            pages += 1
        } while cursor != nil && pages < 200
        XCTAssertEqual(versions, Array(1...10_502), "every event once, in order, with has_more true until the last page")
        XCTAssertEqual(pages, 106)

        let whole = try get("/v1/verifications/\(id)/events")
        XCTAssertEqual(whole["data"]?.arrayValue?.count, 100, "100 a page unless asked otherwise")
        XCTAssertEqual(whole["has_more"], true)
        XCTAssertEqual(whole["data"]?.arrayValue?.prefix(2).map { $0["schema_version"] }, [1, 2],
                       "each event says the shape its data is in: the invite's first, metadata changes' second")
        XCTAssertEqual(try get("/v1/verifications/\(id)/events?starting_after=evt_1", expect: 400)["error"]?["param"], "starting_after")
        XCTAssertEqual(try get("/v1/verifications/\(id)/events?starting_after=\(UUID().uuidString)", expect: 404)["error"]?["param"],
                       "starting_after", "an event id that is not one of this verification's names nothing")
        XCTAssertEqual(try get("/v1/verifications/\(id)/events?limit=101", expect: 400)["error"]?["param"], "limit")

        // The command left the state at its version in a snapshot; a server without a state cache reads the
        // stream for every command, from there. A hand-edited snapshot shows that it is the one folded from,
        // `--check` names it, and a replay rebuilds it from the log.
        XCTAssertEqual(try owner.query("SELECT version FROM ledger.stream_snapshots WHERE id = $1", [id]).int64(0, 0), 10_502)
        let clock = self.clock
        let uncached = try TestServer(database: database, api: APIConfiguration(authCacheSeconds: 0, logRequests: false, clock: { clock.get() },
                                                                                stateCacheSize: 0))
        defer { uncached.stop() }
        let fresh = TestClient(baseURL: uncached.baseURL)
        try owner.query("UPDATE ledger.stream_snapshots SET state = replace(state, '\"after\":\"yes\"', '\"after\":\"edited\"') WHERE id = $1", [id])
        let fromSnapshot = try fresh.post("/v1/verifications/\(id)/metadata", json: ["metadata": ["more": "1"]], headers: .bearer(acme.writeKey))
        XCTAssertEqual(fromSnapshot.status, 200, fromSnapshot.text)
        XCTAssertEqual(fromSnapshot.json?["metadata"], ["n": "10499", "after": "edited", "more": "1"])
        XCTAssertEqual(try Replay.check(owner, projections: Projections.inline.filter { $0.name == "stream_snapshots" }).map(\.id), [id])
        try Replay.repair(owner)
        XCTAssertEqual(try Replay.check(owner), [])
        for round in 2...30 {
            let next = try fresh.post("/v1/verifications/\(id)/metadata", json: ["metadata": ["more": JSONValue.string(String(round))]], headers: .bearer(acme.writeKey))
            XCTAssertEqual(next.status, 200, next.text)
            XCTAssertEqual(next.json?["version"]?.intValue, Int64(10_502 + round))
            XCTAssertEqual(next.json?["metadata"]?["after"], "yes", "the rebuilt snapshot holds what the log does")
        }
        XCTAssertEqual(try owner.query("SELECT version FROM ledger.stream_snapshots WHERE id = $1", [id]).int64(0, 0), 10_532)
    }
}
