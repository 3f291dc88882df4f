import Foundation
import LedgerAPI
import LedgerCrypto
import LedgerDomain
@testable import LedgerStorage
import LedgerTestSupport
import XCTest

/// `GET /v1/events` and `GET /v1/entities/{entity_id}/events`: every filter, their combinations, and a cursor
/// that follows the gap-safe feed, so that an event committed late is never skipped.
final class EventHistoryTests: XCTestCase, ServiceTestCase {
    var service: ServiceFixture!
    var globex: TestOrganization!
    var start: Date!
    var clock: LockedBox<Date> { service.clock }

    override func setUpWithError() throws {
        try startService(clocked: true)
        start = clock.get()
        globex = try TestOrganization(database: database, name: "Globex")
    }

    func create(_ key: String, entity: String, at seconds: Double) throws -> String {
        clock.set(start.addingTimeInterval(seconds))
        let created = try client.post("/v1/verifications", json: ["entity_id": .string(entity), "checks": ["email"]], headers: .bearer(key))
        XCTAssertEqual(created.status, 201, created.text)
        return created.json?["id"]?.stringValue ?? ""
    }


    func ids(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String] {
        (try get(path, file: file, line: line)["data"]?.arrayValue ?? []).compactMap { $0["id"]?.stringValue }
    }

    func appendSystemEvent(to stream: String, version: Int64, at seconds: Double, on connection: PostgresConnection? = nil) throws -> String {
        let id = UUID()
        _ = try EventStore.append(try connection ?? database.ownerConnection(), organizationID: acme.id, streamID: stream,
                                  expectedVersion: .exact(version),
                                  events: [NewEvent(id: id, type: "MetadataUpdated", schemaVersion: 2, data: ["changes": ["by": "scheduler"]],
                                                    occurredAt: start.addingTimeInterval(seconds))],
                                  metadata: EventMetadata(actorID: "scheduler", actorType: .system))
        return id.uuidString.lowercased()
    }

