import Foundation
import LedgerCrypto
import LedgerDomain
@testable import LedgerStorage
import LedgerTestSupport
import XCTest

final class IdempotencyStoreTests: XCTestCase {
    var database: TestDatabase!
    var pool: ConnectionPool!
    let organization = UUID()

    override func setUpWithError() throws {
        database = try makeDatabase()
        pool = database.pool()
    }

    /// A command that appends one event and answers with the new version.
    func command(_ request: String) -> (PostgresConnection) throws -> StoredResponse {
        { tx in
            let result = try EventStore.append(
                tx, organizationID: self.organization, streamID: "s", expectedVersion: .any,
                events: [NewEvent(id: UUID(), type: "Requested", data: ["request": .string(request)], occurredAt: Date())],
                metadata: EventMetadata(actorID: "tester", actorType: .apiKey, idempotencyKey: "key-1"))
            return StoredResponse(status: 201, body: Array("{\"version\":\(result.newVersion)}".utf8))
        }
    }

    func run(key: String, request: String) throws -> IdempotencyStore.Outcome {
        try IdempotencyStore.run(pool, organizationID: organization, key: key, requestHash: Digest.sha256(request),
                                 command: command(request))
    }

    func streamLength() throws -> Int {
        try pool.withConnection(scope: .system) { try EventStore.readStream($0, organizationID: self.organization, streamID: "s") }.count
    }

