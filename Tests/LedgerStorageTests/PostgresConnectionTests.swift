import Foundation
import LedgerDomain
import LedgerStorage
import LedgerTestSupport
import XCTest

final class PostgresConnectionTests: XCTestCase {
    var database: TestDatabase!

    override func setUpWithError() throws {
        database = try makeDatabase()
        try database.ownerConnection().execute("CREATE TABLE ledger.t (n int PRIMARY KEY)")
    }

    func count(_ connection: PostgresConnection) throws -> Int {
        try connection.query("SELECT count(*) FROM ledger.t").int(0, 0) ?? -1
    }

    func testAPipelineReturnsEachStatementsRowsInOrder() throws {
        let connection = try database.ownerConnection()
        let rows = try connection.pipeline([
            ("INSERT INTO ledger.t VALUES ($1) RETURNING n", [1]),
            ("SELECT $1::int + 1", [41]),
            ("SELECT n FROM ledger.t", []),
        ])
        XCTAssertEqual(rows.map { $0.int(0, 0) }, [1, 42, 1])
    }

    /// Written and read without Foundation's formatting (libc's printf and scanf): the text PostgreSQL prints and reads.
    func testUUIDsAreWrittenAndReadAsPostgreSQLPrintsThem() throws {
        let connection = try database.ownerConnection()
        let uuids = (0..<200).map { _ in UUID() } + [UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)),
                                                     UUID(uuid: (255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255))]
        for uuid in uuids { XCTAssertEqual(uuid.postgresText, uuid.uuidString.lowercased()) }
        let rows = try connection.query("SELECT u, upper(u::text) FROM unnest($1::uuid[]) AS u", [PostgresArray(uuids.map(\.postgresText))])
        XCTAssertEqual((0..<rows.count).map { rows.uuid($0, 0) }, uuids, "read back as PostgreSQL prints them")
        XCTAssertEqual((0..<rows.count).map { rows.uuid($0, 1) }, uuids, "upper-case text is read too")
        let bad = try connection.query("SELECT 'not-a-uuid', '0000000g-0000-0000-0000-000000000000', '00000000x0000-0000-0000-000000000000'")
        XCTAssertEqual((0..<3).map { bad.uuid(0, $0) }, [nil, nil, nil])
    }

    /// Written digit by digit: microseconds in UTC, read back to the same time, the first and last times whole.
    func testTimesAreSentAsUTCWithMicroseconds() {
        XCTAssertEqual(PostgresTimestamp.format(Date(timeIntervalSince1970: 1_790_000_000.25)), "2026-09-21T14:13:20.250000Z")
        XCTAssertEqual(PostgresTimestamp.format(Date(timeIntervalSince1970: -0.000001)), "1969-12-31T23:59:59.999999Z")
        XCTAssertEqual(PostgresTimestamp.format(Date(timeIntervalSince1970: Timestamp.representable.lowerBound)), "0001-01-01T00:00:00.000000Z")
        XCTAssertEqual(PostgresTimestamp.format(Date(timeIntervalSince1970: Timestamp.representable.upperBound - 1)), "9999-12-31T23:59:59.000000Z")
        XCTAssertEqual(PostgresTimestamp.format(Date(timeIntervalSince1970: 1e300)), "infinity")
        for _ in 0..<2_000 {
            let micros = Double(Int64.random(in: -62_135_596_800_000_000 ..< 253_402_300_799_000_000))
            let date = Date(timeIntervalSince1970: micros / 1_000_000)
            let text = PostgresTimestamp.format(date)
            XCTAssertEqual(text.count, 27, text)
            // To what a Date holds that far from 2001 (a double's seconds: tens of microseconds by the year 9999).
            XCTAssertEqual(Timestamp.parse(text)?.timeIntervalSince1970 ?? .nan, date.timeIntervalSince1970, accuracy: 0.0001, text)
        }
    }

    func testCopyInTakesRowsWithTabsNewlinesBackslashesAndNullsAsGivenInTheTransaction() throws {
        let connection = try database.ownerConnection()
        try connection.execute("CREATE TABLE ledger.copied (n int PRIMARY KEY, text text, at timestamptz, document json)")
        let tricky = "\ttab\there\nnew line\r\\N not null \\ back\\slash é ✓\\"
        let at = Date(timeIntervalSince1970: 1_790_000_000.25)
        var rows = PostgresCopyRows()
        rows.append([1, tricky, at, "{\"a\":\"x\\ty\"}"])
        rows.append([2, nil, nil, nil])
        XCTAssertEqual(rows.count, 2)
        try connection.transaction { tx in
            try tx.query("INSERT INTO ledger.t VALUES (1)")
            try tx.copyIn("COPY ledger.copied (n, text, at, document) FROM STDIN", rows)
        }
        let read = try connection.query("SELECT n, text, at, document::text FROM ledger.copied ORDER BY n")
        XCTAssertEqual(read.count, 2)
        XCTAssertEqual(read.string(0, 1), tricky)
        XCTAssertEqual(read.date(0, 2), at)
        XCTAssertEqual(read.string(0, 3), "{\"a\":\"x\\ty\"}")
        XCTAssertTrue(read.isNull(1, 1) && read.isNull(1, 2) && read.isNull(1, 3))
        XCTAssertEqual(try count(connection), 1, "the statement before the COPY is in its transaction")

        var duplicate = PostgresCopyRows()
        duplicate.append([3, "kept?", nil, nil])
        duplicate.append([1, "again", nil, nil])
        XCTAssertThrowsError(try connection.transaction { tx in try tx.copyIn("COPY ledger.copied (n, text, at, document) FROM STDIN", duplicate) }) {
            XCTAssertEqual(($0 as? PostgresError)?.sqlState, "23505")
        }
        XCTAssertFalse(connection.isBroken)
        XCTAssertEqual(try connection.query("SELECT count(*) FROM ledger.copied").int(0, 0), 2, "a failed COPY keeps none of its rows")
        XCTAssertThrowsError(try connection.copyIn("SELECT 1", rows), "a statement that is no COPY FROM STDIN")
        XCTAssertEqual(try connection.query("SELECT 41 + 1").int(0, 0), 42, "and the connection goes on")
    }

    func testMeanwhileRunsWhileTheServerWorksOnTheStatementAndItsErrorLeavesTheConnectionUsable() throws {
        let connection = try database.ownerConnection()
        let other = try database.ownerConnection()
        try other.query("SELECT pg_advisory_lock(4410)")
        // The statement waits for the other connection's lock, which `meanwhile` lets go only once it has seen the
        // statement waiting: run before the statement or after it, it would never see that.
        var sawItWaiting = false
        let rows = try connection.query("SELECT pg_advisory_lock(4410), $1::int + 1", [41], meanwhile: {
            sawItWaiting = try eventually {
                try other.query("SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'",
                                [connection.serverProcessID]).int(0, 0) == 1
            }
            try other.query("SELECT pg_advisory_unlock(4410)")
        })
        XCTAssertTrue(sawItWaiting)
        XCTAssertEqual(rows.int(0, 1), 42)

        struct Stopped: Error {}
        XCTAssertThrowsError(try connection.query("SELECT n FROM ledger.t", meanwhile: { throw Stopped() })) {
            XCTAssertTrue($0 is Stopped, "meanwhile's error is the one thrown")
        }
        XCTAssertFalse(connection.isBroken)
        XCTAssertEqual(try connection.query("SELECT 41 + 1").int(0, 0), 42, "the statement's rows were read: the connection goes on")
    }

    func testAFailingStatementThrowsAndTheTransactionLeavesNothing() throws {
        let connection = try database.ownerConnection()
        XCTAssertThrowsError(try connection.transaction { tx in
            _ = try tx.pipeline([("INSERT INTO ledger.t VALUES ($1)", [1]), ("INSERT INTO ledger.t VALUES ($1)", [1]),
                                 ("INSERT INTO ledger.t VALUES ($1)", [2])])
        }) { error in
            XCTAssertEqual((error as? PostgresError)?.sqlState, "23505", "the first error is the one reported")
        }
        XCTAssertFalse(connection.isInTransaction)
        XCTAssertFalse(connection.isBroken)
        XCTAssertEqual(try count(connection), 0)
    }

    func testBeginTravelsWithTheFirstStatementAndAnEmptyTransactionSendsNothing() throws {
        let connection = try database.ownerConnection()
        try connection.transaction { tx in
            XCTAssertFalse(tx.isInTransaction, "BEGIN waits for the first statement")
            try tx.query("INSERT INTO ledger.t VALUES (1)")
            XCTAssertTrue(tx.isInTransaction)
        }
        XCTAssertFalse(connection.isInTransaction)
        XCTAssertEqual(try count(connection), 1)
        try connection.transaction { _ in }
        XCTAssertThrowsError(try connection.transaction { tx in
            try tx.query("INSERT INTO ledger.t VALUES (2)")
            throw CocoaError(.userCancelled)
        })
        XCTAssertEqual(try count(connection), 1, "rolled back")
    }

    func testWaitingStatementsTravelWithCommitAndCommitActionsRunAfterIt() throws {
        let connection = try database.ownerConnection()
        let committed = LockedBox(false)
        try connection.transaction { tx in
            tx.sendWithNextRoundTrip([("INSERT INTO ledger.t VALUES ($1)", [1]), ("INSERT INTO ledger.t VALUES ($1)", [2])])
            tx.afterCommit { committed.set(true) }
            XCTAssertFalse(tx.isInTransaction, "nothing is sent before COMMIT")
            XCTAssertFalse(committed.get())
        }
        XCTAssertTrue(committed.get())
        XCTAssertFalse(connection.isInTransaction)
        XCTAssertEqual(try count(connection), 2)
    }

    func testWaitingStatementsTravelWithTheNextQuery() throws {
        let connection = try database.ownerConnection()
        try connection.transaction { tx in
            tx.sendWithNextRoundTrip([("INSERT INTO ledger.t VALUES ($1)", [1])])
            XCTAssertEqual(try count(tx), 1, "the query sees the write sent before it")
        }
        XCTAssertEqual(try count(connection), 1)
    }

    struct Mapped: Error, Equatable { let sqlState: String? }

    func testAFailingWaitingStatementThrowsItsMappedErrorAndNothingIsKept() throws {
        let connection = try database.ownerConnection()
        try connection.query("INSERT INTO ledger.t VALUES (1)")
        let committed = LockedBox(false)
        XCTAssertThrowsError(try connection.transaction { tx in
            try tx.query("INSERT INTO ledger.t VALUES (2)")
            tx.sendWithNextRoundTrip([("INSERT INTO ledger.t VALUES ($1)", [3]), ("INSERT INTO ledger.t VALUES ($1)", [1])]) { error in
                Mapped(sqlState: (error as? PostgresError)?.sqlState)
            }
            tx.afterCommit { committed.set(true) }
        }) { error in
            XCTAssertEqual(error as? Mapped, Mapped(sqlState: "23505"))
        }
        XCTAssertFalse(committed.get(), "no commit, no commit actions")
        XCTAssertFalse(connection.isInTransaction)
        XCTAssertFalse(connection.isBroken)
        XCTAssertEqual(try count(connection), 1, "rolled back")
        try connection.transaction { tx in tx.sendWithNextRoundTrip([("INSERT INTO ledger.t VALUES ($1)", [4])]) }
        XCTAssertEqual(try count(connection), 2, "the connection is clean for the next transaction")
    }

    func testValuesOutOfEveryRangeDecodeAsNilAndNeverTrap() throws {
        let connection = try database.ownerConnection()
        let rows = try connection.query("""
            SELECT 99999999999999999999::numeric, -9223372036854775809::numeric, 'infinity'::timestamptz,
                   '10000-01-01 00:00:00+00'::timestamptz, '0044-03-15 00:00:00+00 BC'::timestamptz, 'not json'
            """)
        XCTAssertNil(rows.int64(0, 0))
        XCTAssertNil(rows.int(0, 1))
        XCTAssertNil(rows.uint64(0, 1))
        for column in 2...4 { XCTAssertNil(rows.date(0, column), rows.string(0, column) ?? "") }
        XCTAssertNil(rows.json(0, 5))
        // Cells outside the result, however far: NULL, not a trap in the conversion to libpq's Int32.
        XCTAssertTrue(rows.isNull(Int(Int32.max) + 1, 0))
        XCTAssertNil(rows.string(-1, 0))
        XCTAssertNil(rows.string(0, Int.max))
    }

    func testDatesOutsideTheRepresentableYearsAreSentAsInfinity() throws {
        let connection = try database.ownerConnection()
        let rows = try connection.query("SELECT $1::timestamptz::text, $2::timestamptz::text, $3::timestamptz::text",
                                        [Date(timeIntervalSince1970: 1e300), Date(timeIntervalSince1970: -1e300),
                                         Date(timeIntervalSince1970: .nan)])
        XCTAssertEqual(rows.string(0, 0), "infinity")
        XCTAssertEqual(rows.string(0, 1), "-infinity")
        XCTAssertEqual(rows.string(0, 2), "-infinity")
    }
}

