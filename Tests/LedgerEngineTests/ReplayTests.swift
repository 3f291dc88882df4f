import Foundation
import LedgerDomain
@testable import LedgerEngine
import LedgerStorage
import LedgerTestSupport
import XCTest

/// Read models checked against, and repaired from, the log alone.
final class ReplayTests: XCTestCase {
    var database: TestDatabase!
    var organizationID: UUID!
    var engine: CommandEngine!
    let now = Date(timeIntervalSince1970: 1_790_000_000)
    let actor = EventMetadata(actorID: "test", actorType: .system)

    override func setUpWithError() throws {
        database = try makeDatabase()
        organizationID = try TestOrganization(database: database).id
        engine = CommandEngine(pool: database.pool(size: 4), stateCacheSize: 100)
    }

    func execute(_ id: String, _ command: VerificationCommand) throws {
        try engine.execute(CommandRequest(organizationID: organizationID, livemode: false, streamID: id, command: command,
                                          actor: actor, now: now))
    }

    func count(_ connection: PostgresConnection, _ table: String) throws -> Int64 {
        try connection.query("SELECT count(*) FROM ledger.\(table)").int64(0, 0) ?? -1
    }

    func testCheckNamesHandCorruptedRowsAndReplayRepairsThemWithoutTouchingTheLogOrTheOutbox() throws {
        let owner = try database.ownerConnection()
        // A subscriber, so that commands queue webhooks and a replay that ran the outbox would show.
        try owner.query("""
            INSERT INTO ledger.webhook_endpoints (id, organization_id, livemode, url, events, secret)
            VALUES ('we_1', $1, false, 'https://hooks.example/ledger', ARRAY['*'], 'whsec_test')
            """, [organizationID])
        for id in ["ver_1", "ver_2", "ver_3"] {
            try execute(id, .invite(Invitation(entityID: "cus_1", checks: [.email], expiresAt: now.addingTimeInterval(86_400))))
        }
        try execute("ver_3", .withdraw(reason: "changed their mind"))
        XCTAssertEqual(try Replay.check(owner), [], "commands leave the read models as the log makes them")

        try owner.query("UPDATE ledger.verifications SET status = 'approved' WHERE organization_id = $1 AND id = 'ver_1'", [organizationID])
        try owner.query("DELETE FROM ledger.verification_deadlines WHERE organization_id = $1 AND id = 'ver_2'", [organizationID])
        try owner.query("INSERT INTO ledger.verification_deadlines VALUES ($1, 'ver_ghost', now())", [organizationID])
        try owner.query("UPDATE ledger.orders SET score = 'ID_VERIFIED', document = '{}' WHERE organization_id = $1 AND id = 'ver_3'",
                        [organizationID])
        let events = try count(owner, "events"), outbox = try count(owner, "outbox")
        XCTAssertGreaterThan(outbox, 0)

        let found = try Replay.check(owner)
        XCTAssertEqual(found, [
            ReplayDifference(projection: "verifications", organizationID: organizationID, id: "ver_1", kind: .fields(["status"])),
            ReplayDifference(projection: "orders", organizationID: organizationID, id: "ver_3", kind: .fields(["score", "document"])),
            ReplayDifference(projection: "verification_deadlines", organizationID: organizationID, id: "ver_2", kind: .missing),
            ReplayDifference(projection: "verification_deadlines", organizationID: organizationID, id: "ver_ghost", kind: .unexpected),
        ])
        var shown: [ReplayProgress] = []
        XCTAssertEqual(try Replay.check(owner, pageSize: 2, progress: { shown.append($0) }), found, "a check changes nothing")
        let bulk = shown.filter { $0.phase == .bulk }.map(\.events)
        XCTAssertEqual(bulk.count, Int(events / 2) + 1, "progress after each page of 2 events, and the last short one")
        XCTAssertEqual(bulk, bulk.sorted())
        XCTAssertEqual(shown.last, ReplayProgress(phase: .swap, events: events, totalEvents: events, streams: 3, caughtUp: 0))
        XCTAssertEqual(try owner.query("SELECT count(*) FROM ledger.replay_checkpoint").int(0, 0), 0, "a finished run leaves no checkpoint")
        XCTAssertEqual(try owner.query("SELECT count(*) FROM pg_tables WHERE schemaname = 'ledger_replay'").int(0, 0), 0,
                       "nor shadow tables")

        var repaired: [ReplayDifference] = []
        XCTAssertEqual(try Replay.repair(owner) { repaired.append($0) }, ReplayTally(rows: 4, streams: 4))
        XCTAssertEqual(repaired, found, "each repaired row is handed over, in projection and key order")
        XCTAssertEqual(try Replay.check(owner) { XCTFail("\($0)") }, ReplayTally(rows: 0, streams: 0))
        XCTAssertEqual(try count(owner, "events"), events, "a replay appends nothing to the log")
        XCTAssertEqual(try count(owner, "outbox"), outbox, "a replay queues no webhook")
    }

