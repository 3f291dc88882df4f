import CMicroHTTPD
import Foundation
import Synchronization

/// An HTTP/1.1 server on libmicrohttpd: one epoll thread per core reads requests and writes responses;
/// a complete request is suspended and queued for `threads` worker threads, which run the handler.
///
/// The handler may block (database calls): it holds a worker, never a connection's polling thread, so a slow
/// request delays no other connection, and requests are served first come, first served.
public final class HTTPServer: @unchecked Sendable {
    public struct Configuration: Sendable {
        public var host: String
        public var port: UInt16
        public var threads: Int
        public var connectionLimit: Int
        /// Seconds a connection may stay silent before it is closed.
        public var connectionTimeout: Int
        public var maxBodyBytes: Int
        public var perIPConnectionLimit: Int

        public init(host: String = "127.0.0.1", port: UInt16 = 8080, threads: Int = ProcessInfo.processInfo.activeProcessorCount,
                    connectionLimit: Int = 4096, connectionTimeout: Int = 30, maxBodyBytes: Int = 1 << 20,
                    perIPConnectionLimit: Int = 0) {
            self.host = host
            self.port = port
            self.threads = threads
            self.connectionLimit = connectionLimit
            self.connectionTimeout = connectionTimeout
            self.maxBodyBytes = maxBodyBytes
            self.perIPConnectionLimit = perIPConnectionLimit
        }

        /// Parses `host:port` (`LEDGER_LISTEN`).
        public static func parseListen(_ text: String) -> (host: String, port: UInt16)? {
            guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else { return nil }
            let host = String(text[..<colon])
            return (host.isEmpty ? "0.0.0.0" : host, port)
        }
    }

    public enum Failure: Error, CustomStringConvertible {
        case badAddress(String)
        case cannotStart(String)

        public var description: String {
            switch self {
            case let .badAddress(host): return "cannot listen on \(host): only IPv4 addresses are supported"
            case let .cannotStart(address): return "cannot listen on \(address): is the port in use?"
            }
        }
    }

    public let configuration: Configuration
    let handler: HTTPHandler
    private var daemon: OpaquePointer?
    private var listenSocket: Int32 = -1
    let requestsInFlight = Atomic<Int>(0)
    let work = WorkQueue()
    /// False once the daemon stops: a worker that finishes later must not resume a connection it freed.
    let running = Mutex<Bool>(true)

    public init(configuration: Configuration, handler: @escaping HTTPHandler) {
        self.configuration = configuration
        self.handler = handler
    }

    /// The bound port (useful when configured with port 0).
    public private(set) var port: UInt16 = 0

