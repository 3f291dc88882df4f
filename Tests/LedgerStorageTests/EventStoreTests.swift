import Foundation
import LedgerCrypto
import LedgerDomain
import LedgerStorage
import LedgerTestSupport
import Synchronization
import XCTest

final class EventStoreTests: XCTestCase {
    var database: TestDatabase!
    var pool: ConnectionPool!
    let organization = UUID()
    let metadata = EventMetadata(actorID: "key_test", actorType: .apiKey, requestID: "req_1", idempotencyKey: nil,
                                 causationID: "cmd_1", correlationID: "corr_1")

    override func setUpWithError() throws {
        database = try makeDatabase()
        pool = database.pool()
    }

    func event(_ type: String = "ThingHappened", _ data: JSONValue = ["n": 1]) -> NewEvent {
        NewEvent(id: UUID(), type: type, data: data, occurredAt: Date(timeIntervalSince1970: 1_795_000_000.123456))
    }

    func append(_ stream: String, _ expected: ExpectedVersion, _ events: [NewEvent]) throws -> AppendResult {
        try pool.withConnection(scope: .system) {
            try EventStore.append($0, organizationID: organization, streamID: stream, expectedVersion: expected,
                                  events: events, metadata: metadata)
        }
    }

    func testAppendAssignsGapFreeVersionsAndReadsBack() throws {
        let first = try append("verification-1", .noStream, [event("A"), event("B")])
        XCTAssertEqual(first.events.map(\.version), [1, 2])
        let second = try append("verification-1", .exact(2), [event("C", ["nested": ["x": [1, 2, "three"]]])])
        XCTAssertEqual(second.newVersion, 3)
        XCTAssertGreaterThan(second.events[0].position, first.events[1].position)

        let events = try pool.withConnection(scope: .system) {
            try EventStore.readStream($0, organizationID: organization, streamID: "verification-1")
        }
        XCTAssertEqual(events.map(\.type), ["A", "B", "C"])
        XCTAssertEqual(events.map(\.version), [1, 2, 3])
        XCTAssertEqual(events[2].data, ["nested": ["x": [1, 2, "three"]]])
        XCTAssertEqual(events[0].metadata, metadata)
        XCTAssertEqual(events[0].occurredAt.timeIntervalSince1970, 1_795_000_000.123456, accuracy: 0.000001)
        XCTAssertEqual(events[0].previousHash, [UInt8](repeating: 0, count: 32))
        XCTAssertEqual(events[1].previousHash, events[0].hash)
        XCTAssertEqual(events[2].previousHash, events[1].hash)

        let after = try pool.withConnection(scope: .system) {
            try EventStore.readStream($0, organizationID: organization, streamID: "verification-1", afterVersion: 2)
        }
        XCTAssertEqual(after.map(\.version), [3])
        XCTAssertEqual(try pool.withConnection(scope: .system) { try EventStore.version($0, organizationID: organization, streamID: "verification-1") }, 3)
        XCTAssertEqual(try pool.withConnection(scope: .system) { try EventStore.version($0, organizationID: organization, streamID: "nope") }, 0)
    }

