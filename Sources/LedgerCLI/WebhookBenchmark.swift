import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import LedgerCrypto
import LedgerDomain
import LedgerHTTP
import LedgerStorage
import LedgerWebhooks
import Synchronization

/// `ledger bench webhooks`: commit-to-receipt latency at a fixed command rate, then the most deliveries per
/// second, against `ledger serve` and a `ledger dispatch` process, with a fast local receiver. The second
/// phase drives commands unbounded while no dispatcher runs, so a backlog builds, then starts one and times
/// the drain: that measures the dispatcher, not how fast clients can create verifications. The drain rate is
/// compared with a reference measured in the same run: wrk POSTing the same signed payloads to the same receiver
/// over as many connections as the dispatcher has deliveries in flight (`LEDGER_WEBHOOK_CONCURRENCY`, 16 by
/// default) (`drain_ratio`). A second figure, the dispatcher's libcurl client POSTing them the same way with no
/// database, shows how much of the gap is the HTTP client itself.
enum WebhookBenchmark {

    /// Receipt times by verification id, from an in-process receiver on libmicrohttpd.
    final class Receiver: @unchecked Sendable {
        let receipts = Mutex<[String: UInt64]>([:])
        let total = Atomic<Int>(0)
        var server: HTTPServer?

        func start() throws -> String {
            let server = HTTPServer(configuration: .init(host: "127.0.0.1", port: 0, threads: 4)) { [self] request in
                let now = DispatchTime.now().uptimeNanoseconds
                if let id = (try? JSONValue.parse(request.body, maxDepth: 64))?["data"]?["object"]?["id"]?.stringValue {
                    receipts.withLock { if $0[id] == nil { $0[id] = now } }
                }
                total.add(1, ordering: .relaxed)
                return HTTPResponse(status: 204)
            }
            try server.start()
            self.server = server
            return "http://127.0.0.1:\(server.port)/hooks"
        }
    }

    static func run(rate: Int, seconds: Int, settings: Settings) throws {
        let concurrency = settings.webhooks.concurrency
        let database = try Database(settings: settings)
        defer { database.close() }
        try database.migrate()
        let receiver = Receiver()
        let hookURL = try receiver.start()
        defer { receiver.server?.shutdown(gracePeriod: 1) }
        let dispatchEnvironment = ["LEDGER_WEBHOOK_ALLOW_PRIVATE": "1", "LEDGER_LOG_REQUESTS": "0", "LEDGER_WEBHOOK_CONCURRENCY": String(concurrency),
                                   "LEDGER_WEBHOOK_DISPATCH": "0"]
        let (server, target) = try LifecycleBenchmark.startServer(database: database, environment: dispatchEnvironment
            .merging(try PersonalDataSetup.benchmarkEnvironment(settings)) { $1 })
        defer { server.signal(SIGTERM); _ = server.wait() }
        func startDispatcher() throws -> ChildProcess.Running {
            var environment = ProcessInfo.processInfo.environment
            for (name, value) in dispatchEnvironment { environment[name] = value }
            for (name, value) in try PersonalDataSetup.benchmarkEnvironment(settings) { environment[name] = value }
            environment["DATABASE_URL"] = database.conninfo
            return try ChildProcess.Running(URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path,
                                            ["dispatch"], environment: environment)
        }
        var dispatcher = try startDispatcher()
        defer { dispatcher.signal(SIGTERM); _ = dispatcher.wait() }
        let session = URLSession(configuration: .ephemeral)
        let (status, endpoint) = try LifecycleBenchmark.request(session, target, "POST", "/v1/webhook_endpoints",
                                                                 ["url": .string(hookURL), "events": ["VERIFICATION_STATUS_CHANGE"]])
        guard status == 201, let endpointID = endpoint["id"]?.stringValue,
              let secret = endpoint["secret"]?.stringValue.flatMap(WebhookSecret.init) else {
            throw UsageError(message: "could not create the webhook endpoint (\(status))")
        }
        // Leave nothing for later dispatchers to retry against a receiver that is gone.
        defer { _ = try? LifecycleBenchmark.request(session, target, "DELETE", "/v1/webhook_endpoints/\(endpointID)", nil) }

        // Phase 1: `rate` commands a second, each producing one webhook.
        let paced = drive(session, target, clients: 8, seconds: seconds, rate: rate)
        _ = waitForDrain(receiver, paced.sent.keys)
        let latencies = paced.sent.compactMap { id, committed -> Double? in
            guard let received = receiver.receipts.withLock({ $0[id] }) else { return nil }
            return Double(received > committed ? received - committed : 0) / 1_000_000
        }.sorted()

        // Phase 2: a backlog built while the endpoint is off, then drained.
        dispatcher.signal(SIGTERM)
        _ = dispatcher.wait()
        let flood = drive(session, target, clients: 32, seconds: seconds, rate: nil)
        let countBefore = receiver.total.load(ordering: .relaxed)
        dispatcher = try startDispatcher()
        let drained = waitForDrain(receiver, flood.sent.keys)
        let floodReceipts = receiver.receipts.withLock { receipts in flood.sent.keys.compactMap { receipts[$0] } }
        let firstReceipt = floodReceipts.min() ?? 0, lastReceipt = floodReceipts.max() ?? 0
        let delivered = receiver.total.load(ordering: .relaxed) - countBefore
        let deliveriesPerSecond = Double(delivered) / max(0.001, Double(lastReceipt - firstReceipt) / 1e9)
        let sent = Set(paced.sent.keys).union(flood.sent.keys)
        let lost = receiver.receipts.withLock { receipts in sent.filter { receipts[$0] == nil }.count }

        // The reference: the same signed payloads, POSTed by wrk to the same receiver (the dispatcher, done
        // with the backlog, only polls meanwhile).
        let requests = try signedRequests(database: database, endpointID: endpointID, secret: secret)
        let reference = try referenceRate(requests, url: hookURL, connections: concurrency, seconds: 5)
        let drainRatio = deliveriesPerSecond / reference
        let clientRate = curlRate(requests, url: hookURL, concurrency: concurrency, seconds: 5)

        let p50 = BenchCommand.percentile(latencies, 0.50), p99 = BenchCommand.percentile(latencies, 0.99)
        print("phase 1: \(paced.sent.count) commands at \(rate)/s; commit-to-receipt p50 \(BenchCommand.format(p50, 2)) ms, p99 \(BenchCommand.format(p99, 2)) ms (target p99 < 100 ms at 200/s)")
        print("phase 2: a backlog of \(flood.sent.count) messages drained at \(BenchCommand.format(deliveriesPerSecond)) deliveries/s\(drained ? "" : "; not all arrived in time")")
        print("reference: wrk posting the same signed payloads to the receiver over \(concurrency) connections: \(BenchCommand.format(reference)) requests/s; drain_ratio \(BenchCommand.format(drainRatio, 3)) (target >= 0.5)")
        print("client: libcurl posting them \(concurrency) at a time, as the dispatcher does, with no database: \(BenchCommand.format(clientRate)) requests/s (\(BenchCommand.format(clientRate / reference, 3)) of wrk)")
        print("lost: \(lost) of \(sent.count) (failed commands: \(paced.failed + flood.failed))")
        print(JSONValue.object([
            ("rate", .int(Int64(rate))), ("p50_ms", .double(BenchCommand.round2(p50))), ("p99_ms", .double(BenchCommand.round2(p99))),
            ("max_deliveries_per_s", .double(BenchCommand.round2(deliveriesPerSecond))), ("backlog", .int(Int64(flood.sent.count))),
            ("reference_requests_per_s", .double(BenchCommand.round2(reference))), ("drain_ratio", .double(BenchCommand.round2(drainRatio))),
            ("libcurl_requests_per_s", .double(BenchCommand.round2(clientRate))),
            ("lost", .int(Int64(lost))),
        ]).jsonString)
    }

