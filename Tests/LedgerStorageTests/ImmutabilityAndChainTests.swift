import Foundation
import LedgerDomain
import LedgerStorage
import LedgerTestSupport
import XCTest

final class ImmutabilityAndChainTests: XCTestCase {
    var database: TestDatabase!
    var pool: ConnectionPool!
    let organization = UUID()

    override func setUpWithError() throws {
        database = try makeDatabase()
        pool = database.pool()
    }

    /// Appends `count` events to `stream`, one append each, so they sit at distinct positions.
    @discardableResult
    func fill(_ stream: String, _ count: Int, organization: UUID? = nil) throws -> [AppendResult.Stored] {
        var stored: [AppendResult.Stored] = []
        for n in 1...count {
            let result = try pool.withConnection(scope: .system) {
                try EventStore.append($0, organizationID: organization ?? self.organization, streamID: stream,
                                      expectedVersion: .exact(Int64(n - 1)),
                                      events: [NewEvent(id: UUID(), type: "Step", data: ["n": .int(Int64(n))], occurredAt: Date())],
                                      metadata: EventMetadata(actorID: "tester", actorType: .user))
            }
            stored += result.events
        }
        return stored
    }

    func assertRefused(_ sql: String, on connection: PostgresConnection, sqlState: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try connection.execute(sql), file: file, line: line) { error in
            XCTAssertEqual((error as? PostgresError)?.sqlState, sqlState, "\(error)", file: file, line: line)
        }
    }

    func testUpdateDeleteAndTruncateFailEvenForTheOwner() throws {
        try fill("s", 3)
        let owner = try database.ownerConnection()
        let isSuperuser = try owner.query("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").bool(0, 0)
        XCTAssertEqual(isSuperuser, true, "the embedded test cluster connects as its superuser")
        assertRefused("UPDATE ledger.events SET type = 'Forged'", on: owner, sqlState: "LD002")
        assertRefused("DELETE FROM ledger.events", on: owner, sqlState: "LD002")
        assertRefused("TRUNCATE ledger.events", on: owner, sqlState: "LD002")
        assertRefused("TRUNCATE ledger.events CASCADE", on: owner, sqlState: "LD002")
        XCTAssertEqual(try owner.query("SELECT count(*) FROM ledger.events").int(0, 0), 3)
    }

    func testTheServiceRoleMayOnlyInsertAndSelectEvents() throws {
        try fill("s", 2)
        try pool.withConnection(scope: .system) { service in
            XCTAssertEqual(try service.query("SELECT current_user").string(0, 0), "ledger_service")
            XCTAssertEqual(try service.query("SELECT count(*) FROM ledger.events").int(0, 0), 2)
            self.assertRefused("UPDATE ledger.events SET type = 'Forged'", on: service, sqlState: "42501")
            self.assertRefused("DELETE FROM ledger.events", on: service, sqlState: "42501")
            self.assertRefused("TRUNCATE ledger.events", on: service, sqlState: "42501")
        }
    }

    func testAnIntactLedgerVerifies() throws {
        try fill("a", 5)
        try fill("b", 3)
        try fill("a", 2, organization: UUID())
        let report = try pool.withConnection(scope: .system) { try ChainVerifier.verifyAll($0) }
        XCTAssertEqual(report, ChainReport(streamsChecked: 3, eventsChecked: 10, firstBreak: nil))
        let one = try pool.withConnection(scope: .system) { try ChainVerifier.verifyAll($0, organizationID: self.organization) }
        XCTAssertEqual(one.streamsChecked, 2)
        XCTAssertEqual(one.eventsChecked, 8)
    }

    /// A superuser can switch the trigger off; the chain still tells.
    func testContentAlteredBehindTheTriggersBackIsFoundAtItsPosition() throws {
        try fill("a", 2)
        let stored = try fill("b", 5)
        try fill("c", 2)
        let owner = try database.ownerConnection()
        try owner.execute("""
            ALTER TABLE ledger.events DISABLE TRIGGER events_refuse_update_delete;
            UPDATE ledger.events SET data = '{"n": 999}' WHERE stream_id = 'b' AND version = 3;
            ALTER TABLE ledger.events ENABLE TRIGGER events_refuse_update_delete;
            """)
        let expected = ChainBreak(organizationID: organization, streamID: "b", version: 3, position: stored[2].position,
                                  reason: .contentAltered)
        let stream = try pool.withConnection(scope: .system) { try ChainVerifier.verifyStream($0, organizationID: self.organization, streamID: "b") }
        XCTAssertEqual(stream.firstBreak, expected)
        let all = try pool.withConnection(scope: .system) { try ChainVerifier.verifyAll($0) }
        XCTAssertEqual(all.firstBreak, expected)
        XCTAssertTrue(try pool.withConnection(scope: .system) { try ChainVerifier.verifyStream($0, organizationID: self.organization, streamID: "c") }.isIntact)
    }

    func testARehashedForgeryBreaksTheNextLink() throws {
        let stored = try fill("b", 4)
        let owner = try database.ownerConnection()
        try owner.execute("""
            SET session_replication_role = replica;
            UPDATE ledger.events SET data = '{"n": 999}', hash = sha256(previous_hash || ledger.event_canonical_bytes(
                event_id, organization_id, stream_id, version, type, schema_version, '{"n": 999}', metadata, occurred_at))
            WHERE stream_id = 'b' AND version = 2;
            SET session_replication_role = DEFAULT;
            """)
        let report = try pool.withConnection(scope: .system) { try ChainVerifier.verifyStream($0, organizationID: self.organization, streamID: "b") }
        XCTAssertEqual(report.firstBreak, ChainBreak(organizationID: organization, streamID: "b", version: 3,
                                                     position: stored[2].position, reason: .previousHashMismatch))
    }

    func testRemovedEventsAreFound() throws {
        let stored = try fill("b", 4)
        let owner = try database.ownerConnection()
        try owner.execute("""
            SET session_replication_role = replica;
            DELETE FROM ledger.events WHERE stream_id = 'b' AND version = 2;
            SET session_replication_role = DEFAULT;
            """)
        let middle = try pool.withConnection(scope: .system) { try ChainVerifier.verifyStream($0, organizationID: self.organization, streamID: "b") }
        XCTAssertEqual(middle.firstBreak, ChainBreak(organizationID: organization, streamID: "b", version: 3,
                                                     position: stored[2].position, reason: .versionGap(expected: 2)))

        try owner.execute("""
            SET session_replication_role = replica;
            DELETE FROM ledger.events WHERE stream_id = 'b' AND version >= 2;
            SET session_replication_role = DEFAULT;
            """)
        let tail = try pool.withConnection(scope: .system) { try ChainVerifier.verifyStream($0, organizationID: self.organization, streamID: "b") }
        XCTAssertEqual(tail.firstBreak, ChainBreak(organizationID: organization, streamID: "b", version: 2, position: nil,
                                                   reason: .headMismatch(headVersion: 4)))
    }
}
