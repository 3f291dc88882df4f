import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import LedgerAPI
import LedgerCrypto
import LedgerDomain
import LedgerEngine
import LedgerHTTP
import LedgerStorage
import Synchronization

/// `ledger bench audit --events N`: history queries, proofs and the entity export on a log of 10,000 events
/// (the reference) and then on the same log grown to N, in one run, so each figure at N stands next to its own
/// at 10,000.
enum AuditBenchmark {
    static let referenceEvents = 10_000
    static let eventsPerStream = 10
    /// Timed requests of each kind, the same at both sizes: a p99 of 1,000 is the tenth slowest, not the second.
    static let requestsPerKind = 1_000
    /// Untimed requests of each kind first, so that every pooled connection has prepared each statement and run
    /// it past PostgreSQL's five custom plans: the timed ones run the generic plan the service runs for good.
    static let warmUpPerKind = 60

    struct Figures {
        var latencies: [(String, p50: Double, p99: Double)] = []
        var exportEventsPerSecond = 0.0
        var rawEventsPerSecond = 0.0
        var exportedEvents = 0
        var rssBeforeExportMB = 0.0
        var rssAfterExportMB = 0.0
    }

    static func run(events: Int, settings: Settings) throws {
        let database = try Database(settings: settings)
        defer { database.close() }
        try database.migrate()
        let owner = try PostgresConnection(conninfo: database.conninfo)
        try owner.execute("SET search_path = ledger, public; SET TimeZone = 'UTC'")
        let organization = try AccessStore.createOrganization(owner, name: "audit bench")
        let key = try AccessStore.createKey(owner, organizationID: organization.id, livemode: false, scopes: [.read]).secret
        guard let seed = Ed25519.generateSeed() else { throw UsageError(message: "libcrypto's random generator is not seeded") }
        let signer = CheckpointSigner(key: try NoteSignerKey(name: "bench.localhost/log", seed: seed, crypto: LibcryptoAudit()))
        let pool = database.makePool(size: 8)
        var api = settings.api
        api.logRequests = false
        api.rateLimitPerSecond = 0
        api.checkpointSigner = signer
        let application = LedgerApplication(pool: pool, schemaVersion: 0, configuration: api)
        var http = settings.httpConfiguration
        http.host = "127.0.0.1"
        http.port = 0
        let server = HTTPServer(configuration: http, handler: application.handle)
        try server.start()
        defer { server.shutdown(gracePeriod: 1) }
        let keeper = AuditLogKeeper(pool: database.makePool(size: 1), signer: signer)
        let base = "http://127.0.0.1:\(server.port)"

        var results: [(Int, Figures)] = []
        var made = 0
        for size in [referenceEvents, max(referenceEvents, events)] where size > made || results.isEmpty {
            let started = Date()
            try generate(owner, organizationID: organization.id, from: made / eventsPerStream, to: size / eventsPerStream)
            made = size
            try keeper.appendOnce()
            try keeper.checkpointIfGrown()
            try owner.execute("ANALYZE ledger.events; ANALYZE ledger.verifications; ANALYZE ledger.merkle_subtrees; ANALYZE ledger.merkle_leaves")
            print("log of \(size) events ready in \(BenchCommand.format(Date().timeIntervalSince(started), 1)) s (generated, appended to the tree, signed)")
            let figures = try measure(base: base, key: key, owner: owner, organizationID: organization.id, size: size)
            for (name, p50, p99) in figures.latencies {
                print("  \(name): p50 \(BenchCommand.format(p50, 2)) ms, p99 \(BenchCommand.format(p99, 2)) ms")
            }
            print("  export: \(figures.exportedEvents) events at \(BenchCommand.format(figures.exportEventsPerSecond)) events/s; raw ordered read "
                  + "\(BenchCommand.format(figures.rawEventsPerSecond)) events/s; RSS \(BenchCommand.format(figures.rssBeforeExportMB)) → "
                  + "\(BenchCommand.format(figures.rssAfterExportMB)) MB")
            results.append((size, figures))
        }

        guard let reference = results.first, let target = results.last else { return }
        var summary: [(String, JSONValue)] = [("events", .int(Int64(target.0))), ("reference_events", .int(Int64(reference.0)))]
        var growth: [(String, JSONValue)] = []
        print("p99 at \(reference.0) → \(target.0) events (growth; target ≤ 2, and < 50 ms for a query, < 10 ms for a proof):")
        for (index, figure) in target.1.latencies.enumerated() where index < reference.1.latencies.count {
            let before = reference.1.latencies[index]
            print("  \(figure.0): \(BenchCommand.format(before.p99, 2)) → \(BenchCommand.format(figure.p99, 2)) ms "
                  + "(\(BenchCommand.format(figure.p99 / max(0.001, before.p99), 2))×; p50 \(BenchCommand.format(before.p50, 2)) → "
                  + "\(BenchCommand.format(figure.p50, 2)) ms)")
            summary.append((figure.0 + "_p50_ms", .double(BenchCommand.round2(figure.p50))))
            summary.append((figure.0 + "_p99_ms", .double(BenchCommand.round2(figure.p99))))
            summary.append((figure.0 + "_p99_ms_at_reference", .double(BenchCommand.round2(reference.1.latencies[index].p99))))
            growth.append((figure.0, .double(BenchCommand.round2(figure.p99 / max(0.001, reference.1.latencies[index].p99)))))
        }
        summary.append(("p99_growth", .object(growth)))
        summary.append(("p99_growth_target", .double(2)))
        summary.append(("requests_per_kind", .int(Int64(requestsPerKind))))
        summary.append(("query_p99_target_ms", .double(50)))
        summary.append(("proof_p99_target_ms", .double(10)))
        summary.append(("export_events_per_s", .double(BenchCommand.round2(target.1.exportEventsPerSecond))))
        summary.append(("raw_read_events_per_s", .double(BenchCommand.round2(target.1.rawEventsPerSecond))))
        summary.append(("export_ratio", .double(BenchCommand.round2(target.1.exportEventsPerSecond / max(1, target.1.rawEventsPerSecond)))))
        summary.append(("export_ratio_target", .double(0.5)))
        summary.append(("exported_events", .int(Int64(target.1.exportedEvents))))
        summary.append(("rss_before_export_mb", .double(BenchCommand.round2(target.1.rssBeforeExportMB))))
        summary.append(("rss_after_export_mb", .double(BenchCommand.round2(target.1.rssAfterExportMB))))
        summary.append(("rss_after_export_mb_at_reference", .double(BenchCommand.round2(reference.1.rssAfterExportMB))))
        print(JSONValue.object(summary).jsonString)
    }

