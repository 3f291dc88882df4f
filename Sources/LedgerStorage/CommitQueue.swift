import Foundation

/// Hand-overs waiting to be committed together (see `ConnectionPool.init(commitThreads:)`).
final class CommitQueue: @unchecked Sendable {
    final class Ticket: @unchecked Sendable {
        let writes: HandedOverWrites
        private let done = DispatchSemaphore(value: 0)
        private var failure: Error?

        init(_ writes: HandedOverWrites) { self.writes = writes }

        func finish(_ failure: Error?) {
            self.failure = failure
            done.signal()
        }

        func wait() throws {
            done.wait()
            if let failure { throw failure }
        }
    }

    private let condition = NSCondition()
    private var tickets: [Ticket] = []
    private var closed = false

    /// Queues `writes` and waits until they are committed (or have failed).
    func commit(_ writes: HandedOverWrites) throws {
        let ticket = Ticket(writes)
        condition.lock()
        guard !closed else {
            condition.unlock()
            throw PostgresError.connection("the connection pool was closed")
        }
        tickets.append(ticket)
        condition.signal()
        condition.unlock()
        try ticket.wait()
    }

    /// Every waiting ticket, up to `limit`; waits for one; nil once closed and drained.
    func next(limit: Int) -> [Ticket]? {
        condition.lock()
        defer { condition.unlock() }
        while tickets.isEmpty && !closed { condition.wait() }
        if tickets.isEmpty { return nil }
        let taken = Array(tickets.prefix(limit))
        tickets.removeFirst(taken.count)
        return taken
    }

    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }
}