    func testEveryFilterNarrowsTheOrganizationsHistoryInItsModeAndTheyCombine() throws {
        let first = try create(acme.writeKey, entity: "cus_a", at: 0)
        let second = try create(acme.writeKey, entity: "cus_b", at: 10)
        clock.set(start.addingTimeInterval(20))
        XCTAssertEqual(try client.post("/v1/verifications/\(first)/metadata", json: ["metadata": ["k": "v"]], headers: .bearer(acme.writeKey)).status, 200)
        let systemEvent = try appendSystemEvent(to: second, version: 1, at: 30)
        _ = try create(globex.writeKey, entity: "cus_a", at: 40)
        _ = try create(acme.liveAdminKey, entity: "cus_a", at: 50)

        let all = try get("/v1/events")["data"]?.arrayValue ?? []
        XCTAssertEqual(all.map { $0["verification_id"]?.stringValue }, [first, second, first, second], "acme's test mode only, in log order")
        XCTAssertEqual(all.map { $0["type"]?.stringValue }, ["VerificationInvited", "VerificationInvited", "MetadataUpdated", "MetadataUpdated"])
        let positions = all.compactMap { $0["position"]?.intValue }
        XCTAssertEqual(positions, positions.sorted())
        XCTAssertEqual(all.first?["version"], 1)
        XCTAssertEqual(all.first?["occurred_at"], .string(Timestamp.rfc3339(start)))
        XCTAssertEqual(all.first?["hash"]?.stringValue?.count, 64)
        XCTAssertEqual(all.first?["previous_hash"]?.stringValue, String(repeating: "0", count: 64), "the first event of a stream chains from genesis")
        let keyID = try XCTUnwrap(all.first?["metadata"]?["actor_id"]?.stringValue)
        let allIDs = all.compactMap { $0["id"]?.stringValue }

        XCTAssertEqual(try ids("/v1/events?type=VerificationInvited"), [allIDs[0], allIDs[1]])
        XCTAssertEqual(try ids("/v1/events?verification_id=\(first)"), [allIDs[0], allIDs[2]])
        XCTAssertEqual(try ids("/v1/events?entity_id=cus_a"), [allIDs[0], allIDs[2]])
        XCTAssertEqual(try ids("/v1/events?actor_type=system"), [systemEvent])
        XCTAssertEqual(try ids("/v1/events?actor_type=api_key"), Array(allIDs.prefix(3)))
        XCTAssertEqual(try ids("/v1/events?actor_id=\(keyID)"), Array(allIDs.prefix(3)))
        XCTAssertEqual(try ids("/v1/events?actor_id=scheduler"), [systemEvent])
        XCTAssertEqual(try ids("/v1/events?occurred_after=\(Timestamp.rfc3339(start.addingTimeInterval(5)))"), Array(allIDs.suffix(3)))
        XCTAssertEqual(try ids("/v1/events?occurred_before=\(Int(start.timeIntervalSince1970) + 25)"), Array(allIDs.prefix(3)), "Unix seconds too")
        XCTAssertEqual(try ids("/v1/events?occurred_after=\(Int(start.timeIntervalSince1970))&occurred_before=\(Int(start.timeIntervalSince1970) + 30)"),
                       [allIDs[1], allIDs[2]], "both bounds exclusive")
        XCTAssertEqual(try ids("/v1/events?type=MetadataUpdated&entity_id=cus_b"), [systemEvent])
        XCTAssertEqual(try ids("/v1/events?type=MetadataUpdated&actor_type=api_key&verification_id=\(first)"), [allIDs[2]])
        XCTAssertEqual(try ids("/v1/events?type=Nothing"), [])
        XCTAssertEqual(try ids("/v1/events?entity_id="), allIDs, "an empty filter does not filter")

        XCTAssertEqual(try ids("/v1/entities/cus_a/events"), [allIDs[0], allIDs[2]])
        XCTAssertEqual(try ids("/v1/entities/cus_b/events"), [allIDs[1], allIDs[3]])
        XCTAssertEqual(try get("/v1/entities/cus_nobody/events", expect: 404)["error"]?["param"], "entity_id")
        XCTAssertEqual(try get("/v1/entities/cus_a/events", key: globex.readKey)["data"]?.arrayValue?.count, 1, "globex's own cus_a")
        XCTAssertEqual(try get("/v1/events", key: acme.liveAdminKey)["data"]?.arrayValue?.count, 1, "live mode sees its one event")

        XCTAssertEqual(try get("/v1/events?actor_type=robot", expect: 400)["error"]?["param"], "actor_type")
        XCTAssertEqual(try get("/v1/events?occurred_after=yesterday", expect: 400)["error"]?["param"], "occurred_after")
        XCTAssertEqual(try get("/v1/events?cursor=12", expect: 400)["error"]?["param"], "cursor")
        XCTAssertEqual(try get("/v1/events?cursor=99999999999999999999-1", expect: 400)["error"]?["param"], "cursor")
        XCTAssertEqual(try get("/v1/events?limit=101", expect: 400)["error"]?["param"], "limit")
        XCTAssertEqual(try get("/v1/events?verification=x", expect: 400)["error"]?["code"], "parameter_unknown")
    }

    func testTheCursorPagesThroughEveryEventOnceAndThenWaitsForNewOnes() throws {
        var created: [String] = []
        for number in 0..<5 { created.append(try create(acme.writeKey, entity: "cus_\(number)", at: Double(number))) }
        var seen: [String] = []
        var cursor = ""
        var pages = 0
        while true {
            let page = try get("/v1/events?limit=2&cursor=\(cursor)")
            seen += (page["data"]?.arrayValue ?? []).compactMap { $0["verification_id"]?.stringValue }
            cursor = try XCTUnwrap(page["next_cursor"]?.stringValue)
            pages += 1
            if page["has_more"] != true { break }
        }
        XCTAssertEqual(seen, created)
        XCTAssertEqual(pages, 3)
        let caughtUp = try get("/v1/events?cursor=\(cursor)")
        XCTAssertEqual(caughtUp["data"]?.arrayValue?.count, 0)
        XCTAssertEqual(caughtUp["next_cursor"]?.stringValue, cursor, "with nothing new the cursor stays")
        let later = try create(acme.writeKey, entity: "cus_later", at: 10)
        XCTAssertEqual(try get("/v1/events?cursor=\(cursor)")["data"]?.arrayValue?.compactMap { $0["verification_id"]?.stringValue }, [later])
    }