final class CommitBatchingTests: XCTestCase {
    var database: TestDatabase!

    override func setUpWithError() throws {
        database = try makeDatabase()
        try database.ownerConnection().execute("CREATE TABLE ledger.t (n int PRIMARY KEY); GRANT SELECT, INSERT ON ledger.t TO ledger_service")
    }

    struct Refused: Error, Equatable { let n: Int }

    func handOver(_ connection: PostgresConnection, _ n: Int, committed: LockedBox<[Int]>) throws -> HandedOverWrites? {
        try connection.transaction({ tx in
            tx.sendWithNextRoundTrip([("INSERT INTO ledger.t VALUES ($1)", [n])]) { _ in Refused(n: n) }
            tx.afterCommit { committed.update { $0.append(n) } }
        }, handingOverWrites: true).writes
    }

    func testHandedOverWritesCommitTogetherInOneTransaction() throws {
        let connection = try database.ownerConnection()
        let committed = LockedBox<[Int]>([])
        let first = try XCTUnwrap(try handOver(connection, 1, committed: committed), "a transaction that only wrote hands over")
        let second = try XCTUnwrap(try handOver(connection, 2, committed: committed))
        XCTAssertEqual(try connection.query("SELECT count(*) FROM ledger.t").int(0, 0), 0, "nothing is committed at hand-over")
        XCTAssertNil(try connection.transaction({ tx in _ = try tx.query("SELECT 1") }, handingOverWrites: true).writes,
                     "a transaction that read commits itself")
        try connection.commit([first, second])
        XCTAssertEqual(committed.get(), [1, 2])
        XCTAssertEqual(try connection.query("SELECT count(DISTINCT xmin::text), count(*) FROM ledger.t").int(0, 0), 1, "one transaction")
        let third = try XCTUnwrap(try handOver(connection, 3, committed: committed))
        let duplicate = try XCTUnwrap(try handOver(connection, 1, committed: committed))
        XCTAssertThrowsError(try connection.commit([third, duplicate])) { error in
            XCTAssertEqual(error as? Refused, Refused(n: 1), "the failing statement's own mapping")
        }
        XCTAssertEqual(try connection.query("SELECT count(*) FROM ledger.t").int(0, 0), 2, "nothing of a failed commit is kept")
        XCTAssertEqual(committed.get(), [1, 2], "and none of its commit actions ran")
    }

