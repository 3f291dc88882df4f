import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import LedgerDomain
import LedgerLog
import LedgerStorage
import Synchronization

/// `ledger bench lifecycle`: the full verification lifecycle over HTTP against a server in its own process,
/// next to pgbench running the modeled SQL transaction on the same database.
enum LifecycleBenchmark {
    struct Target {
        var baseURL: String
        var key: String
    }

    /// One way of serving the same load, measured in the same run as the others.
    struct Phase {
        let target: Target
        let server: ChildProcess.Running?
        /// Whether the tables' row-level security is on while this phase's load runs.
        let rowLevelSecurity: Bool
    }

    static func run(clients: Int, seconds: Int, url: String?, key: String?, settings: Settings) throws {
        let database = try Database(settings: settings)
        defer { database.close() }
        try database.migrate()
        var phases: [Phase] = []
        defer { for case let server? in phases.map(\.server) { stop(server) } }
        func serverPhase(_ environment: [String: String], rowLevelSecurity: Bool) throws -> Phase {
            let (server, target) = try startServer(database: database, environment: environment, portOffset: phases.count)
            return Phase(target: target, server: server, rowLevelSecurity: rowLevelSecurity)
        }
        // Beside the measured phase, when this run owns its server and tables: the same load with row-level security
        // switched off on this database's tables (the service still opens each transaction with its scope), to measure
        // what it costs (LEDGER_BENCH_RLS_REFERENCE=0 leaves it out), and with personal-data encryption off.
        var withoutRLS: Int?, withoutEncryption: Int?
        if url == nil {
            if ProcessInfo.processInfo.environment["LEDGER_BENCH_RLS_REFERENCE"] != "0" {
                withoutRLS = phases.count
                phases.append(try serverPhase(try PersonalDataSetup.benchmarkEnvironment(settings), rowLevelSecurity: false))
            }
            withoutEncryption = phases.count
            phases.append(try serverPhase(["LEDGER_PERSONAL_DATA_ENCRYPTION": "0"], rowLevelSecurity: true))
        }
        let measured = phases.count
        if let url, let key {
            phases.append(Phase(target: Target(baseURL: url, key: key), server: nil, rowLevelSecurity: true))
        } else {
            phases.append(try serverPhase(try PersonalDataSetup.benchmarkEnvironment(settings), rowLevelSecurity: true))
        }
        defer { if phases.contains(where: { !$0.rowLevelSecurity }) { try? setRowLevelSecurity(database, enabled: true) } }
        let loads = try interleaved(phases, database: database, clients: clients, seconds: seconds)
        let load = loads[measured]
        let server = phases[measured].server
        // pgbench below runs beside the measured server alone, as before the phases were interleaved.
        for (index, phase) in phases.enumerated() where index != measured { if let other = phase.server { stop(other) } }
        let withoutRLSLoad = withoutRLS.map { loads[$0] }, withoutEncryptionLoad = withoutEncryption.map { loads[$0] }
        let peakRSS = server.map { peakResidentMegabytes(pid: $0.pid) } ?? .nan
        let commandsPerSecond = Double(load.commands) / load.seconds
        let pgbenchTPS = try runModeledPgbench(database: database, clients: clients, seconds: seconds)
        let p50 = load.p50, p99 = load.p99
        print("lifecycle over HTTP: \(BenchCommand.format(commandsPerSecond)) commands/s  p50 \(BenchCommand.format(p50, 2)) ms  p99 \(BenchCommand.format(p99, 2)) ms  (wrk, \(clients) connections, \(seconds) s: \(load.lifecycles) lifecycles, \(load.reads) order reads, \(load.failures) failed responses, \(load.socketErrors) socket errors)")
        if phases.count > 1 {
            print("phases: \(phases.count) in turns (each warmed up \(warmUpSeconds) s, then \(min(interleavingRounds, seconds)) slices of about \(BenchCommand.format(Double(seconds) / Double(min(interleavingRounds, seconds)), 1)) s, each round starting one phase later)")
        }
        print("pgbench (modeled): \(BenchCommand.format(pgbenchTPS)) tps  (-M prepared, \(clients) clients: event insert + version bump + projection upsert + outbox insert)")
        let withoutRLSPerSecond = withoutRLSLoad.map { Double($0.commands) / $0.seconds }
        if let withoutRLS = withoutRLSLoad, let withoutRLSPerSecond {
            print("row-level security: with \(BenchCommand.format(commandsPerSecond)) commands/s (p99 \(BenchCommand.format(p99, 2)) ms), "
                  + "without \(BenchCommand.format(withoutRLSPerSecond)) commands/s (p99 \(BenchCommand.format(withoutRLS.p99, 2)) ms), "
                  + "with/without \(BenchCommand.format(commandsPerSecond / withoutRLSPerSecond, 3))")
        }
        if let withoutEncryption = withoutEncryptionLoad {
            let reference = Double(withoutEncryption.commands) / withoutEncryption.seconds
            print("personal-data encryption: on \(BenchCommand.format(commandsPerSecond)) commands/s (p99 \(BenchCommand.format(p99, 2)) ms), "
                  + "off \(BenchCommand.format(reference)) commands/s (p99 \(BenchCommand.format(withoutEncryption.p99, 2)) ms), "
                  + "on/off \(BenchCommand.format(commandsPerSecond / reference, 3)) (target >= 0.90)")
        }
        let withoutRLSRatio = withoutRLSPerSecond.map { "  without row-level security: \(BenchCommand.format($0 / pgbenchTPS, 3))" } ?? ""
        print("ratio: \(BenchCommand.format(commandsPerSecond / pgbenchTPS, 3)) (target >= 0.50)\(withoutRLSRatio)  server peak RSS: \(BenchCommand.format(peakRSS, 1)) MB (target < 150)  load generator (wrk): \(BenchCommand.format(load.cores, 2)) of \(ProcessInfo.processInfo.activeProcessorCount) cores")
        let reference: [(String, JSONValue)] = (withoutRLSPerSecond.map {
            [("commands_per_s_without_rls", .double(BenchCommand.round2($0))),
             ("ratio_without_rls", .double(($0 / pgbenchTPS * 1000).rounded() / 1000))]
        } ?? []) + (withoutEncryptionLoad.map {
            [("commands_per_s_without_encryption", .double(BenchCommand.round2(Double($0.commands) / $0.seconds)))]
        } ?? [])
        print(JSONValue.object(reference + [
            ("clients", .int(Int64(clients))), ("commands_per_s", .double(BenchCommand.round2(commandsPerSecond))),
            ("p50_ms", .double(BenchCommand.round2(p50))), ("p99_ms", .double(BenchCommand.round2(p99))),
            ("pgbench_tps", .double(BenchCommand.round2(pgbenchTPS))),
            ("ratio", .double((commandsPerSecond / pgbenchTPS * 1000).rounded() / 1000)),
            ("server_peak_rss_mb", .double(BenchCommand.round2(peakRSS))),
        ]).jsonString)
    }

