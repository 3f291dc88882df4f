import Foundation
import LedgerDomain
import LedgerStorage
import LedgerTestSupport
import Synchronization
import XCTest

final class GlobalFeedTests: XCTestCase {
    var database: TestDatabase!
    let organization = UUID()
    let metadata = EventMetadata(actorID: "tester", actorType: .system)

    override func setUpWithError() throws {
        database = try makeDatabase()
    }

    func newEvent() -> NewEvent { NewEvent(id: UUID(), type: "Happened", data: [:], occurredAt: Date()) }

    /// Reads the feed from `cursor` to its current end.
    func drain(_ connection: PostgresConnection, from cursor: inout FeedCursor, batch: Int = 100) throws -> [RecordedEvent] {
        var seen: [RecordedEvent] = []
        while true {
            let page = try EventStore.readFeed(connection, after: cursor, limit: batch)
            seen += page
            if let last = page.last { cursor = last.feedCursor }
            if page.count < batch { return seen }
        }
    }

    func testAnEarlierPositionCommittingLastIsStillDelivered() throws {
        let slow = try database.ownerConnection()
        let fast = try database.ownerConnection()
        let reader = try database.ownerConnection()

        try slow.execute("BEGIN")
        let lower = try EventStore.append(slow, organizationID: organization, streamID: "a", expectedVersion: .any,
                                          events: [newEvent()], metadata: metadata).events[0].position
        let higher = try EventStore.append(fast, organizationID: organization, streamID: "b", expectedVersion: .any,
                                           events: [newEvent()], metadata: metadata).events[0].position
        XCTAssertLessThan(lower, higher)

        // The race is real: a reader going by position alone would now move past `lower` for good.
        let naive = try reader.query("SELECT position FROM ledger.events ORDER BY position")
        XCTAssertEqual(naive.count, 1)
        XCTAssertEqual(naive.int64(0, 0), higher)

        var cursor = FeedCursor.start
        var seen = try drain(reader, from: &cursor)
        XCTAssertEqual(seen.map(\.position), [], "nothing may be handed out while an older writer is in flight")

        try slow.execute("COMMIT")
        XCTAssertTrue(try eventually {
            seen += try drain(reader, from: &cursor)
            return seen.count >= 2
        })
        XCTAssertEqual(seen.map(\.position), [lower, higher])
        XCTAssertEqual(try drain(reader, from: &cursor).count, 0)
    }

    func testManyWritersAndReadersNeverSkipNorRepeat() throws {
        let writers = 6, transactionsPerWriter = 40, readers = 3, streams = 5
        let committed = Mutex<Set<UUID>>([])
        let writersDone = Atomic<Int>(0)
        let failures = Mutex<[String]>([])
        let readerLogs = Mutex<[[RecordedEvent]]>([])
        let conninfo = database.conninfo
        let organization = self.organization, metadata = self.metadata

        concurrently(writers + readers) { index in
            do {
                let connection = try PostgresConnection(conninfo: conninfo)
                if index < writers {
                    defer { writersDone.add(1, ordering: .releasing) }
                    for _ in 0..<transactionsPerWriter {
                        let events = (0..<Int.random(in: 1...3)).map { _ in
                            NewEvent(id: UUID(), type: "Happened", data: ["writer": .int(Int64(index))], occurredAt: Date())
                        }
                        try connection.execute("BEGIN")
                        _ = try EventStore.append(connection, organizationID: organization, streamID: "s\(Int.random(in: 0..<streams))",
                                                  expectedVersion: .any, events: events, metadata: metadata)
                        // Hold the transaction open a little so commits interleave out of position order.
                        try connection.query("SELECT pg_sleep($1)", [Double.random(in: 0...0.004)])
                        if Int.random(in: 0..<10) == 0 {
                            try connection.execute("ROLLBACK")
                        } else {
                            try connection.execute("COMMIT")
                            committed.withLock { $0.formUnion(events.map(\.id)) }
                        }
                    }
                } else {
                    var cursor = FeedCursor.start
                    var log: [RecordedEvent] = []
                    let deadline = Date().addingTimeInterval(60)
                    while Date() < deadline {
                        let finished = writersDone.load(ordering: .acquiring) == writers
                        let page = try EventStore.readFeed(connection, after: cursor, limit: Int.random(in: 1...20))
                        for event in page {
                            if !(cursor < event.feedCursor) { failures.withLock { $0.append("feed went backwards at \(event.position)") } }
                            cursor = event.feedCursor
                        }
                        log += page
                        if finished && page.isEmpty && log.count >= committed.withLock({ $0.count }) { break }
                    }
                    readerLogs.withLock { $0.append(log) }
                }
            } catch {
                failures.withLock { $0.append("\(error)") }
            }
        }
        XCTAssertEqual(failures.withLock { $0 }, [])
        let expected = committed.withLock { $0 }
        XCTAssertGreaterThan(expected.count, writers * transactionsPerWriter / 2)
        for log in readerLogs.withLock({ $0 }) {
            XCTAssertEqual(log.count, expected.count, "each reader sees every committed event exactly once")
            XCTAssertEqual(Set(log.map(\.id)), expected)
        }
        XCTAssertEqual(readerLogs.withLock { $0.count }, readers)
    }
}
