import Foundation
import LedgerDomain
import LedgerEngine
import LedgerStorage

/// `ledger bench rescore`: a dry run over N orders against the raw read of the same order documents, in the
/// same run and on the same database.
enum RescoreBenchmark {
    /// Orders made through the command path; the rest are copies of them in the read models, which is all a dry
    /// run of the current state reads.
    static let templates = 1_000
    static let rules: JSONValue = [
        "band": ["if": [[">=": [["var": "metadata.risk"], 7]], "high", [">=": [["var": "metadata.risk"], 4]], "medium", "low"]],
        "risk_score": ["+": [["*": [["var": "metadata.risk"], 10]], ["if": [["==": [["var": "alert"], "ALERTS_FOUND"]], 25, 0]]]],
        "declined": ["some": [["var": "checks"], ["==": [["var": "status"], "declined"]]]],
    ]

    static func run(orders: Int, settings: Settings) throws {
        let database = try Database(settings: settings)
        defer { database.close() }
        try database.migrate()
        let pool = database.makePool(size: 3, applicationName: "ledger-bench-rescore")
        defer { pool.close() }
        // As serve keeps them: every order document's personal data sealed under its entity's key.
        let vault = try PersonalDataSetup.vault(settings, embedded: database.embedded != nil)
        let owner = try PostgresConnection(conninfo: database.conninfo)
        try owner.execute("SET search_path = ledger, public; SET TimeZone = 'UTC'; SET DateStyle = 'ISO'")
        let organization = try AccessStore.createOrganization(owner, name: "bench rescore \(orders)").id
        try seed(pool: pool, vault: vault, owner: owner, organization: organization, orders: orders)
        // Statistics as a database in service has them. Without, the planner takes the copies' creation times for
        // past the end of the templates' histogram, and until autovacuum analyzes them (on its own schedule, in
        // whichever phase that falls) each batch reads every order after the cursor, not the next batch's worth.
        try owner.execute("ANALYZE ledger.orders, ledger.verifications, ledger.data_keys")
        let scope = DatabaseScope.tenant(organizationID: organization, livemode: false)
        let ruleset = try RulesetStore.make(name: "bench", description: nil, rules: rules)
        let stored = try pool.transaction(scope: scope) {
            try RulesetStore.create($0, organizationID: organization, livemode: false, ruleset, actor: "bench", now: Date()).stored
        }
        let rescoring = Rescoring(pool: pool, engine: CommandEngine(pool: pool, stateCacheSize: 0, vault: vault))

        _ = try rawRead(pool, scope, organization, batch: rescoring.batchSize) // warms the caches for both
        let rawStarted = Date()
        let rows = try rawRead(pool, scope, organization, batch: rescoring.batchSize)
        let rawSeconds = Date().timeIntervalSince(rawStarted)

        let id = "rsr_bench\(UUID().uuidString.prefix(8).lowercased())"
        _ = try pool.transaction(scope: scope) {
            try Rescoring.create($0, organizationID: organization, livemode: false, id: id,
                                 RescoringRequest(ruleset: stored, filter: OrderFilter(), asOf: nil, dryRun: true), actor: "bench", now: Date())
        }
        let started = Date()
        try rescoring.drain(only: id)
        let seconds = Date().timeIntervalSince(started)
        let evaluated = try owner.query("SELECT orders_evaluated, status, errors, orders_changed FROM ledger.rescoring_runs WHERE id = $1", [id])
        guard evaluated.int(0, 0) == orders, evaluated.string(0, 1) == "completed", evaluated.int(0, 2) == 0, evaluated.int(0, 3) == orders else {
            throw UsageError(message: "the dry run evaluated \(evaluated.int(0, 0) ?? 0) of \(orders) orders (\(evaluated.string(0, 1) ?? "?"), "
                                 + "\(evaluated.int(0, 2) ?? 0) errors, \(evaluated.int(0, 3) ?? 0) changed)")
        }
        let reportStarted = Date()
        _ = try pool.withConnection(scope: scope) { try RescoringReport.diff($0, organizationID: organization, livemode: false, runID: id) }
        let reportSeconds = Date().timeIntervalSince(reportStarted)
        let ordersPerSecond = Double(orders) / seconds, rawPerSecond = Double(rows) / rawSeconds
        let peak = LifecycleBenchmark.peakResidentMegabytes(pid: getpid())
        print("dry run:   \(BenchCommand.format(ordersPerSecond)) orders/s  (\(orders) orders, \(BenchCommand.format(seconds, 2)) s, 3 rules, batches of \(rescoring.batchSize))")
        print("phases:    " + rescoring.phases.named.map { "\($0.0) \(BenchCommand.format($0.1, 2)) s" }.joined(separator: ", ")
              + "  (of \(BenchCommand.format(seconds, 2)) s; then the diff with its webhook preview, read once: "
              + "\(BenchCommand.format(reportSeconds * 1000, 1)) ms)")
        print("raw read:  \(BenchCommand.format(rawPerSecond)) rows/s  (the same documents by the same keyset query, unparsed; "
              + (vault == nil ? "not sealed: encryption is off)" : "sealed; the rules read no personal member, so the dry run opens none)"))
        print("ratio:     \(BenchCommand.format(ordersPerSecond / rawPerSecond, 3))  (target >= 0.3)   peak RSS \(BenchCommand.format(peak, 1)) MB")
        print(JSONValue.object([
            ("orders", .int(Int64(orders))), ("orders_per_s", .double(BenchCommand.round2(ordersPerSecond))),
            ("raw_read_rows_per_s", .double(BenchCommand.round2(rawPerSecond))),
            ("ratio", .double((ordersPerSecond / rawPerSecond * 1000).rounded() / 1000)), ("peak_rss_mb", .double(BenchCommand.round2(peak))),
        ]).jsonString)
    }