    /// A writer draws its position first and commits last. A cursor that followed positions alone would be
    /// past it when it commits; the feed's cursor never is.
    func testAnEventCommittedLateIsNeverSkippedByACursorHandedOutBefore() throws {
        let first = try create(acme.writeKey, entity: "cus_a", at: 0)
        let late = try database.ownerConnection()
        try late.execute("BEGIN")
        let lateEvent = try appendSystemEvent(to: first, version: 1, at: 1, on: late)
        let after = try create(acme.writeKey, entity: "cus_b", at: 2)

        let page = try get("/v1/events")
        XCTAssertEqual(page["data"]?.arrayValue?.compactMap { $0["verification_id"]?.stringValue }, [first],
                       "an event of a later transaction waits while an earlier one runs")
        let cursor = try XCTUnwrap(page["next_cursor"]?.stringValue)
        try late.execute("COMMIT")

        let next = try get("/v1/events?cursor=\(cursor)")["data"]?.arrayValue ?? []
        XCTAssertEqual(next.compactMap { $0["id"]?.stringValue }.first, lateEvent, "the late event comes after the cursor, not behind it")
        XCTAssertEqual(next.compactMap { $0["verification_id"]?.stringValue }, [first, after])
        let positions = next.compactMap { $0["position"]?.intValue }
        XCTAssertEqual(positions.count, 2)
        XCTAssertLessThan(positions.first ?? 0, positions.last ?? 0,
                          "the late event holds the earlier position: a cursor by position alone, handed out at the later one, skips it")
    }

    /// `occurred_after` starts its walk of the feed after the last leaf of the tree whose events all occurred at
    /// or before the time (Schema/052). Times out of feed order, events the tree has not taken yet and another
    /// organization's leaves in between must change nothing in the answer: every later event, in feed order.
    func testOccurredAfterFindsEveryLaterEventWhateverTheOrderOfTimesAlongTheFeed() throws {
        let first = try create(acme.writeKey, entity: "cus_a", at: 0)
        _ = try create(globex.writeKey, entity: "cus_g", at: 500)
        var version: Int64 = 1
        for seconds in [100.0, 50, 200, 10, 300, 300, 20] {
            _ = try appendSystemEvent(to: first, version: version, at: seconds)
            version += 1
        }
        XCTAssertEqual(try MerkleLog.appendAll(database.pool(size: 1), hasher: LibcryptoAudit().merkleHasher), 9)
        for seconds in [5.0, 400] {
            _ = try appendSystemEvent(to: first, version: version, at: seconds)
            version += 1
        }
        let all = try get("/v1/events")["data"]?.arrayValue ?? []
        XCTAssertEqual(all.count, 10)
        for seconds in [-1.0, 0, 5, 10, 15, 20, 50, 99, 100, 150, 200, 250, 300, 350, 400, 500] {
            let time = start.addingTimeInterval(seconds)
            let expected = all.filter { ($0["occurred_at"]?.stringValue.flatMap(Timestamp.parse) ?? .distantPast) > time }.compactMap { $0["id"]?.stringValue }
            XCTAssertEqual(try ids("/v1/events?occurred_after=\(Timestamp.rfc3339(time))"), expected, "occurred after \(seconds) s")
            XCTAssertEqual(try ids("/v1/events?occurred_after=\(Timestamp.rfc3339(time))&verification_id=\(first)"), expected)
        }
    }

    /// Under row-level security a condition runs ahead of the policy, as an index condition, only if it is
    /// leakproof: on `metadata ->> 'actor_id'` it never was, and an actor's page walked the organization's feed.
    func testTheActorFiltersReadTheirIndexesAsTheServicesRole() throws {
        let stream = try create(acme.writeKey, entity: "cus_actors", at: 0)
        let owner = try database.ownerConnection()
        for actor in 0..<50 {
            _ = try EventStore.append(owner, organizationID: acme.id, streamID: stream, expectedVersion: .exact(Int64(1 + actor * 40)),
                                      events: (0..<40).map { _ in NewEvent(id: UUID(), type: "MetadataUpdated", schemaVersion: 2,
                                                                            data: ["changes": ["k": "v"]], occurredAt: start) },
                                      metadata: EventMetadata(actorID: "key_\(actor)", actorType: actor == 7 ? .system : .apiKey))
        }
        try owner.execute("ANALYZE ledger.events")
        let pool = database.pool(size: 1)
        for (filter, index) in [(EventFilter(actorType: "system"), "events_organization_actor_type"),
                                (EventFilter(actorID: "key_7"), "events_organization_actor_id")] {
            let (sql, parameters) = EventStore.historyQuery(select: "e.position", organizationID: acme.id, livemode: false, filter: filter,
                                                            after: .start, limit: 100)
            let plan = try pool.transaction(scope: .tenant(organizationID: acme.id, livemode: false)) { connection in
                let rows = try connection.query("EXPLAIN " + sql, parameters)
                return (0..<rows.count).compactMap { rows.string($0, 0) }.joined(separator: "\n")
            }
            XCTAssertTrue(plan.contains("Index Scan using \(index) "), "\(filter): \(plan)")
        }
    }

