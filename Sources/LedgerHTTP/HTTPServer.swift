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
        /// Seconds a client has to send a whole request, from connecting or from its previous response on;
        /// then the connection is closed, however steadily the bytes were trickling in.
        public var requestTimeout: Double
        public var maxBodyBytes: Int
        public var perIPConnectionLimit: Int
        /// The request target (path and query, as sent) may be this long; a longer one is answered 414.
        public var maxRequestTargetBytes: Int
        /// The header fields, each counted as `name: value` and its line end, may add up to this; more is 431.
        public var maxHeaderBytes: Int

        public init(host: String = "127.0.0.1", port: UInt16 = 8080, threads: Int = ProcessInfo.processInfo.activeProcessorCount,
                    connectionLimit: Int = 4096, connectionTimeout: Int = 30, requestTimeout: Double = 30,
                    maxBodyBytes: Int = 1 << 20, perIPConnectionLimit: Int = 0,
                    maxRequestTargetBytes: Int = 8 << 10, maxHeaderBytes: Int = 32 << 10) {
            self.host = host
            self.port = port
            self.threads = threads
            self.connectionLimit = connectionLimit
            self.connectionTimeout = connectionTimeout
            self.requestTimeout = requestTimeout
            self.maxBodyBytes = maxBodyBytes
            self.perIPConnectionLimit = perIPConnectionLimit
            self.maxRequestTargetBytes = maxRequestTargetBytes
            self.maxHeaderBytes = maxHeaderBytes
        }

        /// The memory libmicrohttpd gives each connection, twice what the limits allow: it reads the request
        /// line and headers into the first half and grows into the rest, so a request somewhat past a limit still
        /// reaches the service, which answers it in JSON. Only past this does libmicrohttpd answer 414 or 431
        /// itself, with its own HTML page.
        public var connectionMemoryBytes: Int {
            max(64 << 10, 2 * (maxRequestTargetBytes + maxHeaderBytes))
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
    let deadlines: RequestDeadlines
    /// Signalled when the server stops, to end the thread that enforces the request deadline.
    private let stopped = DispatchSemaphore(value: 0)

    public init(configuration: Configuration, handler: @escaping HTTPHandler) {
        self.configuration = configuration
        self.handler = handler
        deadlines = RequestDeadlines(timeoutSeconds: configuration.requestTimeout)
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
        let connectionNotified = unsafeBitCast(connectionChanged as MHD_NotifyConnectionCallback, to: Int.self)
        let uriReceived = unsafeBitCast(requestLineReceived as URILogCallback, to: Int.self)
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
                    MHD_OptionItem(option: .CONNECTION_MEMORY_LIMIT, value: configuration.connectionMemoryBytes, ptr_value: nil),
                    MHD_OptionItem(option: .LISTEN_BACKLOG_SIZE, value: 1024, ptr_value: nil),
                    MHD_OptionItem(option: .NOTIFY_COMPLETED, value: completed, ptr_value: context),
                    MHD_OptionItem(option: .NOTIFY_CONNECTION, value: connectionNotified, ptr_value: context),
                    MHD_OptionItem(option: .URI_LOG_CALLBACK, value: uriReceived, ptr_value: context),
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
        // A quarter of the deadline between checks: a connection is closed at most a quarter late.
        let interval = min(1, max(0.01, configuration.requestTimeout / 4))
        let watchdog = Thread { [deadlines, stopped] in
            while stopped.wait(timeout: .now() + interval) == .timedOut {
                deadlines.closeOverdue(now: DispatchTime.now().uptimeNanoseconds)
            }
        }
        watchdog.name = "http-deadlines"
        watchdog.start()
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
        stopped.signal()
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
    let requestID = HTTPServer.newRequestID()
    /// Set by the worker that ran the handler, before it resumes the connection.
    var response: HTTPResponse?
    /// The buffer a streamed response's body passes through, with `response`.
    var channel: BodyChannel?
}

/// A streamed body between the worker that produces it and libmicrohttpd's thread that sends it: at most
/// `capacity` bytes wait. When nothing waits, the sending side suspends the connection (libmicrohttpd would
/// otherwise poll for more at once) and the next write resumes it.
final class BodyChannel: @unchecked Sendable {
    struct Gone: Error {}

    static let capacity = 256 * 1024
    private let condition = NSCondition()
    private var waiting: [UInt8] = []
    private var sentUpTo = 0
    private var finished = false
    private var failed = false
    private var cancelled = false
    private var suspended = false
    private let connection: OpaquePointer
    private let resume: @Sendable (OpaquePointer) -> Void

    init(connection: OpaquePointer, resume: @escaping @Sendable (OpaquePointer) -> Void) {
        self.connection = connection
        self.resume = resume
    }

    func write(_ bytes: [UInt8]) throws {
        guard !bytes.isEmpty else { return }
        condition.lock()
        while !cancelled && waiting.count - sentUpTo >= Self.capacity { condition.wait() }
        guard !cancelled else {
            condition.unlock()
            throw Gone()
        }
        // What was sent is dropped once it is most of the buffer, so a write rarely moves the rest.
        if sentUpTo == waiting.count {
            waiting.removeAll(keepingCapacity: true)
            sentUpTo = 0
        } else if sentUpTo >= Self.capacity / 2 {
            waiting.removeFirst(sentUpTo)
            sentUpTo = 0
        }
        waiting += bytes
        let wake = takeSuspension()
        condition.unlock()
        if wake { resume(connection) }
    }

    func finish(failed: Bool) {
        condition.lock()
        finished = true
        self.failed = failed
        let wake = takeSuspension()
        condition.unlock()
        if wake { resume(connection) }
    }

    /// Called by libmicrohttpd when the response is done with, sent or not.
    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }

    /// libmicrohttpd's content reader: bytes, the end, or 0 once the connection is suspended until a write.
    func read(into buffer: UnsafeMutablePointer<CChar>, max: Int) -> Int {
        condition.lock()
        defer { condition.unlock() }
        let available = waiting.count - sentUpTo
        if available > 0 {
            let count = min(max, available)
            waiting.withUnsafeBufferPointer { source in
                guard let start = source.baseAddress else { return }
                UnsafeMutableRawPointer(buffer).copyMemory(from: start + sentUpTo, byteCount: count)
            }
            sentUpTo += count
            condition.broadcast()
            return count
        }
        if finished { return failed ? -2 : -1 } // MHD_CONTENT_READER_END_WITH_ERROR, MHD_CONTENT_READER_END_OF_STREAM
        // Suspended under the lock, so a write that sees the flag resumes a connection already suspended.
        suspended = true
        MHD_suspend_connection(connection)
        return 0
    }

    private func takeSuspension() -> Bool {
        defer { suspended = false }
        return suspended
    }
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
        if let oversized = oversized(server, connection) {
            var response = oversized
            response.headers.append(("Request-Id", pending.requestID))
            return queue(response, on: connection)
        }
        if let length = lookupHeader(connection, "Content-Length").flatMap({ UInt64($0) }),
           length > UInt64(server.configuration.maxBodyBytes) {
            return queue(bodyTooLarge(server, pending.requestID), on: connection)
        }
        return .YES
    }
    let pending = Unmanaged<PendingRequest>.fromOpaque(existing).takeUnretainedValue()

    if uploadDataSize.pointee > 0 {
        let size = uploadDataSize.pointee
        // Only a chunked body gets here past the limit (an announced one was refused on the first call).
        // libmicrohttpd cannot queue a response while a body arrives, so rather than read the rest to answer
        // 413 at its end, the connection is closed now.
        guard size <= server.configuration.maxBodyBytes - pending.body.count else { return .NO }
        if let uploadData {
            uploadData.withMemoryRebound(to: UInt8.self, capacity: size) {
                pending.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: size))
            }
        }
        uploadDataSize.pointee = 0
        return .YES
    }

    if let response = pending.response { return queue(response, channel: pending.channel, on: connection) }
    let connectionID = connectionID(connection)
    if let connectionID { server.deadlines.requestArrived(connectionID) }

    let query = collectValues(connection, .GET_ARGUMENT_KIND, lowercaseNames: false)
    let headers = collectValues(connection, .HEADER_KIND, lowercaseNames: true)
    let path = url.flatMap { String(validatingCString: $0) }
    let methodName = method.map { String(cString: $0) } ?? "GET"
    if let refusal = refusal(path: path, pathHasNUL: connectionID.map(server.deadlines.requestLine)?.pathHasNUL ?? false,
                             query: query, headers: headers) {
        var response = refusal
        response.headers.append(("Request-Id", pending.requestID))
        return queue(response, on: connection)
    }
    let request = HTTPRequest(
        method: methodName,
        path: path ?? "/",
        query: query.values,
        headers: Dictionary(headers.values, uniquingKeysWith: { a, b in "\(a), \(b)" }),
        body: pending.body,
        requestID: pending.requestID)
    MHD_suspend_connection(connection)
    let suspended = SuspendedConnection(pointer: connection)
    let handler = server.handler
    let answering = UncheckedPending(pending)
    server.work.add {
        var response = handler(request)
        response.headers.append(("Request-Id", answering.value.requestID))
        if request.method == "HEAD" {
            response.body = []
            response.stream = nil
        }
        let resume: @Sendable (OpaquePointer) -> Void = { connection in
            server.running.withLock { running in
                if running { MHD_resume_connection(connection) }
            }
        }
        let channel = response.stream.map { _ in BodyChannel(connection: suspended.pointer, resume: resume) }
        answering.value.response = response
        answering.value.channel = channel
        resume(suspended.pointer)
        // The headers go out now; the body follows as it is produced, on this worker.
        if let stream = response.stream, let channel {
            do {
                try stream.produce { try channel.write($0) }
                channel.finish(failed: false)
            } catch {
                channel.finish(failed: true)
            }
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

/// A request target or header section past the configured limits, answered before the body is read (the
/// connection is then closed, as libmicrohttpd closes it after its own 414 or 431).
private func oversized(_ server: HTTPServer, _ connection: OpaquePointer) -> HTTPResponse? {
    let limits = server.configuration
    if let id = connectionID(connection), server.deadlines.requestLine(id).targetBytes > limits.maxRequestTargetBytes {
        var response = HTTPResponse.error(414, type: "invalid_request_error", code: "uri_too_long",
                                          message: "the request target (path and query) is longer than \(limits.maxRequestTargetBytes) bytes")
        response.headers.append(("Cache-Control", "no-store"))
        return response
    }
    if headerBytes(connection) > limits.maxHeaderBytes {
        var response = HTTPResponse.error(431, type: "invalid_request_error", code: "headers_too_large",
                                          message: "the header fields add up to more than \(limits.maxHeaderBytes) bytes")
        response.headers.append(("Cache-Control", "no-store"))
        return response
    }
    return nil
}

/// The size of the header section as sent, each field counted as `name: value` and its CRLF.
private func headerBytes(_ connection: OpaquePointer) -> Int {
    var total = 0
    withUnsafeMutablePointer(to: &total) { pointer in
        _ = MHD_get_connection_values_n(connection, .HEADER_KIND, { context, _, _, keySize, _, valueSize in
            context?.assumingMemoryBound(to: Int.self).pointee += keySize + valueSize + 4
            return .YES
        }, pointer)
    }
    return total
}

/// A text parameter that holds a NUL byte or is not UTF-8 is refused rather than cut short or repaired: C
/// strings end at the NUL, and PostgreSQL's text refuses it.
private func refusal(path: String?, pathHasNUL: Bool, query: CollectedValues, headers: CollectedValues) -> HTTPResponse? {
    func invalid(_ param: String?, _ message: String) -> HTTPResponse {
        .error(400, type: "invalid_request_error", code: "parameter_invalid", message: message, param: param)
    }
    if pathHasNUL { return invalid(nil, "the path contains %00 (a NUL byte)") }
    guard path != nil else { return invalid(nil, "the path is not valid UTF-8 once percent-decoded") }
    if let (name, problem) = query.refused { return invalid(name, "query parameter \(name ?? "(unnamed)") \(problem)") }
    if let (name, problem) = headers.refused { return invalid(name, "header \(name ?? "(unnamed)") \(problem)") }
    return nil
}

private func requestCompleted(context: UnsafeMutableRawPointer?, connection: OpaquePointer?,
                              requestContext: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
                              termination: MHD_RequestTerminationCode) {
    if let context, let connection, let id = connectionID(connection) {
        Unmanaged<HTTPServer>.fromOpaque(context).takeUnretainedValue().deadlines
            .responseSent(id, now: DispatchTime.now().uptimeNanoseconds)
    }
    guard let requestContext, let pending = requestContext.pointee else { return }
    Unmanaged<PendingRequest>.fromOpaque(pending).release()
    requestContext.pointee = nil
    if let context {
        Unmanaged<HTTPServer>.fromOpaque(context).takeUnretainedValue().requestsInFlight.subtract(1, ordering: .releasing)
    }
}

/// The connection's id in `RequestDeadlines`, kept as its socket context (an integer, not a pointer).
private func connectionID(_ connection: OpaquePointer) -> Int? {
    guard let context = ledger_mhd_socket_context(connection) else { return nil }
    return Int(bitPattern: context)
}

private func connectionChanged(context: UnsafeMutableRawPointer?, connection: OpaquePointer?,
                               socketContext: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
                               change: MHD_ConnectionNotificationCode) {
    guard let context, let connection, let socketContext else { return }
    let deadlines = Unmanaged<HTTPServer>.fromOpaque(context).takeUnretainedValue().deadlines
    if change.rawValue == 0 { // MHD_CONNECTION_NOTIFY_STARTED
        let id = deadlines.opened(socket: ledger_mhd_connection_socket(connection), now: DispatchTime.now().uptimeNanoseconds)
        socketContext.pointee = UnsafeMutableRawPointer(bitPattern: id)
    } else {
        if let id = socketContext.pointee.map({ Int(bitPattern: $0) }) { deadlines.closed(id) }
        socketContext.pointee = nil
    }
}

private typealias URILogCallback = @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?, OpaquePointer?) -> UnsafeMutableRawPointer?

/// Sees the request target before libmicrohttpd percent-decodes it: the one place a `%00` in the path shows,
/// and the length the client sent.
private func requestLineReceived(context: UnsafeMutableRawPointer?, uri: UnsafePointer<CChar>?,
                                 connection: OpaquePointer?) -> UnsafeMutableRawPointer? {
    guard let context, let uri, let connection, let id = connectionID(connection) else { return nil }
    var line = RequestDeadlines.RequestLine()
    var index = 0
    while uri[index] != 0 && uri[index] != CChar(UInt8(ascii: "?")) {
        if uri[index] == CChar(UInt8(ascii: "%")), uri[index + 1] == CChar(UInt8(ascii: "0")), uri[index + 2] == CChar(UInt8(ascii: "0")) {
            line.pathHasNUL = true
        }
        index += 1
    }
    line.targetBytes = index + strlen(uri + index)
    Unmanaged<HTTPServer>.fromOpaque(context).takeUnretainedValue().deadlines.noteRequestLine(id, line)
    return nil
}

private func queue(_ response: HTTPResponse, channel: BodyChannel? = nil, on connection: OpaquePointer) -> MHD_Result {
    let created: OpaquePointer?
    if let channel {
        // Size unknown: chunked. The channel lives until libmicrohttpd frees the response.
        created = MHD_create_response_from_callback(UInt64.max, 32 * 1024, readStreamedBody,
                                                    Unmanaged.passRetained(channel).toOpaque(), freeStreamedBody)
    } else {
        created = response.body.withUnsafeBytes { bytes in
            MHD_create_response_from_buffer(bytes.count, UnsafeMutableRawPointer(mutating: bytes.baseAddress),
                                            .RESPMEM_MUST_COPY)
        }
    }
    guard let created else { return .NO }
    for (name, value) in response.headers { _ = MHD_add_response_header(created, name, value) }
    // Every response is JSON or text that a browser must not reinterpret as something else.
    _ = MHD_add_response_header(created, "X-Content-Type-Options", "nosniff")
    let result = MHD_queue_response(connection, UInt32(response.status), created)
    MHD_destroy_response(created)
    return result
}

private func lookupHeader(_ connection: OpaquePointer, _ name: String) -> String? {
    MHD_lookup_connection_value(connection, .HEADER_KIND, name).map { String(cString: $0) }
}

/// Names and values as text, and the first one that is not (NUL inside, or not UTF-8) with its problem; its
/// name is nil when the name itself is the problem.
private struct CollectedValues {
    var values: [(name: String, value: String)] = []
    var refused: (name: String?, problem: String)?
}

private final class ValueCollector {
    var collected = CollectedValues()
    let lowercaseNames: Bool
    init(lowercaseNames: Bool) { self.lowercaseNames = lowercaseNames }
}

/// The bytes as text; nil for bytes that are not UTF-8 or hold a NUL (the C strings end there).
private func text(_ pointer: UnsafePointer<CChar>?, _ size: Int) -> (text: String?, problem: String?) {
    guard let pointer, size > 0 else { return ("", nil) }
    return pointer.withMemoryRebound(to: UInt8.self, capacity: size) { start in
        let bytes = UnsafeBufferPointer(start: start, count: size)
        if bytes.contains(0) { return (nil, "contains a NUL byte") }
        guard let text = String(validating: bytes, as: UTF8.self) else { return (nil, "is not valid UTF-8") }
        return (text, nil)
    }
}

private func collectValues(_ connection: OpaquePointer, _ kind: MHD_ValueKind, lowercaseNames: Bool) -> CollectedValues {
    let collector = ValueCollector(lowercaseNames: lowercaseNames)
    let unmanaged = Unmanaged.passUnretained(collector)
    _ = MHD_get_connection_values_n(connection, kind, { context, _, key, keySize, value, valueSize in
        guard let context else { return .YES }
        let collector = Unmanaged<ValueCollector>.fromOpaque(context).takeUnretainedValue()
        guard collector.collected.refused == nil else { return .NO }
        let (name, nameProblem) = text(key, keySize)
        guard let name else {
            collector.collected.refused = (nil, "has a name that \(nameProblem ?? "is not text")")
            return .NO
        }
        let (text, problem) = text(value, valueSize)
        guard let text else {
            collector.collected.refused = (name, problem ?? "is not text")
            return .NO
        }
        collector.collected.values.append((collector.lowercaseNames ? name.lowercased() : name, text))
        return .YES
    }, unmanaged.toOpaque())
    return withExtendedLifetime(collector) { collector.collected }
}

private func readStreamedBody(_ context: UnsafeMutableRawPointer?, _ position: UInt64, _ buffer: UnsafeMutablePointer<CChar>?,
                              _ max: Int) -> Int {
    guard let context, let buffer else { return -2 }
    return Unmanaged<BodyChannel>.fromOpaque(context).takeUnretainedValue().read(into: buffer, max: max)
}

private func freeStreamedBody(_ context: UnsafeMutableRawPointer?) {
    guard let context else { return }
    let channel = Unmanaged<BodyChannel>.fromOpaque(context)
    channel.takeUnretainedValue().cancel()
    channel.release()
}