    /// The reference: every order document the dry run reads, by the query it reads them with, fetched as text and
    /// not parsed.
    static func rawRead(_ pool: ConnectionPool, _ scope: DatabaseScope, _ organization: UUID, batch: Int) throws -> Int {
        try pool.withConnection(scope: scope) { connection in
            var cursor: (Date, String)?
            var rows = 0
            while true {
                let page = try Rescoring.orderBatch(connection, organizationID: organization, livemode: false, filter: OrderFilter(),
                                                    after: cursor, limit: batch)
                guard page.count > 0, let last = page.date(page.count - 1, 1), let id = page.string(page.count - 1, 0) else { return rows }
                for row in 0..<page.count { _ = page.string(row, 3) }
                rows += page.count
                cursor = (last, id)
            }
        }
    }

    /// `templates` orders through the command path (risk 0–9 in their metadata, some declined), then copies of
    /// them up to `orders` in the verification and order read models. Each has an applicant, so its documents are
    /// sealed; a copy's sealed part stays bound to its template's id and would not open (the rules read none of it).
    static func seed(pool: ConnectionPool, vault: PersonalDataVault?, owner: PostgresConnection, organization: UUID, orders: Int) throws {
        let engine = CommandEngine(pool: pool, stateCacheSize: 0, vault: vault)
        let now = Date()
        for index in 0..<min(orders, templates) {
            let attempt = "att_\(index)"
            let invitation = Invitation(entityID: "cus_\(index)", checks: [.identityVerification],
                                        applicant: Applicant(firstName: "Ada", lastName: "Bench \(index)", email: "ada\(index)@example.com"),
                                        metadata: ["risk": String(index % 10)],
                                        expiresAt: now.addingTimeInterval(86_400))
            try engine.execute(CommandRequest(organizationID: organization, livemode: false, streamID: "ver_t\(String(format: "%023d", index))", commands: [
                .invite(invitation), .startAttempt(attemptID: attempt, url: "https://capture.example/\(index)", expiresAt: now.addingTimeInterval(900)),
                .recordProgress(attemptID: attempt, status: .captureInProgress), .recordProgress(attemptID: attempt, status: .completed),
                .recordResult(CheckResult(check: .identityVerification, status: index % 7 == 0 ? .declined : .approved)),
            ], actor: EventMetadata(actorID: "bench", actorType: .system), now: now))
        }
        guard orders > templates else { return }
        for table in ["verifications", "orders"] {
            _ = try owner.query("""
                INSERT INTO ledger.\(table)
                SELECT (jsonb_populate_record(NULL::ledger.\(table), to_jsonb(t) || jsonb_build_object(
                    'id', 'ver_c' || lpad(g::text, 23, '0'), 'created_at', t.created_at + g * interval '1 microsecond'))).*
                FROM generate_series(1, $2) AS g
                JOIN (SELECT x.*, row_number() OVER (ORDER BY x.id) - 1 AS k FROM ledger.\(table) x WHERE x.organization_id = $1) t
                  ON t.k = g % $3
                """, [organization, orders - templates, templates])
        }
    }
}
