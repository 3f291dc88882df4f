import Foundation
import LedgerAPI
import LedgerDomain
import LedgerHTTP
import LedgerLog
import LedgerStorage
import Synchronization

/// Benchmarks that print figures next to the reference they are measured against, in the same run.
enum BenchCommand {
    static let help = """
        ledger bench append [--writers N] [--seconds S]
            Appends 1-event commands (expected version, hash chain) to random streams from N writers for S
            seconds, then runs pgbench -M prepared with the equivalent bare SQL transaction (one INSERT into
            an events table of the same shape plus the stream version bump) with N clients on the same server.
            Last line: {"writers","commands_per_s","p50_ms","p99_ms","pgbench_tps","ratio"}.

        ledger bench http [--connections C] [--seconds S]
            Starts the service in this process and drives it with wrk: GET /healthz (no database) and
            GET /readyz (one query through the connection pool). Needs wrk (Debian package 'wrk').

        ledger bench lifecycle [--clients N] [--seconds S] [--url URL --key KEY]
            Drives the whole lifecycle over HTTP (create, attempt, two progress steps, approved result, order
            read) from N clients against `ledger serve` started as a child process on the same database (or the
            server at --url with --key), then pgbench -M prepared with the modeled SQL transaction (event insert,
            version bump, projection upsert, outbox insert) and N clients. Last line:
            {"commands_per_s_without_rls","ratio_without_rls","commands_per_s_without_encryption","clients",
            "commands_per_s","p50_ms","p99_ms","pgbench_tps","ratio","server_peak_rss_mb"}. The same load runs first
            with row-level security switched off on the database's tables, and both figures are printed side by side,
            with the ratio target (LEDGER_BENCH_RLS_REFERENCE=0 leaves that run out; with --url it is left out).
            It also runs first with personal-data encryption off (LEDGER_PERSONAL_DATA_ENCRYPTION=0), printed next
            to the encrypted run with their ratio and its target (with --url it is left out).

        ledger bench webhooks [--rate R] [--seconds S]
            Starts `ledger serve`, a `ledger dispatch` process and a fast receiver; drives R commands/s that
            each produce one webhook and measures commit-to-receipt latency, then builds a backlog with no
            dispatcher running and times its drain by a fresh one; the reference is wrk POSTing the same signed
            payloads to the same receiver over as many connections as the dispatcher's concurrency
            (LEDGER_WEBHOOK_CONCURRENCY, 16), and URLSession doing the same shows the HTTP client's own ceiling.
            Last line: {"rate","p50_ms","p99_ms","max_deliveries_per_s","backlog","reference_requests_per_s",
            "drain_ratio","urlsession_requests_per_s","lost"}.

        ledger bench replay [--events N]
            Appends a synthetic log of N events (default 1,000,000) over realistic lifecycles, and at N/10 and
            at N measures: COPY of the event table in feed order (the reference), a full `ledger replay` into
            emptied read models and `ledger replay --check`, as child processes (peak RSS from /proc). Last line:
            {"events","events_per_s","raw_read_rows_per_s","ratio","peak_rss_mb",...,"rss_growth"}.
        ledger bench audit [--events N]
            Builds a log of 10,000 events (1,000 verifications of 10, every tenth of one large entity, the others
            in entities of 90 events), its Merkle tree and a checkpoint, and times 200 requests of each:
            GET /v1/events with each filter and with a cursor in the middle, an inclusion proof, a consistency
            proof; then the large entity's export (read by curl) against one SQL query reading the same events in
            the same order, and the server's RSS around it.
            Then grows the same log to N (default 1,000,000) and measures again. Last line: every p99 at N and
            at 10,000, their ratio (target ≤ 2), export_ratio (target ≥ 0.5) and the RSS figures.
        ledger bench views [--clients N] [--seconds S]
            Starts `ledger serve`, makes 200 sandbox verifications, then drives with wrk (N connections, S seconds
            each) GET on each vendor view (Stripe report by id, report list, customer verification, validation,
            KYC status) and /readyz in the same run. Last line: {"clients","readyz_req_per_s","req_per_s":{route:
            figure},"ratio_min"}; target ratio_min >= 0.5.

        ledger bench rescore [--orders N]
            A re-scoring dry run (3 rules) over N orders (default 100000; 1,000 made through the command path, the
            rest copied in the read models, which is what a dry run reads), against the raw read of the same order
            documents by the same keyset query in the same run. Last line:
            {"orders","orders_per_s","raw_read_rows_per_s","ratio","peak_rss_mb"}; target ratio >= 0.3.

        All use DATABASE_URL or the embedded PostgreSQL; build with -c release for meaningful figures.
        """

