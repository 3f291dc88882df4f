import Foundation

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
    public init(conninfo: String, size: Int, role: String? = nil, acquireTimeout: Double = 5, commitThreads: Int = 0) {
        self.conninfo = conninfo
        self.size = max(1, size)
        self.acquireTimeout = acquireTimeout
        var setup = "SET search_path = ledger, public; SET TimeZone = 'UTC'; SET DateStyle = 'ISO'; "
            + "SET statement_timeout = '60s';"
        if let role { setup += " SET ROLE \"\(role.replacingOccurrences(of: "\"", with: ""))\";" }
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

    public func withConnection<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        let connection = try acquire()
        do {
            let value = try body(connection)
            release(connection)
            return value
        } catch {
            release(connection)
            throw error
        }
    }

    public func transaction<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        guard let commitQueue else { return try withConnection { try $0.transaction(body) } }
        let (value, writes) = try withConnection { try $0.transaction(body, handingOverWrites: true) }
        if let writes { try commitQueue.commit(writes) }
        return value
    }

    private func commit(_ batch: [CommitQueue.Ticket]) {
        do {
            try withConnection { try $0.commit(batch.map(\.writes)) }
            for ticket in batch { ticket.finish(nil) }
        } catch {
            guard batch.count > 1 else { return batch[0].finish(error) }
            for ticket in batch {
                do {
                    try withConnection { try $0.commit([ticket.writes]) }
                    ticket.finish(nil)
                } catch {
                    ticket.finish(error)
                }
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