    /// What looked like the feed cursor skipping committed events: while any transaction that began before a
    /// command is still open, the gap-safe feed withholds that command's events (it cannot yet tell them from
    /// events that could still commit before them), so the catch-up ends without them although they are
    /// committed. Nothing is skipped: the swap folds again every stream whose version moved, under its lock.
    func testEventsTheFeedStillWithholdsAreFoldedByTheSwapsVersionCheck() throws {
        for id in ["ver_1", "ver_2"] {
            try execute(id, .invite(Invitation(entityID: "cus_1", checks: [.email], expiresAt: now.addingTimeInterval(86_400))))
        }
        let owner = try database.ownerConnection()
        let holder = try database.ownerConnection()
        try holder.execute("BEGIN")
        try holder.query("SELECT pg_current_xact_id()") // an open transaction with an id: the feed's horizon stays at it
        var shown: [ReplayProgress] = []
        var commanded = false
        try Replay.repair(owner, pageSize: 1, progress: { progress in
            shown.append(progress)
            guard !commanded, progress.streams >= 1 else { return }
            commanded = true
            // Committed during the bulk pass, after it folded ver_1 and after the holder began.
            do { try self.execute("ver_1", .updateMetadata(["during": "bulk"])) } catch { XCTFail("\(error)") }
        })
        try holder.execute("COMMIT")
        XCTAssertEqual(shown.last?.phase, .swap)
        XCTAssertEqual(shown.last?.caughtUp, 0, "the feed handed out none of it while the holder was open")
        XCTAssertEqual(try Replay.check(owner), [], "yet the rows are the log's, with the event committed during the bulk pass")
        XCTAssertEqual(try owner.query("SELECT version FROM ledger.verifications WHERE organization_id = $1 AND id = 'ver_1'",
                                       [organizationID]).int(0, 0), 2)
        XCTAssertEqual(try owner.query("SELECT document::jsonb -> 'metadata' ->> 'during' FROM ledger.verifications WHERE organization_id = $1 AND id = 'ver_1'",
                                       [organizationID]).string(0, 0), "bulk")
    }