    /// Streams `from..<to` of 10 events each, through `append_events` (chained hashes), with their read rows;
    /// every tenth stream belongs to the one large entity the export reads, the others nine by nine to entities of
    /// 90 events, whatever N.
    static func generate(_ owner: PostgresConnection, organizationID: UUID, from: Int, to: Int) throws {
        var first = from
        while first < to {
            let last = min(to, first + 1_000)
            try owner.query("""
                INSERT INTO ledger.verifications (organization_id, id, livemode, version, status, entity_id, created_at, updated_at, document)
                SELECT $1, 'ver_b' || s, false, 10, 'created', CASE WHEN s % 10 = 0 THEN 'cus_big' ELSE 'cus_' || (s / 10) END,
                       now(), now(), '{}'
                FROM generate_series($2::int, $3::int - 1) s
                """, [organizationID, first, last])
            try owner.query("""
                SELECT count(*) FROM (
                    SELECT ledger.append_events($1, 'ver_b' || s, 0,
                        ARRAY(SELECT md5($1::uuid::text || '/' || s || '/' || i)::uuid FROM generate_series(1, 10) i),
                        ARRAY(SELECT (ARRAY['VerificationInvited', 'MetadataUpdated', 'CheckResultRecorded'])[1 + i % 3] FROM generate_series(1, 10) i),
                        array_fill(1, ARRAY[10]),
                        ARRAY(SELECT jsonb_build_object('n', i, 'note', 'benchmark event') FROM generate_series(1, 10) i),
                        ARRAY(SELECT timestamptz '2026-01-01' + (s * 10 + i) * interval '1 second' FROM generate_series(1, 10) i),
                        jsonb_build_object('actor_type', CASE WHEN s % 2 = 0 THEN 'api_key' ELSE 'system' END, 'actor_id', 'key_' || (s % 50)))
                    FROM generate_series($2::int, $3::int - 1) s) appended
                """, [organizationID, first, last])
            first = last
        }
    }