    static func run(_ arguments: [String], settings: Settings) throws {
        guard let which = arguments.first else { throw UsageError(message: "bench what? append or http") }
        let options = try Options(Array(arguments.dropFirst()), known: ["writers", "seconds", "connections", "clients", "url", "key", "rate", "events", "orders"])
        switch which {
        case "append":
            try appendBenchmark(writers: try options.integer("writers", default: 8, range: 1...256),
                                seconds: try options.integer("seconds", default: 10, range: 1...3600),
                                settings: settings)
        case "http":
            try httpBenchmark(connections: try options.integer("connections", default: 32, range: 1...10_000),
                              seconds: try options.integer("seconds", default: 10, range: 1...3600),
                              settings: settings)
        case "lifecycle":
            try LifecycleBenchmark.run(clients: try options.integer("clients", default: 32, range: 1...1024),
                                       seconds: try options.integer("seconds", default: 10, range: 1...3600),
                                       url: options.string("url"), key: options.string("key"), settings: settings)
        case "views":
            try ViewsBenchmark.run(clients: try options.integer("clients", default: 32, range: 1...1024),
                                   seconds: try options.integer("seconds", default: 10, range: 1...3600), settings: settings)
        case "webhooks":
            try WebhookBenchmark.run(rate: try options.integer("rate", default: 200, range: 1...100_000),
                                     seconds: try options.integer("seconds", default: 10, range: 1...3600), settings: settings)
        case "rescore":
            try RescoreBenchmark.run(orders: try options.integer("orders", default: 100_000, range: 1...10_000_000), settings: settings)
        case "audit":
            try AuditBenchmark.run(events: try options.integer("events", default: 1_000_000, range: 10_000...100_000_000), settings: settings)
        case "replay":
            try ReplayBenchmark.run(events: try options.integer("events", default: 1_000_000, range: 10...100_000_000), settings: settings)
        default:
            throw UsageError(message: "unknown benchmark '\(which)': append, http, lifecycle, views, webhooks, audit, replay or rescore")
        }
    }

    // MARK: append