    /// Commands keep coming, on old streams and new ones, while a replay rebuilds: it catches up from the
    /// feed and swaps under a brief lock, so neither loses the other's write.
    func testAReplayUnderConcurrentWritesLosesNothing() throws {
        let ids = (0..<12).map { "ver_\($0)" }
        for id in ids {
            try execute(id, .invite(Invitation(entityID: "cus_1", checks: [.email], expiresAt: now.addingTimeInterval(86_400))))
        }
        let owner = try database.ownerConnection()
        try owner.query("UPDATE ledger.verifications SET status = 'declined' WHERE organization_id = $1", [organizationID])
        let conninfo = database.conninfo, engine = engine!, organizationID = organizationID!, actor = actor, now = now
        let failures = Collector<String>()
        let replayed = LockedBox(false)
        let commands = Collector<String>()
        concurrently(3) { index in
            do {
                if index == 0 {
                    defer { replayed.set(true) }
                    let connection = try PostgresConnection(conninfo: conninfo)
                    // Pages of 2 events: many bulk pages and catch-up rounds while the writers commit.
                    try Replay.repair(connection, pageSize: 2)
                } else {
                    var round = 0
                    // Until the replay is done (at least 10 rounds; at most 200, so a slow machine ends too).
                    while (!replayed.get() || round < 10) && round < 200 {
                        let id = ids[(round * 5 + index) % ids.count]
                        try engine.execute(CommandRequest(organizationID: organizationID, livemode: false, streamID: id,
                                                          command: .updateMetadata(["round": "\(index)-\(round)"]), actor: actor, now: now))
                        let fresh = "ver_new_\(index)_\(round)"
                        try engine.execute(CommandRequest(organizationID: organizationID, livemode: false, streamID: fresh,
                                                          command: .invite(Invitation(entityID: "cus_2", checks: [.email],
                                                                                      expiresAt: now.addingTimeInterval(86_400))),
                                                          actor: actor, now: now))
                        commands.append(fresh)
                        round += 1
                    }
                }
            } catch {
                failures.append("\(index): \(error)")
            }
        }
        XCTAssertEqual(failures.values, [])
        XCTAssertEqual(try Replay.check(owner), [], "every stream's rows are what the log makes of it")
        let streams = try owner.query("""
            SELECT s.stream_id, s.version, v.version FROM ledger.streams s
            LEFT JOIN ledger.verifications v ON v.organization_id = s.organization_id AND v.id = s.stream_id
            WHERE s.organization_id = $1
            """, [organizationID])
        XCTAssertEqual(streams.count, ids.count + commands.values.count)
        for row in 0..<streams.count {
            XCTAssertEqual(streams.int64(row, 2), streams.int64(row, 1), "\(streams.string(row, 0) ?? "?") is at its stream's version")
        }
        XCTAssertEqual(try owner.query("SELECT count(*) FROM ledger.verifications WHERE status = 'declined'").int(0, 0), 0,
                       "the corrupted rows were swapped out")
    }
}

extension ReplayTests {
    /// A rebuild swaps its tables in by renaming them, so the tables it swaps in must be made as the migrations
    /// made the live ones: the same columns, indexes and constraints (by name), storage parameters, row-level
    /// security and policies, grants and owner. Fails when any of these is not copied to the rebuilt table.
    func testARebuildSwapsInTablesWithTheLiveTablesIndexesPoliciesAndGrants() throws {
        try execute("ver_1", .invite(Invitation(entityID: "cus_1", checks: [.email], expiresAt: now.addingTimeInterval(86_400))))
        let owner = try database.ownerConnection()
        func catalog() throws -> [String] {
            let rows = try owner.query("""
                SELECT c.relname || ' table ' || concat_ws(' | ', c.relowner::regrole::text, c.relacl::text, c.reloptions::text,
                                                          c.relrowsecurity, c.relforcerowsecurity, c.relpersistence)
                FROM pg_class c WHERE c.oid = ANY ($1::regclass[])
                UNION ALL
                SELECT a.attrelid::regclass::text || ' column ' || concat_ws(' | ', a.attnum, a.attname, format_type(a.atttypid, a.atttypmod),
                                                                             a.attnotnull, a.attcompression, a.attacl::text, pg_get_expr(d.adbin, d.adrelid))
                FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                WHERE a.attrelid = ANY ($1::regclass[]) AND a.attnum > 0 AND NOT a.attisdropped
                UNION ALL
                SELECT indexrelid::regclass::text || ' index ' || pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = ANY ($1::regclass[])
                UNION ALL
                SELECT conname || ' constraint ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = ANY ($1::regclass[])
                UNION ALL
                SELECT polrelid::regclass::text || ' policy ' || concat_ws(' | ', polname, polpermissive, polroles::regrole[]::text, polcmd,
                                                                          pg_get_expr(polqual, polrelid), pg_get_expr(polwithcheck, polrelid))
                FROM pg_policy WHERE polrelid = ANY ($1::regclass[])
                UNION ALL
                SELECT tgrelid::regclass::text || ' trigger ' || tgname FROM pg_trigger WHERE tgrelid = ANY ($1::regclass[])
                ORDER BY 1
                """, [PostgresArray(Projections.inline.map { "ledger.\($0.table.name)" })])
            return (0..<rows.count).map { rows.string($0, 0) ?? "?" }
        }
        let before = try catalog()
        XCTAssertTrue(before.contains { $0.contains(" policy tenant") }, "the live tables have their policies")
        XCTAssertTrue(before.contains { $0.contains("fillfactor=50") }, "and their storage parameters")
        try owner.query("UPDATE ledger.verifications SET status = 'approved' WHERE id = 'ver_1'")
        XCTAssertEqual(try Replay.repair(owner).count, 1)
        XCTAssertEqual(try catalog(), before)
        XCTAssertEqual(try Replay.check(owner), [])
        XCTAssertEqual(try owner.query("SELECT count(*) FROM pg_tables WHERE schemaname = 'ledger_replay'").int(0, 0), 0,
                       "the tables swapped out are dropped")
    }
}