    /// Switches row-level security off or on for every table of the ledger schema that has a policy.
    static func setRowLevelSecurity(_ database: Database, enabled: Bool) throws {
        let connection = try PostgresConnection(conninfo: database.conninfo)
        try connection.execute("""
            DO $$
            DECLARE t record;
            BEGIN
                FOR t IN SELECT DISTINCT c.relname FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
                         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'ledger' LOOP
                    EXECUTE format('ALTER TABLE ledger.%I \(enabled ? "ENABLE" : "DISABLE") ROW LEVEL SECURITY', t.relname);
                END LOOP;
            END $$;
            """)
    }

    static func stop(_ server: ChildProcess.Running) {
        if server.poll() == nil { server.signal(SIGTERM) }
        _ = server.wait()
    }

    /// The phases' loads, measured in turns so that they meet the same machine and the same database: each is warmed
    /// up first (a short load that is not counted: a fresh server's first requests plan its statements and fill its
    /// caches), then gets `seconds` in all, in rounds of one slice per phase, each round starting one phase later, so
    /// that no phase is always the one that runs on the largest tables or after the same other one. One phase alone
    /// runs its `seconds` at once.
    static func interleaved(_ phases: [Phase], database: Database, clients: Int, seconds: Int) throws -> [Load] {
        var rowLevelSecurity = true
        func prepare(_ phase: Phase) throws {
            guard phase.rowLevelSecurity != rowLevelSecurity else { return }
            try setRowLevelSecurity(database, enabled: phase.rowLevelSecurity)
            rowLevelSecurity = phase.rowLevelSecurity
        }
        guard phases.count > 1 else {
            return try phases.map { phase in try prepare(phase); return try driveLifecycles(phase.target, clients: clients, seconds: seconds) }
        }
        for phase in phases {
            try prepare(phase)
            _ = try driveLifecycles(phase.target, clients: clients, seconds: warmUpSeconds)
        }
        let rounds = min(interleavingRounds, seconds)
        var slices = Array(repeating: [Load](), count: phases.count)
        for round in 0..<rounds {
            let sliceSeconds = seconds / rounds + (round < seconds % rounds ? 1 : 0)
            for turn in 0..<phases.count {
                let index = (round + turn) % phases.count
                try prepare(phases[index])
                slices[index].append(try driveLifecycles(phases[index].target, clients: clients, seconds: sliceSeconds))
            }
        }
        return slices.map(Load.init(slices:))
    }

