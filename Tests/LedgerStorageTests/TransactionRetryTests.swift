import Foundation
import LedgerStorage
import LedgerTestSupport
import XCTest

/// A transaction that PostgreSQL aborts as a deadlock victim is run again by the pool, not answered as a failure.
final class TransactionRetryTests: XCTestCase {
    var database: TestDatabase!

    override func setUpWithError() throws {
        database = try makeDatabase()
        try database.ownerConnection().execute("""
            CREATE TABLE public.lock_probe (id integer PRIMARY KEY, n integer NOT NULL);
            INSERT INTO public.lock_probe VALUES (1, 0), (2, 0);
            GRANT SELECT, UPDATE ON public.lock_probe TO ledger_service;
            """)
    }

    /// A pool whose connections look for a deadlock 3 s after they start waiting for a lock, and the rival
    /// only after 30 s: however long the rival takes to close the cycle, the pool's transaction is the one
    /// PostgreSQL aborts.
    func pool(commitThreads: Int = 0) -> ConnectionPool {
        let option = "-c deadlock_timeout=3s"
        let conninfo = database.conninfo.contains("://")
            ? database.conninfo + (database.conninfo.contains("?") ? "&" : "?") + "options=" + option.replacingOccurrences(of: " ", with: "%20")
            : database.conninfo + " options='\(option)'"
        return ConnectionPool(conninfo: conninfo, size: 2, role: "ledger_service", commitThreads: commitThreads)
    }

    /// Runs `work`, which must update row 1 then row 2 of the probe, against a rival that holds row 2 and,
    /// once `work` waits for it, asks for row 1: a real deadlock between two connections, which PostgreSQL
    /// breaks by aborting `work`'s transaction; the rival then commits.
    func deadlocking(_ work: @escaping @Sendable () throws -> Void) throws {
        let rival = try database.ownerConnection()
        let observer = try database.ownerConnection()
        try rival.execute("SET deadlock_timeout = '30s'")
        try rival.execute("BEGIN")
        try rival.query("UPDATE public.lock_probe SET n = n + 10 WHERE id = 2")
        let outcome = LockedBox<Result<Void, any Error>?>(nil)
        let thread = Thread { outcome.set(Result { try work() }) }
        thread.start()
        let waiting = try eventually {
            try observer.query("""
                SELECT 1 FROM pg_stat_activity
                WHERE datname = current_database() AND pid <> $1 AND wait_event_type = 'Lock'
                """, [rival.serverProcessID]).count == 1
        }
        XCTAssertTrue(waiting, "the pool's transaction should wait for the rival's row")
        try rival.query("UPDATE public.lock_probe SET n = n + 10 WHERE id = 1")
        try rival.execute("COMMIT")
        XCTAssertTrue(eventually(timeout: 30) { outcome.get() != nil }, "the pool's transaction should finish")
        try outcome.get()?.get()
    }

    func probe() throws -> [Int] {
        let rows = try database.ownerConnection().query("SELECT n FROM public.lock_probe ORDER BY id")
        return (0..<rows.count).compactMap { rows.int($0, 0) }
    }

    func testADeadlockVictimRunsAgainAndCommits() throws {
        let pool = pool()
        let attempts = LockedBox(0)
        let retriedBefore = ConnectionPool.transactionsRetried
        try deadlocking {
            try pool.transaction { tx in
                attempts.update { $0 += 1 }
                try tx.query("UPDATE public.lock_probe SET n = n + 1 WHERE id = 1")
                try tx.query("UPDATE public.lock_probe SET n = n + 1 WHERE id = 2")
            }
        }
        XCTAssertEqual(attempts.get(), 2, "aborted once, then run again")
        XCTAssertEqual(try probe(), [11, 11], "the rival's writes and the retried transaction's, once each")
        XCTAssertGreaterThanOrEqual(ConnectionPool.transactionsRetried - retriedBefore, 1)
    }

    func testHandedOverWritesThatDeadlockAreCommittedAgain() throws {
        let pool = pool(commitThreads: 1)
        let retriedBefore = ConnectionPool.transactionsRetried
        try deadlocking {
            try pool.transaction { tx in
                // Only queued writes: the commit thread sends them, and meets the deadlock.
                tx.sendWithNextRoundTrip([("UPDATE public.lock_probe SET n = n + 1 WHERE id = 1", []),
                                          ("UPDATE public.lock_probe SET n = n + 1 WHERE id = 2", [])])
            }
        }
        XCTAssertEqual(try probe(), [11, 11])
        XCTAssertGreaterThanOrEqual(ConnectionPool.transactionsRetried - retriedBefore, 1)
    }
}