    public func start() throws {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = configuration.port.bigEndian
        guard inet_pton(AF_INET, configuration.host, &address.sin_addr) == 1 else {
            throw Failure.badAddress(configuration.host)
        }
        let context = Unmanaged.passUnretained(self).toOpaque()
        let completed = unsafeBitCast(requestCompleted as MHD_RequestCompletedCallback, to: Int.self)
        let flags = MHD_USE_INTERNAL_POLLING_THREAD.rawValue | MHD_USE_EPOLL.rawValue | MHD_USE_ITC.rawValue
            | MHD_ALLOW_SUSPEND_RESUME.rawValue
        daemon = withUnsafeMutablePointer(to: &address) { addressPointer in
            addressPointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                var options: [MHD_OptionItem] = [
                    MHD_OptionItem(option: .SOCK_ADDR, value: 0, ptr_value: UnsafeMutableRawPointer(socketAddress)),
                    MHD_OptionItem(option: .THREAD_POOL_SIZE, value: ProcessInfo.processInfo.activeProcessorCount, ptr_value: nil),
                    MHD_OptionItem(option: .CONNECTION_LIMIT, value: configuration.connectionLimit, ptr_value: nil),
                    MHD_OptionItem(option: .CONNECTION_TIMEOUT, value: configuration.connectionTimeout, ptr_value: nil),
                    MHD_OptionItem(option: .PER_IP_CONNECTION_LIMIT, value: configuration.perIPConnectionLimit, ptr_value: nil),
                    MHD_OptionItem(option: .CONNECTION_MEMORY_LIMIT, value: 64 * 1024, ptr_value: nil),
                    MHD_OptionItem(option: .LISTEN_BACKLOG_SIZE, value: 1024, ptr_value: nil),
                    MHD_OptionItem(option: .NOTIFY_COMPLETED, value: completed, ptr_value: context),
                    MHD_OptionItem(option: .END, value: 0, ptr_value: nil),
                ]
                return options.withUnsafeMutableBufferPointer { buffer in
                    ledger_mhd_start(flags, accessHandler, context, buffer.baseAddress)
                }
            }
        }
        guard let daemon else { throw Failure.cannotStart("\(configuration.host):\(configuration.port)") }
        port = ledger_mhd_bound_port(daemon)
        for _ in 0..<max(1, configuration.threads) {
            let worker = Thread { [work] in
                while let job = work.next() { job() }
            }
            worker.name = "http-worker"
            worker.start()
        }
    }

    public var openConnections: Int {
        guard let daemon else { return 0 }
        return Int(ledger_mhd_connection_count(daemon))
    }

    /// Stops accepting, lets requests in flight finish (up to `gracePeriod` seconds), then stops.
    public func shutdown(gracePeriod: Double = 10) {
        guard let daemon else { return }
        listenSocket = MHD_quiesce_daemon(daemon)
        let deadline = Date().addingTimeInterval(gracePeriod)
        while requestsInFlight.load(ordering: .acquiring) > 0 && Date() < deadline {
            usleep(10_000) // waiting on other threads' requests to drain; no event to wait on here
        }
        running.withLock { $0 = false }
        MHD_stop_daemon(daemon)
        work.close()
        if listenSocket >= 0 { close(listenSocket) }
        self.daemon = nil
    }

    static func newRequestID() -> String {
        var generator = SystemRandomNumberGenerator()
        let value = generator.next() as UInt64
        let text = String(value, radix: 16)
        return "req_" + String(repeating: "0", count: 16 - text.count) + text
    }
}

/// State of one request across libmicrohttpd's calls: headers first, then body chunks, then the final call.
final class PendingRequest {
    var body: [UInt8] = []
    var tooLarge = false
    let requestID = HTTPServer.newRequestID()
    /// Set by the worker that ran the handler, before it resumes the connection.
    var response: HTTPResponse?
}

/// Jobs for the worker threads, first in, first out.
final class WorkQueue: @unchecked Sendable {
    private let condition = NSCondition()
    /// Never longer than the number of open connections: each has at most one request waiting.
    private var jobs: [@Sendable () -> Void] = []
    private var closed = false

    func add(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    /// The next job; waits for one; nil once closed.
    func next() -> (@Sendable () -> Void)? {
        condition.lock()
        defer { condition.unlock() }
        while jobs.isEmpty && !closed { condition.wait() }
        return jobs.isEmpty ? nil : jobs.removeFirst()
    }

    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }
}

/// Lets a worker hand a connection pointer back to libmicrohttpd; the connection stays suspended (and valid)
/// until the worker resumes it.
private struct SuspendedConnection: @unchecked Sendable {
    let pointer: OpaquePointer
}