    /// One of the endpoint's messages as the dispatcher sends it: headers signed with the endpoint's secret, body.
    struct SignedRequest {
        var headers: [(String, String)]
        var body: String
    }

    /// The endpoint's latest 1,000 messages, each with its own `webhook-id`, signed now.
    static func signedRequests(database: Database, endpointID: String, secret: WebhookSecret) throws -> [SignedRequest] {
        let connection = try PostgresConnection(conninfo: database.conninfo)
        let rows = try connection.query("SELECT message_id, payload::text FROM ledger.outbox WHERE endpoint_id = $1 ORDER BY id DESC LIMIT 1000",
                                        [endpointID])
        let timestamp = Int64(Date().timeIntervalSince1970)
        let requests = (0..<rows.count).compactMap { row -> SignedRequest? in
            guard let id = rows.string(row, 0), let body = rows.string(row, 1) else { return nil }
            return SignedRequest(headers: StandardWebhooks.headers(id: id, timestamp: timestamp, body: Array(body.utf8), secrets: [secret])
                                    + [("Content-Type", "application/json"), ("User-Agent", "ledger-webhooks/1")],
                                 body: body)
        }
        guard !requests.isEmpty else { throw UsageError(message: "no message to measure the reference with") }
        return requests
    }

    /// wrk with `connections` connections POSTing `messages` round and round for `seconds`; returns requests/s.
    static func referenceRate(_ messages: [SignedRequest], url: String, connections: Int, seconds: Int) throws -> Double {
        let requests = messages.map { message in
            let table = message.headers.map { "[\(luaString($0.0))] = \(luaString($0.1))" }.joined(separator: ", ")
            return "{ headers = { \(table) }, body = \(luaString(message.body)) }"
        }
        let lua = """
            local messages = {
            \(requests.joined(separator: ",\n"))
            }
            local next_message = 0
            request = function()
              next_message = next_message % #messages + 1
              local message = messages[next_message]
              return wrk.format("POST", nil, message.headers, message.body)
            end
            done = function(summary, latency, requests)
              io.write(string.format('{"seconds":%.3f,"requests":%d,"non_2xx":%d,"socket_errors":%d}\\n', summary.duration / 1e6,
                summary.requests, summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
            end
            """
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("ledger-webhook-reference-\(getpid()).lua")
        try Data(lua.utf8).write(to: script)
        defer { try? FileManager.default.removeItem(at: script) }
        let outcome = try ChildProcess.run("wrk", ["-t2", "-c\(connections)", "-d\(seconds)s", "--timeout", "10s", "-s", script.path, url])
        guard outcome.status == 0,
              let line = outcome.output.split(separator: "\n").last(where: { $0.hasPrefix("{\"seconds\"") }),
              let figures = try? JSONValue.parse(Array(line.utf8)),
              let elapsed = figures["seconds"]?.doubleValue, elapsed > 0, let count = figures["requests"]?.doubleValue else {
            throw UsageError(message: "wrk failed (install the 'wrk' package):\n\(outcome.output)")
        }
        if let failed = figures["non_2xx"]?.doubleValue, failed > 0 {
            throw UsageError(message: "the receiver refused \(Int(failed)) of the reference's requests")
        }
        return count / elapsed
    }