    static func measure(base: String, key: String, owner: PostgresConnection, organizationID: UUID, size: Int) throws -> Figures {
        let session = URLSession(configuration: .ephemeral)
        let streams = size / eventsPerStream
        var random = SystemRandomNumberGenerator()
        func stream() -> Int { Int.random(in: 0..<streams, using: &random) }
        let middle = Date(timeIntervalSince1970: 1_767_225_600 + Double(size / 2))
        let sample = try owner.query("SELECT event_id FROM ledger.events TABLESAMPLE SYSTEM (5) LIMIT $1", [requestsPerKind])
        let eventIDs = (0..<sample.count).compactMap { sample.string($0, 0) }
        let middleCursor = try owner.query("""
            SELECT transaction_id::text || '-' || position FROM ledger.events ORDER BY transaction_id, position OFFSET $1 LIMIT 1
            """, [size / 2]).string(0, 0) ?? ""
        let kinds: [(String, () -> String)] = [
            ("events_type", { "/v1/events?type=MetadataUpdated&limit=100" }),
            ("events_verification_id", { "/v1/events?verification_id=ver_b\(stream())" }),
            ("events_entity_id", { "/v1/events?entity_id=cus_\(Int.random(in: 0..<max(1, streams / 10), using: &random))" }),
            ("events_actor_type", { "/v1/events?actor_type=system&limit=100" }),
            ("events_actor_id", { "/v1/events?actor_id=key_\(Int.random(in: 0..<50, using: &random))&limit=100" }),
            ("events_occurred_after", { "/v1/events?occurred_after=\(Timestamp.rfc3339(middle))&limit=100" }),
            ("events_occurred_before", { "/v1/events?occurred_before=\(Timestamp.rfc3339(middle))&limit=100" }),
            ("events_cursor_middle", { "/v1/events?cursor=\(middleCursor)&limit=100" }),
            ("inclusion_proof", { "/v1/events/\(eventIDs.randomElement(using: &random) ?? "")/proof" }),
            ("consistency_proof", { "/v1/checkpoints/consistency?from=\(Int.random(in: 1...max(1, size / 2), using: &random))&to=\(size)" }),
        ]
        var figures = Figures()
        // Round by round, one request of each kind, so that a burst of load on this shared machine falls on every
        // kind alike instead of on whichever kind was being timed.
        var milliseconds = Array(repeating: [Double](), count: kinds.count)
        for round in 0..<(warmUpPerKind + requestsPerKind) {
            for (index, (name, path)) in kinds.enumerated() {
                let started = DispatchTime.now().uptimeNanoseconds
                let (status, _) = try get(session, base + path(), key: key)
                guard status == 200 else { throw UsageError(message: "\(name) answered \(status)") }
                if round >= warmUpPerKind { milliseconds[index].append(Double(DispatchTime.now().uptimeNanoseconds - started) / 1_000_000) }
            }
        }
        for (index, (name, _)) in kinds.enumerated() {
            let sorted = milliseconds[index].sorted()
            figures.latencies.append((name, BenchCommand.percentile(sorted, 0.5), BenchCommand.percentile(sorted, 0.99)))
        }

        // The export is read by curl into /dev/null, so that this process's RSS is the server's alone.
        figures.rssBeforeExportMB = residentMegabytes()
        let exportStarted = DispatchTime.now().uptimeNanoseconds
        let curl = try ChildProcess.run("curl", ["-s", "-f", "-o", "/dev/null", "-H", "Authorization: Bearer \(key)",
                                                 base + "/v1/entities/cus_big/export"])
        guard curl.status == 0 else { throw UsageError(message: "the export failed: curl exit \(curl.status) \(curl.output)") }
        let exportSeconds = Double(DispatchTime.now().uptimeNanoseconds - exportStarted) / 1_000_000_000
        figures.rssAfterExportMB = residentMegabytes()
        figures.exportedEvents = try owner.query("""
            SELECT count(*) FROM ledger.events e JOIN ledger.verifications v ON v.organization_id = e.organization_id AND v.id = e.stream_id
            WHERE e.organization_id = $1 AND v.entity_id = 'cus_big'
            """, [organizationID]).int(0, 0) ?? 0
        figures.exportEventsPerSecond = Double(figures.exportedEvents) / max(0.000_001, exportSeconds)

        // The reference: the same events read in the same order by one query, every column as text.
        let rawStarted = DispatchTime.now().uptimeNanoseconds
        let raw = try owner.query("""
            SELECT e.* FROM ledger.events e JOIN ledger.verifications v ON v.organization_id = e.organization_id AND v.id = e.stream_id
            WHERE e.organization_id = $1 AND v.livemode = false AND v.entity_id = 'cus_big' ORDER BY e.transaction_id, e.position
            """, [organizationID])
        figures.rawEventsPerSecond = Double(raw.count) / max(0.000_001, Double(DispatchTime.now().uptimeNanoseconds - rawStarted) / 1_000_000_000)
        return figures
    }

    /// The process's resident set now (the server runs in this process; its clients are curl or small answers).
    static func residentMegabytes() -> Double {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "") else { return .nan }
        return kilobytes / 1024
    }

    static func get(_ session: URLSession, _ url: String, key: String) throws -> (Int, Data) {
        guard let address = URL(string: url) else { throw UsageError(message: "bad URL \(url)") }
        var request = URLRequest(url: address)
        request.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization")
        let done = DispatchSemaphore(value: 0)
        let outcome = Mutex<(Int, Data)?>(nil)
        session.dataTask(with: request) { data, response, _ in
            outcome.withLock { $0 = ((response as? HTTPURLResponse)?.statusCode ?? 0, data ?? Data()) }
            done.signal()
        }.resume()
        done.wait()
        guard let result = outcome.withLock({ $0 }) else { throw UsageError(message: "no answer from \(url)") }
        return result
    }
}
