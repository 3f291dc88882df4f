import CCurl
import Foundation
import Synchronization

/// POSTs over libcurl: one multi handle driven by one thread of its own, its easy handles reused (so their
/// connections stay alive), as many transfers in flight as are submitted (the dispatcher bounds them by its
/// slots). Redirects are not followed: a 3xx is an answer like any other. A post given `connectTo` connects to
/// that address only (the one the URL policy checked), never to what a lookup of its own would say.
/// Completions run on the client's thread.
public final class CurlClient: @unchecked Sendable {
    public struct Response: Sendable {
        /// The HTTP status, when a whole response arrived.
        public var status: Int?
        /// The first KiB of the body.
        public var excerpt: String?
        public var latencyMilliseconds: Double
        public var error: String?
    }

    /// A POST waiting for, or in, the multi handle.
    fileprivate final class Transfer: @unchecked Sendable {
        let url: String
        let connectTo: String?
        let headers: [String]
        let body: [UInt8]
        let timeoutMilliseconds: Int
        let completion: @Sendable (Response) -> Void
        var started: UInt64 = 0
        var received: [UInt8] = []
        var headerList: UnsafeMutablePointer<curl_slist>?
        var connectToList: UnsafeMutablePointer<curl_slist>?

        init(url: String, connectTo: String?, headers: [String], body: [UInt8], timeoutMilliseconds: Int,
             completion: @escaping @Sendable (Response) -> Void) {
            self.url = url
            self.connectTo = connectTo
            self.headers = headers
            self.body = body
            self.timeoutMilliseconds = timeoutMilliseconds
            self.completion = completion
        }
    }

    static let excerptLimit = 1024

    /// curl_global_init is not thread-safe and must run once, before any other libcurl call: a static is
    /// initialised once, under a lock.
    private static let initialised: Bool = ledger_curl_global_init() == CURLE_OK

    private let engine: Engine?

    public init() {
        engine = Self.initialised ? Engine() : nil
        if let engine {
            let thread = Thread { engine.run() }
            thread.name = "ledger-curl"
            thread.start()
        }
    }

    deinit { engine?.stop() }

    /// Sends `body` to `url` with `headers` ("Name: value"), connecting as `connectTo` says
    /// (`host:port:address:port`) if given; `completion` runs once, on the client's thread.
    public func post(_ url: String, connectTo: String? = nil, headers: [(String, String)], body: [UInt8], timeout: TimeInterval,
                     completion: @escaping @Sendable (Response) -> Void) {
        guard let engine else {
            return completion(Response(status: nil, excerpt: nil, latencyMilliseconds: 0, error: "libcurl could not be initialised"))
        }
        let milliseconds = timeout * 1000
        let timeoutMilliseconds = milliseconds.isFinite && milliseconds >= 1 ? Int(min(milliseconds, 86_400_000)) : 1
        engine.submit(Transfer(url: url, connectTo: connectTo, headers: headers.map { "\($0.0): \($0.1)" } + ["Expect:"], body: body,
                               timeoutMilliseconds: timeoutMilliseconds, completion: completion))
    }