    /// The dispatcher's HTTP client (one libcurl multi handle) keeping `concurrency` of `messages` in flight for
    /// `seconds`, each next one started from the previous one's completion; returns requests/s answered 2xx.
    static func curlRate(_ messages: [SignedRequest], url: String, concurrency: Int, seconds: Int) -> Double {
        let client = CurlClient()
        let prepared = messages.map { (headers: $0.headers, body: Array($0.body.utf8)) }
        let answered = Atomic<Int>(0), started = Atomic<Int>(0)
        let end = DispatchTime.now().uptimeNanoseconds + UInt64(seconds) * 1_000_000_000
        let group = DispatchGroup()
        @Sendable func post() {
            guard DispatchTime.now().uptimeNanoseconds < end else { return group.leave() }
            let request = prepared[started.add(1, ordering: .relaxed).oldValue % prepared.count]
            client.post(url, headers: request.headers, body: request.body, timeout: 10) { response in
                if let status = response.status, (200..<300).contains(status) { answered.add(1, ordering: .relaxed) }
                post()
            }
        }
        let begun = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<concurrency { group.enter(); post() }
        group.wait()
        return Double(answered.load(ordering: .relaxed)) / max(0.001, Double(DispatchTime.now().uptimeNanoseconds - begun) / 1e9)
    }

    /// A Lua string literal of `text`: every byte outside printable ASCII, and quote and backslash, as a
    /// decimal escape.
    static func luaString(_ text: String) -> String {
        var out = "\""
        for byte in text.utf8 {
            if byte >= 0x20 && byte < 0x7f && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") {
                out.append(Character(Unicode.Scalar(byte)))
            } else {
                out += String(format: "\\%03d", byte)
            }
        }
        return out + "\""
    }

    /// Creates verifications from `clients` threads for `seconds`, paced at `rate` a second when given.
    /// Returns when each was committed (its response arrived) by id.
    static func drive(_ session: URLSession, _ target: LifecycleBenchmark.Target, clients: Int, seconds: Int,
                      rate: Int?) -> (sent: [String: UInt64], failed: Int) {
        let sent = Mutex<[String: UInt64]>([:])
        let failed = Atomic<Int>(0)
        let tickets = Atomic<Int>(0)
        let start = DispatchTime.now().uptimeNanoseconds
        let end = start + UInt64(seconds) * 1_000_000_000
        let group = DispatchGroup()
        for _ in 0..<clients {
            group.enter()
            Thread {
                defer { group.leave() }
                while true {
                    if let rate {
                        let ticket = tickets.add(1, ordering: .relaxed).newValue - 1
                        let due = start + UInt64(Double(ticket) / Double(rate) * 1e9)
                        if due >= end { return }
                        let now = DispatchTime.now().uptimeNanoseconds
                        if due > now { usleep(UInt32((due - now) / 1000)) } // pacing the load, not waiting on anything
                    } else if DispatchTime.now().uptimeNanoseconds >= end {
                        return
                    }
                    let result = try? LifecycleBenchmark.request(session, target, "POST", "/v1/verifications",
                                                                 ["entity_id": "bench", "checks": ["email"]])
                    guard let (status, json) = result, status == 201, let id = json["id"]?.stringValue else {
                        failed.add(1, ordering: .relaxed)
                        continue
                    }
                    let committed = DispatchTime.now().uptimeNanoseconds
                    sent.withLock { $0[id] = committed }
                }
            }.start()
        }
        group.wait()
        return (sent.withLock { $0 }, failed.load(ordering: .relaxed))
    }

    /// Waits up to a minute for every id to have arrived; true if they all did.
    static func waitForDrain(_ receiver: Receiver, _ ids: Dictionary<String, UInt64>.Keys) -> Bool {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if receiver.receipts.withLock({ receipts in ids.allSatisfy { receipts[$0] != nil } }) { return true }
            usleep(20_000) // polling the receiver's record; deliveries come from another process
        }
        return false
    }
}