    static let warmUpSeconds = 2
    static let interleavingRounds = 3

    struct Load {
        var seconds: Double
        var commands: Int
        var reads: Int
        var lifecycles: Int
        var failures: Int
        var socketErrors: Int
        /// Every command's latency in ms, ascending.
        var latencies: [Double]
        /// CPU time of the load generator over the run, in cores.
        var cores: Double

        var p50: Double { percentile(0.50) }
        var p99: Double { percentile(0.99) }

        /// As the load script computes them: the latency at rank ⌊n·p⌋ + 1.
        func percentile(_ p: Double) -> Double {
            guard !latencies.isEmpty else { return .nan }
            return latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))]
        }
    }

    /// wrk with `LifecycleLoadScript`: one connection per client, each with one request in flight.
    static func driveLifecycles(_ target: Target, clients: Int, seconds: Int) throws -> Load {
        let temporary = FileManager.default.temporaryDirectory
        let script = temporary.appendingPathComponent("ledger-lifecycle-\(getpid()).lua")
        let latenciesFile = temporary.appendingPathComponent("ledger-lifecycle-\(getpid()).latencies")
        try Data(("local latencies_path = \"\(latenciesFile.path)\"\n" + LifecycleLoadScript.lua).utf8).write(to: script)
        defer {
            try? FileManager.default.removeItem(at: script)
            try? FileManager.default.removeItem(at: latenciesFile)
        }
        let before = childrenCPUSeconds()
        let outcome = try ChildProcess.run("wrk", ["-t\(min(clients, 2))", "-c\(clients)", "-d\(seconds)s", "--timeout", "10s",
                                                   "-s", script.path, target.baseURL, "--", target.key])
        let cpu = childrenCPUSeconds() - before
        guard outcome.status == 0,
              let line = outcome.output.split(separator: "\n").last(where: { $0.hasPrefix("{\"seconds\"") }),
              let figures = try? JSONValue.parse(Array(line.utf8)),
              let elapsed = figures["seconds"]?.doubleValue, elapsed > 0 else {
            throw UsageError(message: "wrk failed (install the 'wrk' package):\n\(outcome.output)")
        }
        func count(_ name: String) -> Int { Int(figures[name]?.doubleValue ?? 0) }
        let latencies = ((try? String(contentsOf: latenciesFile, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { Double($0) }
        return Load(seconds: elapsed, commands: count("commands"), reads: count("reads"), lifecycles: count("lifecycles"),
                    failures: count("failures"), socketErrors: count("socket_errors"), latencies: latencies, cores: cpu / elapsed)
    }

    static func request(_ session: URLSession, _ target: Target, _ method: String, _ path: String,
                        _ body: JSONValue?) throws -> (Int, JSONValue) {
        guard let url = URL(string: target.baseURL + path) else { throw UsageError(message: "bad URL \(target.baseURL)") }
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.setValue("Bearer \(target.key)", forHTTPHeaderField: "Authorization")
        if let body {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(body.encoded())
        }
        let done = DispatchSemaphore(value: 0)
        let outcome = Mutex<(Int, JSONValue)?>(nil)
        session.dataTask(with: request) { data, response, _ in
            let status = (response as? HTTPURLResponse)?.statusCode ?? 0
            let json = data.flatMap { try? JSONValue.parse(Array($0), maxDepth: 512) } ?? .null
            outcome.withLock { $0 = (status, json) }
            done.signal()
        }.resume()
        done.wait()
        guard let result = outcome.withLock({ $0 }) else { throw UsageError(message: "no answer from \(url)") }
        return result
    }

    /// `ledger serve` as a child process on a free port, with a fresh organization and key.
    static func startServer(database: Database, environment extra: [String: String], portOffset: Int = 0) throws -> (ChildProcess.Running, Target) {
        let connection = try PostgresConnection(conninfo: database.conninfo)
        try connection.execute("SET search_path = ledger, public")
        let organization = try AccessStore.createOrganization(connection, name: "bench")
        let key = try AccessStore.createKey(connection, organizationID: organization.id, livemode: false,
                                            scopes: [.read, .write, .admin], description: "bench").secret
        let port = 18_000 + Int(getpid() % 1000) * 4 + portOffset
        var environment = ProcessInfo.processInfo.environment
        environment["DATABASE_URL"] = database.conninfo
        environment["LEDGER_LISTEN"] = "127.0.0.1:\(port)"
        environment["LEDGER_RATE_LIMIT"] = "0"
        for (name, value) in extra { environment[name] = value }
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path
        let server = try ChildProcess.Running(executable, ["serve"], environment: environment)
        let target = Target(baseURL: "http://127.0.0.1:\(port)", key: key)
        let session = URLSession(configuration: .ephemeral)
        let ready = Date().addingTimeInterval(30)
        while Date() < ready {
            if server.poll() != nil { throw UsageError(message: "the server exited:\n\(server.outputSoFar)") }
            if (try? request(session, target, "GET", "/readyz", nil))?.0 == 200 { return (server, target) }
            Thread.sleep(forTimeInterval: 0.1) // polling a child process for readiness; it signals nothing
        }
        server.signal(SIGTERM)
        throw UsageError(message: "the server did not become ready:\n\(server.outputSoFar)")
    }

    /// CPU time of the children waited for so far.
    static func childrenCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_CHILDREN.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    }

    static func peakResidentMegabytes(pid: pid_t) -> Double {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "") else { return .nan }
        return kilobytes / 1024
    }

    /// pgbench on bare tables of the same shapes and storage settings: the transaction one command amounts
    /// to in SQL. The projection document is the one the service last wrote (a stub when it wrote none here).
    static func runModeledPgbench(database: Database, clients: Int, seconds: Int) throws -> Double {
        let organization = UUID().postgresText
        let streams = 20_000
        let connection = try PostgresConnection(conninfo: database.conninfo)
        // jsonb's rendering puts a blank after every colon: pgbench would take `:name` in the literal for a variable.
        let written = try connection.query("SELECT document::jsonb::text FROM ledger.verifications ORDER BY updated_at DESC LIMIT 1").string(0, 0)
        let document = (written ?? #"{"id": "ver_bench", "object": "verification", "status": "checks_in_progress", "checks": [{"type": "identity_verification", "status": "checks_in_progress", "response_codes": []}], "metadata": {"source": "bench"}}"#)
            .replacingOccurrences(of: "'", with: "''")
        return try BenchCommand.pgbench(database: database, clients: clients, seconds: seconds, setup: """
            CREATE TABLE ledger_bench.streams (LIKE ledger.streams INCLUDING ALL);
            CREATE TABLE ledger_bench.events (LIKE ledger.events INCLUDING ALL);
            CREATE TABLE ledger_bench.verifications (LIKE ledger.verifications INCLUDING ALL);
            DO $$
            DECLARE t record;
            BEGIN
                FOR t IN SELECT c.relname, c.reloptions FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                         WHERE n.nspname = 'ledger' AND c.relname IN ('streams', 'events', 'verifications') AND c.reloptions IS NOT NULL LOOP
                    EXECUTE format('ALTER TABLE ledger_bench.%I SET (%s)', t.relname, array_to_string(t.reloptions, ', '));
                END LOOP;
            END $$;
            CREATE TABLE ledger_bench.outbox (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, organization_id uuid NOT NULL, stream_id text NOT NULL,
                event_type text NOT NULL, payload jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
            INSERT INTO ledger_bench.streams (organization_id, stream_id, version, head_hash) SELECT '\(organization)', g::text, 1, '\\x00' FROM generate_series(1, \(streams)) g;
            ANALYZE ledger_bench.streams;
            """, script: """
            \\set s random(1, \(streams))
            BEGIN;
            UPDATE ledger_bench.streams SET version = version + 1, head_hash = '\\x00', updated_at = now() WHERE organization_id = '\(organization)' AND stream_id = :s::text RETURNING version AS v \\gset
            INSERT INTO ledger_bench.events (event_id, organization_id, stream_id, version, type, schema_version, data, metadata, occurred_at, previous_hash, hash) VALUES (gen_random_uuid(), '\(organization)', :s::text, :v, 'AttemptStatusChanged', 1, '{"attempt_id": "att_bench", "from": "capture_in_progress", "to": "completed"}', '{"actor_id": "key_bench", "actor_type": "api_key"}', now(), '\\x00', '\\x00');
            INSERT INTO ledger_bench.verifications (organization_id, id, livemode, version, status, entity_id, created_at, updated_at, document) VALUES ('\(organization)', :s::text, false, :v, 'checks_in_progress', 'bench', now(), now(), '\(document)') ON CONFLICT (organization_id, id) DO UPDATE SET version = excluded.version, status = excluded.status, updated_at = excluded.updated_at, document = excluded.document;
            INSERT INTO ledger_bench.outbox (organization_id, stream_id, event_type, payload) VALUES ('\(organization)', :s::text, 'VERIFICATION_STATUS_CHANGE', '\(document)');
            END;

            """)
    }
}

// In an extension, so that `Load` keeps its memberwise initializer.
extension LifecycleBenchmark.Load {
    /// One load of the slices of one phase.
    init(slices: [LifecycleBenchmark.Load]) {
        seconds = slices.reduce(0) { $0 + $1.seconds }
        commands = slices.reduce(0) { $0 + $1.commands }
        reads = slices.reduce(0) { $0 + $1.reads }
        lifecycles = slices.reduce(0) { $0 + $1.lifecycles }
        failures = slices.reduce(0) { $0 + $1.failures }
        socketErrors = slices.reduce(0) { $0 + $1.socketErrors }
        latencies = slices.flatMap(\.latencies).sorted()
        cores = seconds > 0 ? slices.reduce(0) { $0 + $1.cores * $1.seconds } / seconds : 0
    }
}