private func accessHandler(
    context: UnsafeMutableRawPointer?, connection: OpaquePointer?, url: UnsafePointer<CChar>?,
    method: UnsafePointer<CChar>?, version: UnsafePointer<CChar>?, uploadData: UnsafePointer<CChar>?,
    uploadDataSize: UnsafeMutablePointer<Int>?, requestContext: UnsafeMutablePointer<UnsafeMutableRawPointer?>?
) -> MHD_Result {
    guard let context, let connection, let requestContext, let uploadDataSize else { return .NO }
    let server = Unmanaged<HTTPServer>.fromOpaque(context).takeUnretainedValue()

    guard let existing = requestContext.pointee else {
        // First call: headers only. Answering now would make libmicrohttpd close the connection, so only a
        // body that is announced too large is refused here (before any of it is read).
        let pending = PendingRequest()
        requestContext.pointee = Unmanaged.passRetained(pending).toOpaque()
        server.requestsInFlight.add(1, ordering: .relaxed)
        if let length = lookupHeader(connection, "Content-Length").flatMap(Int.init), length > server.configuration.maxBodyBytes {
            return queue(bodyTooLarge(server, pending.requestID), on: connection)
        }
        return .YES
    }
    let pending = Unmanaged<PendingRequest>.fromOpaque(existing).takeUnretainedValue()

    if uploadDataSize.pointee > 0 {
        let size = uploadDataSize.pointee
        if pending.body.count + size > server.configuration.maxBodyBytes {
            pending.tooLarge = true
            pending.body = []
        } else if !pending.tooLarge, let uploadData {
            uploadData.withMemoryRebound(to: UInt8.self, capacity: size) {
                pending.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: size))
            }
        }
        uploadDataSize.pointee = 0
        return .YES
    }

    if let response = pending.response { return queue(response, on: connection) }
    if pending.tooLarge { return queue(bodyTooLarge(server, pending.requestID), on: connection) }

    let request = HTTPRequest(
        method: method.map { String(cString: $0) } ?? "GET",
        path: url.map { String(cString: $0) } ?? "/",
        query: collectValues(connection, .GET_ARGUMENT_KIND, lowercaseNames: false),
        headers: Dictionary(collectValues(connection, .HEADER_KIND, lowercaseNames: true), uniquingKeysWith: { a, b in "\(a), \(b)" }),
        body: pending.body,
        requestID: pending.requestID)
    MHD_suspend_connection(connection)
    let suspended = SuspendedConnection(pointer: connection)
    let handler = server.handler
    let answering = UncheckedPending(pending)
    server.work.add {
        var response = handler(request)
        response.headers.append(("Request-Id", answering.value.requestID))
        if request.method == "HEAD" { response.body = [] }
        answering.value.response = response
        server.running.withLock { running in
            if running { MHD_resume_connection(suspended.pointer) }
        }
    }
    return .YES
}

/// The request's state crosses to a worker and back; only one thread touches it at a time (the worker
/// between suspend and resume, libmicrohttpd's thread otherwise).
private struct UncheckedPending: @unchecked Sendable {
    let value: PendingRequest
    init(_ value: PendingRequest) { self.value = value }
}

private func bodyTooLarge(_ server: HTTPServer, _ requestID: String) -> HTTPResponse {
    var response = HTTPResponse.error(413, type: "invalid_request_error", code: "body_too_large",
                                      message: "the request body is larger than \(server.configuration.maxBodyBytes) bytes")
    response.headers.append(("Request-Id", requestID))
    return response
}

private func requestCompleted(context: UnsafeMutableRawPointer?, connection: OpaquePointer?,
                              requestContext: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
                              termination: MHD_RequestTerminationCode) {
    guard let requestContext, let pending = requestContext.pointee else { return }
    Unmanaged<PendingRequest>.fromOpaque(pending).release()
    requestContext.pointee = nil
    if let context {
        Unmanaged<HTTPServer>.fromOpaque(context).takeUnretainedValue().requestsInFlight.subtract(1, ordering: .releasing)
    }
}

private func queue(_ response: HTTPResponse, on connection: OpaquePointer) -> MHD_Result {
    let created = response.body.withUnsafeBytes { bytes in
        MHD_create_response_from_buffer(bytes.count, UnsafeMutableRawPointer(mutating: bytes.baseAddress),
                                        .RESPMEM_MUST_COPY)
    }
    guard let created else { return .NO }
    for (name, value) in response.headers { _ = MHD_add_response_header(created, name, value) }
    let result = MHD_queue_response(connection, UInt32(response.status), created)
    MHD_destroy_response(created)
    return result
}

private func lookupHeader(_ connection: OpaquePointer, _ name: String) -> String? {
    MHD_lookup_connection_value(connection, .HEADER_KIND, name).map { String(cString: $0) }
}

private final class ValueCollector {
    var values: [(name: String, value: String)] = []
    let lowercaseNames: Bool
    init(lowercaseNames: Bool) { self.lowercaseNames = lowercaseNames }
}

private func collectValues(_ connection: OpaquePointer, _ kind: MHD_ValueKind, lowercaseNames: Bool) -> [(name: String, value: String)] {
    let collector = ValueCollector(lowercaseNames: lowercaseNames)
    let unmanaged = Unmanaged.passUnretained(collector)
    _ = MHD_get_connection_values(connection, kind, { context, _, key, value in
        guard let context, let key else { return .YES }
        let collector = Unmanaged<ValueCollector>.fromOpaque(context).takeUnretainedValue()
        let name = String(cString: key)
        collector.values.append((collector.lowercaseNames ? name.lowercased() : name, value.map { String(cString: $0) } ?? ""))
        return .YES
    }, unmanaged.toOpaque())
    return withExtendedLifetime(collector) { collector.values }
}