    /// The multi handle and what its thread works on; only that thread touches the handles.
    fileprivate final class Engine: @unchecked Sendable {
        private let multi: UnsafeMutableRawPointer?
        private let submitted = Mutex<(transfers: [Transfer], stopping: Bool)>(([], false))
        private var idle: [UnsafeMutableRawPointer] = []
        private var active: [UnsafeMutableRawPointer: Transfer] = [:]
        private var errorBuffers: [UnsafeMutableRawPointer: UnsafeMutablePointer<CChar>] = [:]
        /// The thread running `run`, once it does.
        private let engineThread = Atomic<UInt>(0)

        init() { multi = curl_multi_init() }

        func submit(_ transfer: Transfer) {
            guard let multi else {
                return transfer.completion(Response(status: nil, excerpt: nil, latencyMilliseconds: 0, error: "libcurl has no multi handle"))
            }
            submitted.withLock { $0.transfers.append(transfer) }
            // A completion submitting the next transfer runs on the engine's thread, which looks for submitted
            // transfers before it waits: no wake-up (a system call) for every delivery.
            if engineThread.load(ordering: .relaxed) != UInt(pthread_self()) { curl_multi_wakeup(multi) }
        }

        func stop() {
            submitted.withLock { $0.stopping = true }
            if let multi { curl_multi_wakeup(multi) }
        }

        func run() {
            guard let multi else { return }
            engineThread.store(UInt(pthread_self()), ordering: .relaxed)
            while true {
                let (transfers, stopping) = submitted.withLock { state in
                    defer { state.transfers = [] }
                    return (state.transfers, state.stopping)
                }
                if stopping && transfers.isEmpty && active.isEmpty { break }
                for transfer in transfers { add(transfer, to: multi) }
                var running: Int32 = 0
                curl_multi_perform(multi, &running)
                var left: Int32 = 0
                while let message = curl_multi_info_read(multi, &left) {
                    guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
                    finish(easy, result: message.pointee.data.result, in: multi)
                }
                // A completion may have submitted the next transfer: take it before waiting.
                if submitted.withLock({ !$0.transfers.isEmpty }) { continue }
                curl_multi_poll(multi, nil, 0, 1000, nil)
            }
            for easy in idle { curl_easy_cleanup(easy) }
            idle = []
            for buffer in errorBuffers.values { buffer.deallocate() }
            errorBuffers = [:]
            curl_multi_cleanup(multi)
        }

        private func add(_ transfer: Transfer, to multi: UnsafeMutableRawPointer) {
            guard let easy = idle.popLast() ?? curl_easy_init() else {
                return transfer.completion(Response(status: nil, excerpt: nil, latencyMilliseconds: 0, error: "libcurl has no easy handle"))
            }
            curl_easy_reset(easy) // keeps the handle's live connections
            let errorBuffer = errorBuffers[easy] ?? UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE))
            errorBuffers[easy] = errorBuffer
            errorBuffer.initialize(to: 0)
            for header in transfer.headers { transfer.headerList = curl_slist_append(transfer.headerList, header) }
            if let connectTo = transfer.connectTo {
                // Without its list, libcurl would resolve the host itself: no transfer rather than an unchecked one.
                guard let list = curl_slist_append(nil, connectTo) else { return complete(transfer, easy: easy, result: CURLE_OUT_OF_MEMORY) }
                transfer.connectToList = list
            }
            let context = Unmanaged.passUnretained(transfer).toOpaque()
            var configured = [
                ledger_curl_easy_setopt_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer),
                ledger_curl_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1),
                ledger_curl_easy_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 0),
                ledger_curl_easy_setopt_pointer(easy, CURLOPT_PROTOCOLS_STR, "http,https"),
                ledger_curl_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, transfer.timeoutMilliseconds),
                ledger_curl_easy_setopt_long(easy, CURLOPT_POST, 1),
                ledger_curl_easy_setopt_pointer(easy, CURLOPT_HTTPHEADER, transfer.headerList),
                ledger_curl_easy_setopt_pointer(easy, CURLOPT_CONNECT_TO, transfer.connectToList),
                // A proxy from the environment would connect wherever its own lookup says.
                ledger_curl_easy_setopt_pointer(easy, CURLOPT_NOPROXY, "*"),
                ledger_curl_easy_setopt_write_callback(easy, CURLOPT_WRITEFUNCTION, { data, size, count, context in
                    let length = size &* count
                    guard let data, let context else { return length }
                    let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
                    let wanted = min(length, max(0, CurlClient.excerptLimit - transfer.received.count))
                    if wanted > 0 {
                        data.withMemoryRebound(to: UInt8.self, capacity: wanted) { transfer.received.append(contentsOf: UnsafeBufferPointer(start: $0, count: wanted)) }
                    }
                    return length
                }),
                ledger_curl_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, context),
                ledger_curl_easy_setopt_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(transfer.body.count)),
            ]
            configured.append(transfer.body.withUnsafeBufferPointer { body in
                ledger_curl_easy_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, body.baseAddress.map { UnsafeRawPointer($0) } ?? UnsafeRawPointer(errorBuffer))
            })
            configured.append(ledger_curl_easy_setopt_pointer(easy, CURLOPT_URL, transfer.url))
            transfer.started = DispatchTime.now().uptimeNanoseconds
            if let failed = configured.first(where: { $0 != CURLE_OK }) {
                return complete(transfer, easy: easy, result: failed)
            }
            active[easy] = transfer
            let added = curl_multi_add_handle(multi, easy)
            if added != CURLM_OK {
                active[easy] = nil
                complete(transfer, easy: easy, result: CURLE_FAILED_INIT, error: String(cString: curl_multi_strerror(added)))
            }
        }

        private func finish(_ easy: UnsafeMutableRawPointer, result: CURLcode, in multi: UnsafeMutableRawPointer) {
            curl_multi_remove_handle(multi, easy)
            guard let transfer = active.removeValue(forKey: easy) else { return }
            complete(transfer, easy: easy, result: result)
        }

        /// Hands the outcome to the transfer's completion and the easy handle back to the idle ones.
        private func complete(_ transfer: Transfer, easy: UnsafeMutableRawPointer, result: CURLcode, error: String? = nil) {
            let latency = Double(DispatchTime.now().uptimeNanoseconds &- transfer.started) / 1_000_000
            var status: Int?
            var code = 0
            if result == CURLE_OK, ledger_curl_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK, code > 0 {
                status = code
            }
            var message = error
            if result != CURLE_OK && message == nil {
                let detail = errorBuffers[easy].map { String(cString: $0) } ?? ""
                message = String((detail.isEmpty ? String(cString: curl_easy_strerror(result)) : detail).prefix(300))
            }
            curl_slist_free_all(transfer.headerList)
            curl_slist_free_all(transfer.connectToList)
            transfer.headerList = nil
            transfer.connectToList = nil
            idle.append(easy)
            transfer.completion(Response(status: status, excerpt: status == nil ? nil : String(decoding: transfer.received, as: UTF8.self),
                                         latencyMilliseconds: latency, error: message))
        }
    }
}
