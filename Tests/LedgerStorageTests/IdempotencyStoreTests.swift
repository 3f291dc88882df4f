import Foundation
import LedgerCrypto
import LedgerDomain
import LedgerStorage
import LedgerTestSupport
import XCTest

final class IdempotencyStoreTests: XCTestCase {
    var database: TestDatabase!
    var pool: ConnectionPool!
    let organization = UUID()

    override func setUpWithError() throws {
        database = try TestPostgres.shared().makeDatabase()
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
        try pool.withConnection { try EventStore.readStream($0, organizationID: self.organization, streamID: "s") }.count
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

    func testKeysAreKeptForTheRetentionAndThenPurged() throws {
        _ = try run(key: "key-1", request: "a")
        let owner = try database.ownerConnection()
        XCTAssertEqual(try IdempotencyStore.purge(owner), 0, "a fresh key is kept")
        try owner.execute("UPDATE ledger.idempotency_keys SET created_at = now() - interval '25 hours'")
        XCTAssertEqual(try IdempotencyStore.purge(owner), 1)
        XCTAssertEqual(try run(key: "key-1", request: "b").response.status, 201, "a forgotten key is free again")
    }
}