    static func appendBenchmark(writers: Int, seconds: Int, settings: Settings) throws {
        let database = try Database(settings: settings)
        defer { database.close() }
        try database.migrate()
        let pool = database.makePool(size: writers)
        let organization = UUID()
        let streamsPerWriter = 100
        let metadata = EventMetadata(actorID: "bench", actorType: .system)
        // A warm-up creates every stream and warms the caches before anything is measured, as pgbench's
        // tables are created and seeded before its run.
        let warmUp = min(2.0, Double(seconds) / 4)
        let measureFrom = Date().addingTimeInterval(warmUp)
        let deadline = measureFrom.addingTimeInterval(Double(seconds))
        let failures = Atomic<Int>(0)
        let latencies = Mutex<[Double]>([])
        let group = DispatchGroup()
        for writer in 0..<writers {
            group.enter()
            let thread = Thread {
                defer { group.leave() }
                var versions = [Int64](repeating: 0, count: streamsPerWriter)
                var mine: [Double] = []
                mine.reserveCapacity(100_000)
                do {
                    try pool.withConnection(scope: .tenant(organizationID: organization, livemode: false)) { connection in
                        var next = 0
                        while true {
                            let now = Date()
                            if now >= deadline { break }
                            let measured = now >= measureFrom
                            // Streams in order during the warm-up so each exists before measuring; then at random.
                            let stream = measured ? Int.random(in: 0..<streamsPerWriter) : next % streamsPerWriter
                            next += 1
                            let event = NewEvent(id: UUID(), type: "BenchEventRecorded",
                                                 data: ["writer": .int(Int64(writer)), "sequence": .int(versions[stream] + 1)],
                                                 occurredAt: Date())
                            let begin = DispatchTime.now().uptimeNanoseconds
                            let result = try EventStore.append(
                                connection, organizationID: organization, streamID: "bench-\(writer)-\(stream)",
                                expectedVersion: versions[stream] == 0 ? .noStream : .exact(versions[stream]),
                                events: [event], metadata: metadata)
                            if measured { mine.append(Double(DispatchTime.now().uptimeNanoseconds - begin) / 1_000_000) }
                            versions[stream] = result.newVersion
                        }
                    }
                } catch {
                    failures.add(1, ordering: .relaxed)
                    Log.error("bench writer failed", ["error": .string("\(error)")])
                }
                latencies.withLock { $0.append(contentsOf: mine) }
            }
            thread.start()
        }
        group.wait()
        let elapsed = Double(seconds)
        let all = latencies.withLock { $0 }.sorted()
        guard failures.load(ordering: .relaxed) == 0 else { throw UsageError(message: "a writer failed; see the log") }
        let commandsPerSecond = Double(all.count) / elapsed
        let pgbenchTPS = try runPgbench(database: database, clients: writers, seconds: seconds,
                                        streams: writers * streamsPerWriter, organization: organization)
        print("ledger append:   \(format(commandsPerSecond)) commands/s  p50 \(format(percentile(all, 0.50), 2)) ms  p99 \(format(percentile(all, 0.99), 2)) ms  (\(writers) writers, \(seconds) s)")
        print("pgbench (bare):  \(format(pgbenchTPS)) tps  (-M prepared, \(writers) clients, INSERT + version bump)")
        print("ratio:           \(format(commandsPerSecond / pgbenchTPS, 3))  (target at 8 writers: >= 0.70)")
        let summary: JSONValue = [
            "writers": .int(Int64(writers)),
            "commands_per_s": .double(round2(commandsPerSecond)),
            "p50_ms": .double(round2(percentile(all, 0.50))),
            "p99_ms": .double(round2(percentile(all, 0.99))),
            "pgbench_tps": .double(round2(pgbenchTPS)),
            "ratio": .double((commandsPerSecond / pgbenchTPS * 1000).rounded() / 1000),
        ]
        print(summary.jsonString)
    }

    /// pgbench against bare copies of the stream and event tables (no trigger, no hashing, no Swift).
    static func runPgbench(database: Database, clients: Int, seconds: Int, streams: Int, organization: UUID) throws -> Double {
        let org = organization.postgresText
        return try pgbench(database: database, clients: clients, seconds: seconds, setup: """
            CREATE TABLE ledger_bench.streams (LIKE ledger.streams INCLUDING ALL);
            CREATE TABLE ledger_bench.events (LIKE ledger.events INCLUDING ALL);
            INSERT INTO ledger_bench.streams (organization_id, stream_id, version, head_hash)
            SELECT '\(org)', g::text, 1, '\\x00' FROM generate_series(1, \(streams)) g;
            ANALYZE ledger_bench.streams;
            """, script: """
            \\set s random(1, \(streams))
            BEGIN;
            UPDATE ledger_bench.streams SET version = version + 1, head_hash = '\\x00', updated_at = now() WHERE organization_id = '\(org)' AND stream_id = :s::text RETURNING version AS v \\gset
            INSERT INTO ledger_bench.events (event_id, organization_id, stream_id, version, type, schema_version, data, metadata, occurred_at, previous_hash, hash) VALUES (gen_random_uuid(), '\(org)', :s::text, :v, 'BenchEventRecorded', 1, '{"writer": 1, "sequence": 1}', '{"actor_id": "bench", "actor_type": "system"}', now(), '\\x00', '\\x00');
            END;

            """)
    }