    func testTheSameRequestReplaysTheFirstResponseAndRunsOnce() throws {
        let first = try run(key: "key-1", request: "a")
        XCTAssertEqual(first, .executed(StoredResponse(status: 201, body: Array(#"{"version":1}"#.utf8))))
        let second = try run(key: "key-1", request: "a")
        XCTAssertEqual(second, .replayed(first.response))
        XCTAssertEqual(try streamLength(), 1)
        XCTAssertEqual(try run(key: "key-2", request: "a").response.body, Array(#"{"version":2}"#.utf8))
    }

    func testTheSameKeyWithAnotherRequestIsRefused() throws {
        _ = try run(key: "key-1", request: "a")
        XCTAssertThrowsError(try run(key: "key-1", request: "b")) { error in
            XCTAssertEqual(error as? IdempotencyError, .keyReusedWithDifferentRequest(key: "key-1"))
        }
        XCTAssertEqual(try streamLength(), 1)
    }

    func testKeysAreScopedToTheOrganization() throws {
        _ = try run(key: "key-1", request: "a")
        let other = try IdempotencyStore.run(pool, organizationID: UUID(), key: "key-1", requestHash: Digest.sha256("b")) { _ in
            StoredResponse(status: 200, body: [])
        }
        XCTAssertEqual(other, .executed(StoredResponse(status: 200, body: [])))
    }

    func testAFailedCommandKeepsNothingSoTheKeyCanBeRetried() throws {
        struct Boom: Error {}
        XCTAssertThrowsError(try IdempotencyStore.run(pool, organizationID: organization, key: "key-1",
                                                      requestHash: Digest.sha256("a")) { tx in
            _ = try self.command("a")(tx)
            throw Boom()
        })
        XCTAssertEqual(try streamLength(), 0)
        XCTAssertEqual(try run(key: "key-1", request: "a").response.status, 201)
        XCTAssertEqual(try streamLength(), 1)
    }

    func testAConcurrentTwinIsToldTheKeyIsInUse() throws {
        let holder = try database.ownerConnection()
        try holder.execute("BEGIN")
        _ = try IdempotencyStore.run(holder, organizationID: organization, key: "key-1", requestHash: Digest.sha256("a"),
                                     command: command("a"))
        XCTAssertThrowsError(try run(key: "key-1", request: "a")) { error in
            XCTAssertEqual(error as? IdempotencyError, .keyInUse(key: "key-1"))
        }
        try holder.execute("COMMIT")
        XCTAssertEqual(try run(key: "key-1", request: "a"), .replayed(StoredResponse(status: 201, body: Array(#"{"version":1}"#.utf8))))
        XCTAssertEqual(try streamLength(), 1)
    }

    func testAReplayRepeatsTheHeadersOfTheFirstResponse() throws {
        let headers = ["ETag": "\"3\"", "Content-Type": "application/json", "Location": "/v1/verifications/ver_1"]
        let first = try IdempotencyStore.run(pool, organizationID: organization, key: "key-1", requestHash: Digest.sha256("a")) { _ in
            StoredResponse(status: 201, headers: headers, body: Array("{}".utf8))
        }
        XCTAssertEqual(first, .executed(StoredResponse(status: 201, headers: headers, body: Array("{}".utf8))))
        let again = try IdempotencyStore.run(pool, organizationID: organization, key: "key-1", requestHash: Digest.sha256("a")) { _ in
            XCTFail("a replay runs nothing")
            return StoredResponse(status: 500, body: [])
        }
        XCTAssertEqual(again, .replayed(first.response))
    }

    /// Ages every record by `hours`, as if it had been made that long ago.
    func age(_ keys: [String], hours: Int) throws {
        try database.ownerConnection().query(
            "UPDATE ledger.idempotency_keys SET created_at = created_at - make_interval(hours => $1) WHERE idempotency_key = ANY (string_to_array($2, ','))",
            [hours, keys.joined(separator: ",")])
    }

    func keptKeys() throws -> [String] {
        let rows = try database.ownerConnection().query("SELECT idempotency_key FROM ledger.idempotency_keys ORDER BY idempotency_key")
        return (0..<rows.count).compactMap { rows.string($0, 0) }
    }

    func testThePurgeForgetsExpiredKeysInBoundedBatchesAndKeepsFreshOnes() throws {
        for index in 1...7 { _ = try run(key: "key-\(index)", request: "a") }
        try age(["key-1", "key-2", "key-3", "key-4", "key-5"], hours: 25)
        try age(["key-6"], hours: 23)
        let owner = try database.ownerConnection()
        XCTAssertEqual(try IdempotencyStore.purge(owner, createdAtOrBefore: Date().addingTimeInterval(-24 * 3600), limit: 2), 2,
                       "one batch is bounded")
        XCTAssertEqual(try keptKeys().count, 5)
        XCTAssertEqual(try IdempotencyPurger(pool: pool, batchSize: 2).runOnce(), 3, "a pass runs batches until none is left")
        XCTAssertEqual(try keptKeys(), ["key-6", "key-7"], "keys younger than 24 hours are kept")
        XCTAssertEqual(try IdempotencyPurger(pool: pool, batchSize: 2).runOnce(), 0)
    }

    func testAPurgeBatchCostsWhatItDeletesNotTheWholeHistory() throws {
        let owner = try database.ownerConnection()
        try owner.query("""
            INSERT INTO ledger.idempotency_keys (organization_id, livemode, idempotency_key, request_hash, response_status, response_body,
                                                 created_at)
            SELECT $1, false, 'key-' || n, '\\x00', 200, '\\x7b7d', now() - make_interval(mins => n)
            FROM generate_series(1, 20000) n
            """, [organization])
        try owner.execute("ANALYZE ledger.idempotency_keys")
        let plan = try owner.query("EXPLAIN " + IdempotencyStore.purgeStatement.replacingOccurrences(of: "$1", with: "now() - interval '24 hours'")
            .replacingOccurrences(of: "$2", with: "1000"))
        let text = (0..<plan.count).compactMap { plan.string($0, 0) }.joined(separator: "\n")
        XCTAssertTrue(text.contains("Index Scan using idempotency_keys_created_at"), text)
        XCTAssertTrue(text.contains("Tid Scan on idempotency_keys"), text)
        XCTAssertFalse(text.contains("Seq Scan"), text)
    }

    func testThePurgeFollowsItsClock() throws {
        _ = try run(key: "key-1", request: "a")
        let now = Date()
        XCTAssertEqual(try IdempotencyPurger(pool: pool, clock: { now.addingTimeInterval(23 * 3600) }).runOnce(), 0)
        XCTAssertEqual(try IdempotencyPurger(pool: pool, clock: { now.addingTimeInterval(25 * 3600) }).runOnce(), 1)
        XCTAssertEqual(try keptKeys(), [])
    }

    func testAnExpiredKeyIsFreeAgainBeforeAndAfterThePurge() throws {
        _ = try run(key: "key-1", request: "a")
        try age(["key-1"], hours: 25)
        XCTAssertEqual(try run(key: "key-1", request: "b"), .executed(StoredResponse(status: 201, body: Array(#"{"version":2}"#.utf8))),
                       "an expired key not purged yet is reused, not refused as another request's")
        XCTAssertEqual(try run(key: "key-1", request: "b"), .replayed(StoredResponse(status: 201, body: Array(#"{"version":2}"#.utf8))))
        try age(["key-1"], hours: 25)
        XCTAssertEqual(try IdempotencyPurger(pool: pool).runOnce(), 1)
        XCTAssertEqual(try run(key: "key-1", request: "c").response.body, Array(#"{"version":3}"#.utf8), "a purged key is free again")
    }
}
