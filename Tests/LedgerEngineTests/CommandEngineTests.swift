import Foundation
import LedgerCrypto
import LedgerDomain
import LedgerEngine
import LedgerStorage
import LedgerTestSupport
import XCTest

/// The one command path, called as any caller calls it: no HTTP.
final class CommandEngineTests: XCTestCase {
    var database: TestDatabase!
    var organizationID: UUID!
    let now = Date(timeIntervalSince1970: 1_790_000_000)
    let actor = EventMetadata(actorID: "provider-sandbox", actorType: .system)

    override func setUpWithError() throws {
        database = try makeDatabase()
        organizationID = try TestOrganization(database: database).id
    }

    func request(_ id: String, _ command: VerificationCommand, expectedVersion: Int64? = nil, livemode: Bool = false,
                 seed: String? = nil) -> CommandRequest {
        CommandRequest(organizationID: organizationID, livemode: livemode, streamID: id, command: command,
                       expectedVersion: expectedVersion, actor: actor, idempotencySeed: seed, now: now)
    }

    func invite(_ engine: CommandEngine, _ id: String) throws {
        let invitation = Invitation(entityID: "cus_1", checks: [.identityVerification], expiresAt: now.addingTimeInterval(86_400))
        try engine.execute(request(id, .invite(invitation)))
    }

    func startAttempt(_ id: String) -> VerificationCommand {
        .startAttempt(attemptID: id, url: "https://capture.example/\(id)", expiresAt: now.addingTimeInterval(900))
    }

    func storedVersion(_ id: String) throws -> Int64 {
        try database.pool(size: 1).withConnection(scope: .organization(organizationID)) {
            try EventStore.version($0, organizationID: organizationID, streamID: id)
        }
    }

    func testAProvidersEventDeliveredTwiceAppendsOnce() throws {
        let engine = CommandEngine(pool: database.pool(size: 2), stateCacheSize: 100)
        try invite(engine, "ver_1")
        let delivery = request("ver_1", startAttempt("att_1"), seed: "sandbox/evt_42")
        let first = try engine.execute(delivery)
        XCTAssertEqual(first.eventIDs, [Digest.uuid(fromSeed: "sandbox/evt_42/0")])
        XCTAssertFalse(first.repeated)
        let second = try engine.execute(delivery)
        XCTAssertTrue(second.repeated)
        XCTAssertEqual(second.events, [])
        XCTAssertEqual(second.verification.version, 2)
        XCTAssertEqual(second.verification.state.attempts.map(\.id), ["att_1"])
        XCTAssertEqual(try storedVersion("ver_1"), 2)

        // Without a seed, the same command delivered again is a new attempt: it closes the first and appends twice.
        try engine.execute(request("ver_1", startAttempt("att_1")))
        XCTAssertEqual(try storedVersion("ver_1"), 4)
    }

    /// Two deliveries of one provider event at once: the second waits on the stream's lock, then finds the
    /// first's event.
    func testAProvidersEventDeliveredTwiceAtOnceAppendsOnce() throws {
        let engine = CommandEngine(pool: database.pool(size: 4), stateCacheSize: 100)
        try invite(engine, "ver_1")
        let delivery = request("ver_1", startAttempt("att_1"), seed: "sandbox/evt_43")
        let outcomes = Collector<Bool>(), failures = Collector<String>()
        concurrently(2) { _ in
            do { outcomes.append(try engine.execute(delivery).repeated) } catch { failures.append("\(error)") }
        }
        XCTAssertEqual(failures.values, [])
        XCTAssertEqual(outcomes.values.sorted { !$0 && $1 }, [false, true])
        XCTAssertEqual(try storedVersion("ver_1"), 2)
    }

    func testSeedsGiveStableDistinctVersion8Ids() {
        let id = Digest.uuid(fromSeed: "sandbox/evt_42/0")
        XCTAssertEqual(id, Digest.uuid(fromSeed: "sandbox/evt_42/0"))
        XCTAssertNotEqual(id, Digest.uuid(fromSeed: "sandbox/evt_42/1"))
        XCTAssertEqual(id.uuidString.lowercased(), id.uuidString.lowercased())
        let text = Array(id.uuidString)
        XCTAssertEqual(text[14], "8", "version nibble")
        XCTAssertTrue("89AB".contains(text[19]), "RFC 9562 variant")
    }

    /// Another instance (an engine with a cache of its own) writes the stream; this engine's cached state is
    /// then stale. Its command fails the append's expected version at commit and runs again, from the
    /// stream, inside the engine: the request is made once, and the caller's answer runs for each attempt.
    func testAStaleCachedStateRunsAgainFromTheStreamWithoutMakingTheRequestAgain() throws {
        for commitThreads in [0, 1] {
            let pool = database.pool(size: 4, commitThreads: commitThreads)
            let engine = CommandEngine(pool: pool, stateCacheSize: 100), other = CommandEngine(pool: pool, stateCacheSize: 100)
            let id = "ver_stale_\(commitThreads)"
            try invite(engine, id)
            try engine.execute(request(id, startAttempt("att_1")))
            try other.execute(request(id, .recordProgress(attemptID: "att_1", status: .captureInProgress)))

            var requestsMade = 0, answers = 0
            let outcome = try engine.execute({
                requestsMade += 1
                return self.request(id, .updateMetadata(["campaign": "winter"]))
            }, inTransaction: { try pool.transaction(scope: .organization(self.organizationID), $0) }, answer: { outcome, _ in
                answers += 1
                return outcome
            })
            XCTAssertEqual(requestsMade, 1, "commit threads: \(commitThreads)")
            XCTAssertEqual(answers, 2, "decided on the cache, then on the stream (commit threads: \(commitThreads))")
            XCTAssertEqual(outcome.verification.version, 4)
            XCTAssertEqual(outcome.verification.state.attempts.first?.status, .captureInProgress, "the other instance's write is kept")
            XCTAssertEqual(outcome.verification.state.metadata["campaign"], "winter")
            XCTAssertEqual(try storedVersion(id), 4)
        }
    }