    /// Runs `setup` in a fresh `ledger_bench` schema, then pgbench -M prepared with `script` and `clients`
    /// clients for `seconds`; drops the schema again and returns pgbench's transactions per second.
    static func pgbench(database: Database, clients: Int, seconds: Int, setup: String, script: String) throws -> Double {
        let connection = try PostgresConnection(conninfo: database.conninfo)
        try connection.execute("DROP SCHEMA IF EXISTS ledger_bench CASCADE; CREATE SCHEMA ledger_bench;\n" + setup)
        defer { try? connection.execute("DROP SCHEMA IF EXISTS ledger_bench CASCADE") }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("ledger-bench-\(getpid()).sql")
        try Data(script.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let outcome = try ChildProcess.run(database.embedded?.program("pgbench") ?? "pgbench",
                                           ["-n", "-M", "prepared", "-c", "\(clients)", "-j", "\(min(clients, 2))",
                                            "-T", "\(seconds)", "-f", file.path, database.conninfo])
        guard outcome.status == 0, let line = outcome.output.split(separator: "\n").first(where: { $0.hasPrefix("tps = ") }),
              let tps = Double(line.dropFirst(6).prefix { $0 != " " }) else {
            throw UsageError(message: "pgbench failed:\n\(outcome.output)")
        }
        return tps
    }

    // MARK: http

    static func httpBenchmark(connections: Int, seconds: Int, settings: Settings) throws {
        let database = try Database(settings: settings)
        defer { database.close() }
        let (_, latest) = try database.migrate()
        let pool = database.makePool(size: settings.databasePoolSize, commitThreads: settings.commitThreads)
        let application = LedgerApplication(pool: pool, schemaVersion: latest, configuration: settings.api)
        var configuration = settings.httpConfiguration
        configuration.port = 0
        let server = HTTPServer(configuration: configuration, handler: application.handle)
        try server.start()
        defer { server.shutdown() }
        var results: [JSONValue] = []
        for (path, label) in [("/healthz", "no database"), ("/readyz", "one query through the pool")] {
            let (rps, p99) = try runWrk(url: "http://127.0.0.1:\(server.port)\(path)", connections: connections, seconds: seconds)
            print("GET \(path) (\(label)): \(format(rps)) requests/s, p99 \(format(p99, 2)) ms (wrk -t2 -c\(connections), \(configuration.threads) server threads)")
            results.append(["route": .string(path), "requests_per_s": .double(round2(rps)), "p99_ms": .double(round2(p99))])
        }
        print("reference (shared/notes, same machine kind): static JSON 74k-110k requests/s; JSON + SELECT 1 through a libpq pool 21k-24k requests/s")
        print(JSONValue.object([("connections", .int(Int64(connections))), ("results", .array(results))]).jsonString)
    }

    static func runWrk(url: String, connections: Int, seconds: Int, headers: [String] = []) throws -> (Double, Double) {
        let outcome = try ChildProcess.run("wrk", ["-t2", "-c\(connections)", "-d\(seconds)s", "--latency"]
                                               + headers.flatMap { ["-H", $0] } + [url])
        let text = outcome.output
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        guard outcome.status == 0,
              let rpsLine = lines.first(where: { $0.hasPrefix("Requests/sec:") }),
              let rps = Double(rpsLine.dropFirst("Requests/sec:".count).trimmingCharacters(in: .whitespaces)) else {
            throw UsageError(message: "wrk failed (install the 'wrk' package):\n\(text)")
        }
        let p99 = lines.first { $0.hasPrefix("99%") }.flatMap { parseWrkDuration(String($0.dropFirst(3)).trimmingCharacters(in: .whitespaces)) } ?? .nan
        return (rps, p99)
    }

    /// wrk prints durations as `812.00us`, `3.21ms` or `1.02s`; returns milliseconds.
    static func parseWrkDuration(_ text: String) -> Double? {
        for (suffix, scale) in [("us", 0.001), ("ms", 1.0), ("s", 1000.0)] where text.hasSuffix(suffix) {
            return Double(text.dropLast(suffix.count)).map { $0 * scale }
        }
        return nil
    }

    // MARK: figures

    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.down)))]
    }

    static func round2(_ value: Double) -> Double { (value * 100).rounded() / 100 }

    static func format(_ value: Double, _ decimals: Int = 0) -> String { String(format: "%.\(decimals)f", value) }
}