    func testTheEntityExportStreamsEveryEventInOrderThenTheCountAndTheChainHeads() throws {
        let first = try create(acme.writeKey, entity: "cus_export", at: 0)
        let second = try create(acme.writeKey, entity: "cus_export", at: 1)
        _ = try create(acme.writeKey, entity: "cus_other", at: 2)
        // More events than one page of the export reads, at times with no fraction of a second, half a second
        // (PostgreSQL writes ".5"), and fractions below and between milliseconds.
        let owner = try database.ownerConnection()
        let fractions = [0, 0.5, 0.0003, 0.1257]
        _ = try EventStore.append(owner, organizationID: acme.id, streamID: first, expectedVersion: .exact(1),
                                  events: (0..<2_500).map { NewEvent(id: UUID(), type: "MetadataUpdated", schemaVersion: 2,
                                                                     data: ["changes": ["n": .string("\($0)")]],
                                                                     occurredAt: start.addingTimeInterval(3 + fractions[$0 % fractions.count])) },
                                  metadata: EventMetadata(actorID: "import", actorType: .system))
        _ = try appendSystemEvent(to: second, version: 1, at: 4)

        let response = try client.get("/v1/entities/cus_export/export", headers: .bearer(acme.readKey))
        XCTAssertEqual(response.status, 200, response.text)
        XCTAssertEqual(response.header("Content-Type"), "application/x-ndjson")
        XCTAssertEqual(response.header("Content-Disposition"), "attachment; filename=\"cus_export-events.ndjson\"")
        XCTAssertEqual(response.header("Transfer-Encoding")?.lowercased(), "chunked")
        let lines = try response.text.split(separator: "\n").map { try JSONValue.parse(Array($0.utf8)) }
        XCTAssertEqual(lines.count, 2 + 2_500 + 1 + 1)
        let events = lines.dropLast()
        XCTAssertEqual(Set(events.compactMap { $0["verification_id"]?.stringValue }), [first, second])
        XCTAssertEqual(Set(events.compactMap { $0["id"]?.stringValue }).count, events.count, "each event once")
        XCTAssertEqual(events.last?["verification_id"]?.stringValue, second)

        // Put together from the cells' bytes for speed, each line is the item GET /v1/events gives, as JSON.
        func sorted(_ value: JSONValue) -> JSONValue {
            if let members = value.objectValue { return .object(members.map { ($0.0, sorted($0.1)) }.sorted { $0.0 < $1.0 }) }
            if let items = value.arrayValue { return .array(items.map(sorted)) }
            return value
        }
        let listed = try get("/v1/events?entity_id=cus_export&limit=100")["data"]?.arrayValue ?? []
        XCTAssertEqual(listed.count, 100)
        XCTAssertEqual(events.prefix(100).map(sorted), listed.map(sorted))
        XCTAssertEqual(events.last.map(sorted), (try get("/v1/events?verification_id=\(second)")["data"]?.arrayValue?.last).map(sorted))

        let summary = try XCTUnwrap(lines.last)
        XCTAssertEqual(summary["object"], "export_summary")
        XCTAssertEqual(summary["event_count"], .int(Int64(events.count)))
        let heads = try owner.query("SELECT stream_id, version, encode(head_hash, 'hex') FROM ledger.streams WHERE stream_id IN ($1, $2) ORDER BY version DESC",
                                    [first, second])
        XCTAssertEqual(summary["chain_heads"], .array((0..<heads.count).map { row in
            ["verification_id": .string(heads.string(row, 0) ?? ""), "version": .int(heads.int64(row, 1) ?? 0), "hash": .string(heads.string(row, 2) ?? "")]
        }), "each verification's last version and hash, as its stream's head records them")

        XCTAssertEqual(try client.get("/v1/entities/cus_export/export", headers: .bearer(globex.readKey)).status, 404)
        XCTAssertEqual(try client.get("/v1/entities/cus_nobody/export", headers: .bearer(acme.readKey)).status, 404)
    }
}