    /// The state a command leaves (which the cache keeps, and the read models are written from) is the
    /// state its stream folds to, though clocks give sub-microsecond times and the codec keeps milliseconds.
    func testTheStateACommandLeavesIsTheStateItsStreamFoldsTo() throws {
        let engine = CommandEngine(pool: database.pool(size: 2), stateCacheSize: 0)
        let now = Date(timeIntervalSince1970: 1_790_000_000.123_456_7)
        let invitation = Invitation(entityID: "cus_1", checks: [.identityVerification], expiresAt: now.addingTimeInterval(86_400.000_4))
        var outcomes = [try engine.execute(CommandRequest(organizationID: organizationID, livemode: false, streamID: "ver_1",
                                                          command: .invite(invitation), actor: actor, now: now))]
        outcomes.append(try engine.execute(CommandRequest(
            organizationID: organizationID, livemode: false, streamID: "ver_1",
            command: .startAttempt(attemptID: "att_1", url: "https://capture.example/att_1", expiresAt: now.addingTimeInterval(900.000_9)),
            actor: actor, now: now.addingTimeInterval(0.000_000_4))))
        let folded = try database.pool(size: 1).withConnection(scope: .organization(organizationID)) {
            try XCTUnwrap(try VerificationStore.load($0, organizationID: organizationID, id: "ver_1"))
        }
        XCTAssertEqual(outcomes.last?.verification.state, folded.state)
        XCTAssertEqual(outcomes.last?.verification.document,
                       VerificationView.object(id: "ver_1", state: folded.state, version: folded.version).jsonString)
    }

    func testTheCallersExpectedVersionAndModeAreChecked() throws {
        let engine = CommandEngine(pool: database.pool(size: 2), stateCacheSize: 0)
        try invite(engine, "ver_1")
        try engine.execute(request("ver_1", startAttempt("att_1"), expectedVersion: 1))
        XCTAssertThrowsError(try engine.execute(request("ver_1", startAttempt("att_2"), expectedVersion: 1))) { error in
            XCTAssertEqual(error as? CommandError, .expectedVersionMismatch(expected: 1, current: 2))
        }
        XCTAssertThrowsError(try engine.execute(request("ver_1", .withdraw(reason: nil), livemode: true))) { error in
            XCTAssertEqual(error as? CommandError, .streamNotFound("ver_1"))
        }
        XCTAssertThrowsError(try engine.execute(request("ver_1", .recordProgress(attemptID: "att_9", status: .completed)))) { error in
            XCTAssertEqual(error as? CommandError, .refused(.attemptNotFound("att_9")))
        }
        XCTAssertEqual(try storedVersion("ver_1"), 2)
    }
}

/// A stream holding events as an older build wrote them is folded, and commanded, like one in today's shape.
final class EventSchemaEvolutionTests: XCTestCase {
    func testAStreamWrittenInTheOldShapeFoldsToTheStateOfTheCurrentShape() throws {
        let database = try makeDatabase()
        let organizationID = try TestOrganization(database: database).id
        let engine = CommandEngine(pool: database.pool(size: 2), stateCacheSize: 0)
        let now = Date(timeIntervalSince1970: 1_790_000_000)
        let actor = EventMetadata(actorID: "test", actorType: .system)
        let owner = try database.ownerConnection()
        for id in ["ver_old", "ver_new"] {
            try engine.execute(CommandRequest(organizationID: organizationID, livemode: false, streamID: id,
                                              command: .invite(Invitation(entityID: "cus_1", checks: [.email],
                                                                          expiresAt: now.addingTimeInterval(86_400))),
                                              actor: actor, now: now))
        }
        // As the version 1 code appended a metadata change: the changes as the data object, schema version 1.
        try EventStore.append(owner, organizationID: organizationID, streamID: "ver_old", expectedVersion: .exact(1),
                              events: [NewEvent(id: UUID(), type: "MetadataUpdated", schemaVersion: 1,
                                                data: ["campaign": "winter"], occurredAt: now)],
                              metadata: actor)
        try engine.execute(CommandRequest(organizationID: organizationID, livemode: false, streamID: "ver_new",
                                          command: .updateMetadata(["campaign": "winter"]), actor: actor, now: now))
        let stored = try EventStore.readStream(owner, organizationID: organizationID, streamID: "ver_new")
        XCTAssertEqual(stored.last?.schemaVersion, 2)
        XCTAssertEqual(stored.last?.data, ["changes": ["campaign": "winter"]])

        let old = try XCTUnwrap(try VerificationStore.load(owner, organizationID: organizationID, id: "ver_old"))
        let new = try XCTUnwrap(try VerificationStore.load(owner, organizationID: organizationID, id: "ver_new"))
        XCTAssertEqual(old.state, new.state)
        XCTAssertEqual(old.version, new.version)

        // And it takes commands on that state: the old change is kept, the new one merged in.
        let after = try engine.execute(CommandRequest(organizationID: organizationID, livemode: false, streamID: "ver_old",
                                                      command: .updateMetadata(["channel": "web"]), actor: actor, now: now))
        XCTAssertEqual(after.verification.state.metadata, ["campaign": "winter", "channel": "web"])
    }
}