    func testHashIsSHA256OfPreviousHashAndDocumentedCanonicalBytes() throws {
        let id = UUID()
        let data: JSONValue = ["b": "two", "a": 1]
        _ = try append("s", .noStream, [NewEvent(id: id, type: "T", schemaVersion: 3, data: data,
                                                  occurredAt: Date(timeIntervalSince1970: 1_700_000_000.5))])
        let stored = try pool.withConnection(scope: .system) { try EventStore.readStream($0, organizationID: organization, streamID: "s") }[0]
        // Rebuilt here from Schema/004's definition, independently of the SQL function.
        let metadataText = try pool.withConnection(scope: .system) {
            try $0.query("SELECT metadata::text, data::text FROM ledger.events WHERE event_id = $1", [id])
        }
        let fields = ["ledger-event-v1", id.uuidString.lowercased(), organization.uuidString.lowercased(), "s", "1", "T", "3",
                      "2023-11-14T22:13:20.500000Z", metadataText.string(0, 1) ?? "", metadataText.string(0, 0) ?? ""]
        XCTAssertEqual(metadataText.string(0, 1), #"{"a": 1, "b": "two"}"#)
        let canonical = fields.map { "\($0.utf8.count):\($0)" }.joined()
        XCTAssertEqual(stored.hash, Digest.sha256([UInt8](repeating: 0, count: 32) + Array(canonical.utf8)))
    }

    func testExpectedVersionConflictsNameTheCurrentVersion() throws {
        _ = try append("s", .noStream, [event()])
        XCTAssertThrowsError(try append("s", .noStream, [event()])) { error in
            XCTAssertEqual(error as? AppendError, .wrongExpectedVersion(streamID: "s", expected: .noStream, current: 1))
        }
        XCTAssertThrowsError(try append("s", .exact(5), [event()])) { error in
            XCTAssertEqual(error as? AppendError, .wrongExpectedVersion(streamID: "s", expected: .exact(5), current: 1))
        }
        XCTAssertThrowsError(try append("other", .exact(1), [event()])) { error in
            XCTAssertEqual(error as? AppendError, .wrongExpectedVersion(streamID: "other", expected: .exact(1), current: 0))
        }
        XCTAssertEqual(try append("s", .any, [event()]).newVersion, 2)
        XCTAssertEqual(try append("fresh", .any, [event()]).newVersion, 1)
        // A refused append leaves nothing behind.
        XCTAssertEqual(try pool.withConnection(scope: .system) { try EventStore.version($0, organizationID: organization, streamID: "other") }, 0)
    }

    func testSameEventIDsAreStoredOnce() throws {
        let events = [event("A"), event("B")]
        let first = try append("s", .noStream, events)
        let again = try append("s", .noStream, events)
        XCTAssertEqual(again, first)
        XCTAssertEqual(try pool.withConnection(scope: .system) { try EventStore.readStream($0, organizationID: organization, streamID: "s") }.count, 2)
        XCTAssertThrowsError(try append("s", .any, [events[0], event("C")])) { error in
            XCTAssertEqual(error as? AppendError, .eventsPartlyStored(streamID: "s"))
        }
        XCTAssertThrowsError(try append("elsewhere", .any, events)) { error in
            XCTAssertEqual(error as? AppendError, .eventsPartlyStored(streamID: "elsewhere"))
        }
        let third = [event("C")]
        let stored = try append("s", .exact(2), third)
        XCTAssertEqual(try append("s", .exact(2), third), stored, "a repeat at an exact version answers as the first time")
        XCTAssertThrowsError(try append("s", .exact(3), [third[0], event("D")])) { error in
            XCTAssertEqual(error as? AppendError, .eventsPartlyStored(streamID: "s"), "even when the version still matches")
        }
        XCTAssertThrowsError(try append("elsewhere", .noStream, third)) { error in
            XCTAssertEqual(error as? AppendError, .eventsPartlyStored(streamID: "elsewhere"))
        }
        XCTAssertEqual(try pool.withConnection(scope: .system) { try EventStore.readStream($0, organizationID: organization, streamID: "s") }.count, 3)
    }

    func testStreamsOfOtherOrganizationsAreSeparate() throws {
        _ = try append("s", .noStream, [event()])
        let other = UUID()
        let result = try pool.withConnection(scope: .system) {
            try EventStore.append($0, organizationID: other, streamID: "s", expectedVersion: .noStream,
                                  events: [self.event()], metadata: self.metadata)
        }
        XCTAssertEqual(result.newVersion, 1)
        let feed = try pool.withConnection(scope: .system) { try EventStore.readFeed($0, after: .start, limit: 100, organizationID: other) }
        XCTAssertEqual(feed.map(\.organizationID), [other])
    }

    func testSixteenConcurrentWritersOnOneStreamWriteEachVersionOnce() throws {
        let writers = 16
        let target: Int64 = 400
        let pool = database.pool(size: writers)
        let successes = Mutex<[(version: Int64, eventID: UUID)]>([])
        let conflicts = Atomic<Int>(0)
        let unexpected = Mutex<[String]>([])
        let organization = self.organization, metadata = self.metadata
        concurrently(writers) { writer in
            do {
                try pool.withConnection(scope: .system) { connection in
                    while true {
                        let current = try EventStore.version(connection, organizationID: organization, streamID: "hot")
                        if current >= target { return }
                        let newEvent = NewEvent(id: UUID(), type: "Bumped", data: ["writer": .int(Int64(writer))], occurredAt: Date())
                        do {
                            let result = try EventStore.append(connection, organizationID: organization, streamID: "hot",
                                                               expectedVersion: current == 0 ? .noStream : .exact(current),
                                                               events: [newEvent], metadata: metadata)
                            successes.withLock { $0.append((result.newVersion, newEvent.id)) }
                        } catch let AppendError.wrongExpectedVersion(_, _, now) {
                            XCTAssertGreaterThan(now, current)
                            conflicts.add(1, ordering: .relaxed)
                        }
                    }
                }
            } catch {
                unexpected.withLock { $0.append("\(error)") }
            }
        }
        XCTAssertEqual(unexpected.withLock { $0 }, [])
        let won = successes.withLock { $0 }.sorted { $0.version < $1.version }
        XCTAssertEqual(won.map(\.version), Array(1...target))
        XCTAssertGreaterThan(conflicts.load(ordering: .relaxed), 0, "16 writers on one stream should collide")
        let stored = try pool.withConnection(scope: .system) { try EventStore.readStream($0, organizationID: organization, streamID: "hot") }
        XCTAssertEqual(stored.map(\.version), Array(1...target))
        XCTAssertEqual(stored.map(\.id), won.map(\.eventID))
        let report = try pool.withConnection(scope: .system) { try ChainVerifier.verifyStream($0, organizationID: organization, streamID: "hot") }
        XCTAssertTrue(report.isIntact)
        XCTAssertEqual(report.eventsChecked, Int(target))
    }

    func testAppendJoinsTheCallersTransaction() throws {
        XCTAssertThrowsError(try pool.transaction(scope: .system) { tx in
            _ = try EventStore.append(tx, organizationID: organization, streamID: "s", expectedVersion: .noStream,
                                      events: [event()], metadata: metadata)
            try tx.execute("SELECT 1/0")
        })
        XCTAssertEqual(try pool.withConnection(scope: .system) { try EventStore.version($0, organizationID: organization, streamID: "s") }, 0)
        XCTAssertEqual(try pool.withConnection(scope: .system) { try EventStore.readFeed($0, after: .start, limit: 10) }.count, 0)
    }
}