    /// A setting is made once per batch while it stays the same, and made again when a later request of the batch
    /// needs another value (another tenant's scope): each write runs under its own request's settings.
    func testABatchMakesEachSettingOnceAndAgainWhereItChanges() throws {
        let connection = try database.ownerConnection()
        try connection.execute("CREATE TABLE ledger.tagged (n int PRIMARY KEY, tag text, times int)")
        // Counts how often the setting statement ran in this transaction, beside the tag it sets.
        let counting = "SELECT set_config('ledger.tag', $1, true), "
            + "set_config('ledger.times', (coalesce(nullif(current_setting('ledger.times', true), ''), '0')::int + 1)::text, true)"
        func handOver(_ n: Int, tag: String) throws -> HandedOverWrites? {
            try connection.transaction({ tx in
                tx.setForTransaction("tag", (counting, [tag]))
                tx.sendWithNextRoundTrip([("INSERT INTO ledger.tagged VALUES ($1, current_setting('ledger.tag'), current_setting('ledger.times')::int)", [n])])
            }, handingOverWrites: true).writes
        }
        try connection.commit([try XCTUnwrap(try handOver(1, tag: "a")), try XCTUnwrap(try handOver(2, tag: "a")),
                               try XCTUnwrap(try handOver(3, tag: "b")), try XCTUnwrap(try handOver(4, tag: "a"))])
        let rows = try connection.query("SELECT n, tag, times FROM ledger.tagged ORDER BY n")
        XCTAssertEqual((0..<rows.count).map { "\(rows.int($0, 0) ?? 0)\(rows.string($0, 1) ?? "?")\(rows.int($0, 2) ?? 0)" },
                       ["1a1", "2a1", "3b2", "4a3"], "the same setting is not made again; a changed one is")
    }

