import Foundation
import Synchronization

/// How long each connection has been waiting for a whole request, so that a client trickling a byte a second
/// (which libmicrohttpd's inactivity timeout never catches) loses its connection once `timeout` has passed.
///
/// A connection waits from the moment it opens or its previous response was sent until its request has
/// arrived whole (headers and body); while the handler runs and the response goes out, it does not.
final class RequestDeadlines: Sendable {
    private struct Connection {
        let socket: Int32
        /// Uptime in nanoseconds; nil while a request is being handled or answered.
        var waitingSince: UInt64?
        var requestLine = RequestLine()
    }

    /// What only the raw request line shows, before libmicrohttpd decodes it.
    struct RequestLine {
        /// The raw path holds `%00`, which libmicrohttpd decodes into a NUL byte that ends the path it hands over.
        var pathHasNUL = false
        /// The request target's length as sent: path and query, before percent-decoding.
        var targetBytes = 0
    }

    let timeout: UInt64
    private let connections = Mutex<[Int: Connection]>([:])
    private let lastID = Atomic<Int>(0)

    init(timeoutSeconds: Double) {
        timeout = UInt64((timeoutSeconds.isFinite ? min(max(timeoutSeconds, 0.001), 86_400) : 30) * 1_000_000_000)
    }

    /// The id to keep as the connection's socket context.
    func opened(socket: Int32, now: UInt64) -> Int {
        let id = lastID.add(1, ordering: .relaxed).newValue
        connections.withLock { $0[id] = Connection(socket: socket, waitingSince: now) }
        return id
    }

    func closed(_ id: Int) {
        _ = connections.withLock { $0.removeValue(forKey: id) }
    }

    func requestArrived(_ id: Int) {
        connections.withLock { $0[id]?.waitingSince = nil }
    }

    func responseSent(_ id: Int, now: UInt64) {
        connections.withLock {
            $0[id]?.waitingSince = now
            $0[id]?.requestLine = RequestLine()
        }
    }

    func noteRequestLine(_ id: Int, _ line: RequestLine) {
        connections.withLock { $0[id]?.requestLine = line }
    }

    func requestLine(_ id: Int) -> RequestLine {
        connections.withLock { $0[id]?.requestLine ?? RequestLine() }
    }

    /// Shuts the sockets of connections past their deadline down; libmicrohttpd then sees them end and closes
    /// them on its own thread. Under the lock, so that a socket is never shut after libmicrohttpd reported it
    /// closed (its number may belong to a new connection by then). Returns how many were shut.
    @discardableResult
    func closeOverdue(now: UInt64) -> Int {
        connections.withLock { connections in
            var shut = 0
            for (id, connection) in connections {
                guard let since = connection.waitingSince, now > since, now - since > timeout else { continue }
                shutdown(connection.socket, Int32(SHUT_RDWR))
                connections[id]?.waitingSince = nil
                shut += 1
            }
            return shut
        }
    }
}
