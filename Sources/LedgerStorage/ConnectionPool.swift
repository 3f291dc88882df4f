import Foundation
import Synchronization

/// A bounded pool of libpq connections shared by the server's threads.
///
/// Connections are opened lazily up to `size`. A connection that broke (server restarted, network cut) is
/// discarded together with every idle one, since they share its fate, so the next caller gets a fresh one.
public final class ConnectionPool: @unchecked Sendable {
    public struct Statistics: Sendable {
        public var open: Int
        public var inUse: Int
        public var waiting: Int
    }

    public let size: Int
    private let conninfo: String
    private let sessionSetup: String
    private let acquireTimeout: Double
    private let condition = NSCondition()
    private var idle: [PostgresConnection] = []
    private var open = 0
    private var waiting = 0
    private let commitQueue: CommitQueue?

    /// - Parameter role: when set, every connection runs as this role (`SET ROLE`), so the service holds
    ///   only the privileges that role was granted.
    /// - Parameter commitThreads: when above 0, a transaction that only queued writes (it read nothing, so
    ///   it holds no lock and decided nothing on what it saw) gives its connection back and hands its writes
    ///   to one of these threads, which commits every hand-over waiting at that moment as one transaction:
    ///   one round trip and one WAL flush for many requests. If that transaction fails, its hand-overs are
    ///   committed one by one, so each request gets its own outcome.
    /// - Parameter applicationName: shown as `application_name` in `pg_stat_activity`, so an operator (and a
    ///   test) tells one pool's connections from another's.
    public init(conninfo: String, size: Int, role: String? = nil, acquireTimeout: Double = 5, commitThreads: Int = 0,
                applicationName: String? = nil) {
        self.conninfo = conninfo
        self.size = max(1, size)
        self.acquireTimeout = acquireTimeout
        var setup = "SET search_path = ledger, public; SET TimeZone = 'UTC'; SET DateStyle = 'ISO'; "
            + "SET statement_timeout = '60s';"
        if let role { setup += " SET ROLE \"\(role.replacingOccurrences(of: "\"", with: ""))\";" }
        if let applicationName {
            let name = applicationName.filter { $0.isASCII && ($0.isLetter || $0 == "-" || $0 == "_") }
            setup += " SET application_name = '\(name)';"
        }
        sessionSetup = setup
        commitQueue = commitThreads > 0 ? CommitQueue() : nil
        if let commitQueue {
            for _ in 0..<commitThreads {
                let thread = Thread { [weak self] in
                    while let batch = commitQueue.next(limit: 64) {
                        guard let pool = self else {
                            for ticket in batch { ticket.finish(PostgresError.connection("the connection pool was closed")) }
                            return
                        }
                        pool.commit(batch)
                    }
                }
                thread.name = "commit"
                thread.start()
            }
        }
    }

    deinit { commitQueue?.close() }

    public var statistics: Statistics {
        condition.lock()
        defer { condition.unlock() }
        return Statistics(open: open, inUse: open - idle.count, waiting: waiting)
    }

    /// Runs `body` with a connection whose transactions and statements run under `scope` (see
    /// `PostgresConnection.scope`); without one, they see no tenant's rows.
    public func withConnection<T>(scope: DatabaseScope? = nil, _ body: (PostgresConnection) throws -> T) throws -> T {
        let connection = try acquire()
        connection.scope = scope
        do {
            let value = try body(connection)
            release(connection)
            return value
        } catch {
            release(connection)
            throw error
        }
    }

    /// Runs `body` in a transaction under `scope`. When PostgreSQL aborts it as a deadlock victim or for a serialization
    /// failure (which says nothing about the transaction itself), `body` runs again, up to `conflictRetries`
    /// times, so `body` must do nothing outside the transaction that it cannot repeat (commit actions run
    /// only once, after the commit that succeeded).
    public func transaction<T>(scope: DatabaseScope? = nil, _ body: (PostgresConnection) throws -> T) throws -> T {
        guard let commitQueue else {
            return try Self.retryingConflicts { try withConnection(scope: scope) { try $0.transaction(body) } }
        }
        let (value, writes) = try Self.retryingConflicts {
            try withConnection(scope: scope) { try $0.transaction(body, handingOverWrites: true) }
        }
        // Handed-over writes are retried by the commit thread: they do not depend on anything `body` read.
        if let writes { try commitQueue.commit(writes) }
        return value
    }

    private func commit(_ batch: [CommitQueue.Ticket]) {
        if batch.count > 1, (try? withConnection { try $0.commit(batch.map(\.writes)) }) != nil {
            for ticket in batch { ticket.finish(nil) }
            return
        }
        // Alone, or one by one once the batch failed (one request's failure, or a deadlock with another batch
        // or transaction): each request gets its own outcome.
        for ticket in batch {
            do {
                try Self.retryingConflicts { try withConnection { try $0.commit([ticket.writes]) } }
                ticket.finish(nil)
            } catch {
                ticket.finish(error)
            }
        }
    }

    /// How many more times a transaction aborted as a deadlock victim or for a serialization failure is run.
    public static let conflictRetries = 3

    private static let retried = Atomic<Int>(0)

    /// Transactions run again in this process after such an abort.
    public static var transactionsRetried: Int { retried.load(ordering: .relaxed) }

    /// Runs `attempt` again (after a short, jittered pause, so that the transactions that collided do not
    /// collide again in step) while it fails with SQLSTATE 40001 or 40P01, at most `conflictRetries` times.
    static func retryingConflicts<T>(_ attempt: () throws -> T) throws -> T {
        var retries = 0
        while true {
            do {
                return try attempt()
            } catch let error as PostgresError where error.isTransientConflict && retries < conflictRetries {
                retries += 1
                retried.add(1, ordering: .relaxed)
                let pause = 0.005 * Double(1 << retries)
                Thread.sleep(forTimeInterval: Double.random(in: (pause / 2)...pause))
            }
        }
    }

    /// Closes idle connections; connections in use close when they come back.
    public func close() {
        commitQueue?.close()
        condition.lock()
        open -= idle.count
        idle.removeAll()
        condition.unlock()
    }

    private func acquire() throws -> PostgresConnection {
        let deadline = Date().addingTimeInterval(acquireTimeout)
        condition.lock()
        while true {
            if let connection = idle.popLast() {
                condition.unlock()
                return connection
            }
            if open < size {
                open += 1
                condition.unlock()
                do {
                    let connection = try PostgresConnection(conninfo: conninfo)
                    try connection.execute(sessionSetup)
                    return connection
                } catch {
                    condition.lock()
                    open -= 1
                    condition.signal()
                    condition.unlock()
                    throw error
                }
            }
            waiting += 1
            let signalled = condition.wait(until: deadline)
            waiting -= 1
            if !signalled && idle.isEmpty && open >= size {
                condition.unlock()
                throw PostgresError.poolExhausted
            }
        }
    }

    private func release(_ connection: PostgresConnection) {
        connection.scope = nil
        if connection.isInTransaction && !connection.isBroken { try? connection.execute("ROLLBACK") }
        condition.lock()
        if connection.isBroken {
            open -= 1 + idle.count
            idle.removeAll()
        } else {
            idle.append(connection)
        }
        condition.signal()
        condition.unlock()
    }
}

extension PostgresError {
    /// A serialization failure (40001) or a deadlock (40P01): PostgreSQL aborted the transaction because of
    /// what ran beside it, and running it again is expected to succeed.
    public var isTransientConflict: Bool { sqlState == "40001" || sqlState == "40P01" }
}