    func testAFailingRequestAmongConcurrentOnesFailsAloneAndTheOthersAreKept() throws {
        let pool = database.pool(size: 4, commitThreads: 1)
        try pool.transaction { tx in tx.sendWithNextRoundTrip([("INSERT INTO ledger.t VALUES ($1)", [0])]) }
        let outcomes = LockedBox<[Int: Bool]>([:])
        let committed = LockedBox<[Int]>([])
        concurrently(24) { index in
            let n = index % 12 == 0 ? 0 : index  // 0 is already there: those requests must fail, alone
            do {
                try pool.transaction { tx in
                    tx.sendWithNextRoundTrip([("INSERT INTO ledger.t VALUES ($1)", [n])]) { _ in Refused(n: n) }
                    tx.afterCommit { committed.update { $0.append(n) } }
                }
                outcomes.update { $0[index] = true }
            } catch {
                XCTAssertEqual(error as? Refused, Refused(n: 0))
                outcomes.update { $0[index] = false }
            }
        }
        let succeeded = outcomes.get().filter(\.value).keys.sorted()
        XCTAssertEqual(succeeded, (0..<24).filter { $0 % 12 != 0 })
        XCTAssertEqual(committed.get().sorted(), succeeded)
        let rows = try database.ownerConnection().query("SELECT n FROM ledger.t ORDER BY n")
        XCTAssertEqual((0..<rows.count).compactMap { rows.int($0, 0) }, [0] + succeeded)
    }
}