/// A projection whose code version was raised is rebuilt once, and alone.
final class RaisedProjectionVersionTests: XCTestCase {
    func testOnlyTheRaisedProjectionIsRebuiltAndThenRecorded() throws {
        let database = try makeDatabase()
        let organizationID = try TestOrganization(database: database).id
        let engine = CommandEngine(pool: database.pool(size: 2), stateCacheSize: 0)
        let now = Date(timeIntervalSince1970: 1_790_000_000)
        try engine.execute(CommandRequest(organizationID: organizationID, livemode: false, streamID: "ver_1",
                                          command: .invite(Invitation(entityID: "cus_1", checks: [.email], expiresAt: now.addingTimeInterval(86_400))),
                                          actor: EventMetadata(actorID: "test", actorType: .system), now: now))
        try engine.execute(CommandRequest(organizationID: organizationID, livemode: false, streamID: "ver_1", command: .withdraw(reason: nil),
                                          actor: EventMetadata(actorID: "test", actorType: .system), now: now))
        let owner = try database.ownerConnection()
        XCTAssertEqual(try Replay.rebuildRaised(owner), [], "a migrated database is at every projection's version")

        // The rows of an older orders projection, and a stray change to a verification row.
        try owner.query("UPDATE ledger.projection_versions SET version = 0 WHERE name = 'orders'")
        try owner.query("UPDATE ledger.orders SET score = 'PENDING'")
        try owner.query("UPDATE ledger.verifications SET entity_id = 'cus_9'")

        XCTAssertEqual(try Replay.rebuildRaised(owner), ["orders"])
        XCTAssertEqual(try owner.query("SELECT score FROM ledger.orders WHERE id = 'ver_1'").string(0, 0), "WITHDRAWN")
        XCTAssertEqual(try owner.query("SELECT entity_id FROM ledger.verifications WHERE id = 'ver_1'").string(0, 0), "cus_9",
                       "a projection at its version is left as it is")
        XCTAssertEqual(try owner.query("SELECT version FROM ledger.projection_versions WHERE name = 'orders'").int(0, 0), 2)
        XCTAssertEqual(try Replay.rebuildRaised(owner), [])
    }

    /// Sealed documents (ciphertext) do not compress: lz4 gives up on them at once where pglz spent most of a write's
    /// time trying, and the shadow tables store as the live ones (fails with either left at the default).
    func testDocumentsAreStoredWithLz4InTheLiveAndTheShadowTables() throws {
        let database = try makeDatabase()
        let owner = try database.ownerConnection()
        func compression(_ schema: String, _ table: String) throws -> [String: String] {
            let rows = try owner.query("""
                SELECT attname, attcompression::text FROM pg_attribute
                WHERE attrelid = ($1 || '.' || $2)::regclass AND attnum > 0 AND NOT attisdropped
                """, [schema, table])
            return Dictionary(uniqueKeysWithValues: (0..<rows.count).map { (rows.string($0, 0) ?? "?", rows.string($0, 1) ?? "?") })
        }
        let sealed = ["verifications": "document", "orders": "document", "customer_verifications": "document",
                      "validations": "document", "verification_reports": "document", "stream_snapshots": "state"]
        for (table, column) in sealed { XCTAssertEqual(try compression("ledger", table)[column], "l", "ledger.\(table).\(column)") }
        for table in Projections.inline.map(Replay.ShadowTable.init) {
            try table.create(owner)
            XCTAssertEqual(try compression("ledger_replay", table.name), try compression("ledger", table.name), table.name)
        }
    }
}
