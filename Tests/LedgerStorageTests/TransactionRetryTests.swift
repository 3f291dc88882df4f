import Foundation
import LedgerStorage
import LedgerTestSupport
import XCTest

/// A transaction that PostgreSQL aborts as a deadlock victim is run again by the pool, not answered as a failure.
final class TransactionRetryTests: XCTestCase {
    var database: TestDatabase!

    override func setUpWithError() throws {
        database = try TestPostgres.shared().makeDatabase()
        try database.ownerConnection().execute("""
            CREATE TABLE public.lock_probe (id integer PRIMARY KEY, n integer NOT NULL);
            INSERT INTO public.lock_probe VALUES (1, 0), (2, 0);
            GRANT SELECT, UPDATE ON public.lock_probe TO ledger_service;
            """)
    }

    /// Runs `work`, which must update row 1 then row 2 of the probe, against a rival that holds row 2 and,
    /// once `work` waits for it, asks for row 1: a real deadlock between two connections. PostgreSQL breaks
    /// it by aborting the transaction that started waiting first, `work`'s; the rival then commits.
    func deadlocking(_ work: @escaping @Sendable () throws -> Void) throws {
        let rival = try database.ownerConnection()
        let observer = try database.ownerConnection()
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
        let pool = database.pool(size: 2)
        let attempts = LockedBox(0)
        let retriedBefore = ConnectionPool.transactionsRetried
        try deadlocking {
            try pool.transaction { tx in
                attempts.set(attempts.get() + 1)
                try tx.query("UPDATE public.lock_probe SET n = n + 1 WHERE id = 1")
                try tx.query("UPDATE public.lock_probe SET n = n + 1 WHERE id = 2")
            }
        }
        XCTAssertEqual(attempts.get(), 2, "aborted once, then run again")
        XCTAssertEqual(try probe(), [11, 11], "the rival's writes and the retried transaction's, once each")
        XCTAssertGreaterThanOrEqual(ConnectionPool.transactionsRetried - retriedBefore, 1)
    }

    func testHandedOverWritesThatDeadlockAreCommittedAgain() throws {
        let pool = database.pool(size: 2, commitThreads: 1)
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
