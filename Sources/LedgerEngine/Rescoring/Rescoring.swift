import Foundation
import Synchronization
import LedgerCrypto
import LedgerDomain
import LedgerLog
import LedgerStorage

/// Which orders a run evaluates, and which the order list (`GET /v1/orders`) shows: that list's filters, defined
/// once for both, named as its parameters are.
public struct OrderFilter: Sendable, Equatable {
    public var packageID: String?
    public var status: String?
    public var score: String?
    public var entityID: String?
    /// `created[gte]`, `created[gt]`, …: the creation time past each bound given.
    public var created: [ListFilter.Bound: Date]

    public init(packageID: String? = nil, status: String? = nil, score: String? = nil, entityID: String? = nil,
                created: [ListFilter.Bound: Date] = [:]) {
        self.packageID = packageID
        self.status = status
        self.score = score
        self.entityID = entityID
        self.created = created
    }

    /// The filters as the lists apply them (`ListFilter.conditions`), each named by its column.
    public var listFilters: [ListFilter] {
        [.equals(column: "package_id", packageID), .equals(column: "status", status), .equals(column: "score", score),
         .equals(column: "entity_id", entityID)] + ListFilter.Bound.allCases.map { .created($0, created[$0]) }
    }

    public var json: JSONValue {
        .object(listFilters.compactMap { filter in
            switch filter {
            case let .equals(column, value): return value.map { (column, .string($0)) }
            case let .created(bound, time): return time.map { (bound.parameterName, .string(Timestamp.rfc3339($0))) }
            }
        })
    }

    public init(json: JSONValue) {
        self.init(packageID: json["package_id"]?.stringValue, status: json["status"]?.stringValue, score: json["score"]?.stringValue,
                  entityID: json["entity_id"]?.stringValue,
                  created: ListFilter.Bound.allCases.reduce(into: [:]) { bounds, bound in
                      bounds[bound] = json[bound.parameterName]?.stringValue.flatMap(Timestamp.parse)
                  })
    }
}

/// What a run is asked to do.
public struct RescoringRequest: Sendable {
    public var ruleset: StoredRuleset
    public var filter: OrderFilter
    public var asOf: Date?
    public var dryRun: Bool

    public init(ruleset: StoredRuleset, filter: OrderFilter, asOf: Date?, dryRun: Bool) {
        self.ruleset = ruleset
        self.filter = filter
        self.asOf = asOf
        self.dryRun = dryRun
    }
}

/// Why a run's apply was refused.
public enum RescoringApplyError: Error, Equatable {
    /// Only a completed dry run can be applied.
    case notCompleted(status: String)
    /// These orders changed since the dry run evaluated them (at most 100 named); nothing was applied.
    case ordersChanged([String])
}

/// Only a failed run (its evaluation, or its apply) can be resumed; this one is in the status named.
public struct RescoringRetryRefused: Error, Equatable {
    public let status: String
}

/// How often and when a run's failing batch is tried again: after attempt n (from 1) fails, the pause is
/// `delays[n - 1]`; the attempt after the last delay is the last.
public struct RescoringRetryPolicy: Sendable {
    public let delays: [TimeInterval]

    /// Five attempts in about a quarter of an hour: a database restart or a failover is over by then; a key that
    /// cannot be read or a statement refused every time is not going to change by itself.
    public static let standard = RescoringRetryPolicy(delays: [5, 30, 120, 600])

    public init(delays: [TimeInterval]) { self.delays = delays }

    public var maxAttempts: Int { delays.count + 1 }
}

/// Where a run's evaluation spends its time, summed over the batches this worker evaluated (for
/// `ledger bench rescore`, which prints them).
public enum RescoringPhase: String, CaseIterable, Sendable {
    /// Finding the run and its ruleset, and the batch's query (its rows fetched).
    case read
    /// Each order document parsed, its personal data opened when a rule reads it (or folded from the log for as_of).
    case open
    /// The rules evaluated and the fields they read that the document lacks.
    case evaluate
    /// Each result compared with the order's custom score and kept as a change row.
    case diff
    /// Whether each order's postback takes ORDER_CUSTOM_SCORE_CHANGE (the preview's per-order part).
    case preview
    /// The batch's change rows and checkpoint written, and committed.
    case write
}

/// Re-scoring runs: a ruleset version evaluated over the orders a filter selects, batch by batch, each batch's
/// changes and the run's checkpoint written in one transaction; then, for a run that is applied, one command per
/// changed order through the command engine, with the run as causation.
public final class Rescoring: Sendable {
    public let pool: ConnectionPool
    let engine: CommandEngine
    public let batchSize: Int
    let clock: @Sendable () -> Date

    let retries: RescoringRetryPolicy
    private let phaseSeconds = PhaseTally<RescoringPhase>()

    public var phases: PhaseSeconds<RescoringPhase> { phaseSeconds.current }

    public init(pool: ConnectionPool, engine: CommandEngine, batchSize: Int = 500, retries: RescoringRetryPolicy = .standard,
                clock: @escaping @Sendable () -> Date = Date.init) {
        self.pool = pool
        self.engine = engine
        self.batchSize = max(1, batchSize)
        self.retries = retries
        self.clock = clock
    }

    // MARK: runs

    public static let columns = """
        id, livemode, ruleset_name, ruleset_version, ruleset_hash, evaluator_version, filter::text, as_of, evaluated_at, dry_run, status,
        apply_status, orders_total, orders_evaluated, orders_changed, errors, orders_applied, conflicts, missing_fields::text, failure,
        created_at, completed_at, applied_at, attempts, last_error, retry_at
        """

    /// Queues a run; the orders it will look at are counted now, for its progress.
    public static func create(_ tx: PostgresConnection, organizationID: UUID, livemode: Bool, id: String, _ request: RescoringRequest,
                              actor: String, now: Date) throws -> PostgresRows {
        var parameters: [(any PostgresEncodable)?] = [organizationID, livemode]
        let conditions = ListFilter.conditions(request.filter.listFilters, on: "o", parameters: &parameters)
        let total = try tx.query("""
            SELECT count(*) FROM ledger.orders o WHERE \((["o.organization_id = $1", "o.livemode = $2"] + conditions).joined(separator: " AND "))
            """, parameters).int64(0, 0) ?? 0
        return try tx.query("""
            INSERT INTO ledger.rescoring_runs (organization_id, livemode, id, ruleset_name, ruleset_version, ruleset_hash, evaluator_version,
                filter, as_of, evaluated_at, dry_run, status, orders_total, created_by, created_at, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::timestamptz, coalesce($9::timestamptz, $12::timestamptz), $10, 'queued', $11, $13, $12, $12)
            RETURNING \(columns)
            """, [organizationID, livemode, id, request.ruleset.ruleset.name, request.ruleset.version, request.ruleset.ruleset.hash,
                  Ruleset.evaluatorVersion, request.filter.json.jsonString, request.asOf, request.dryRun, total, now, actor])
    }

    public static func find(_ connection: PostgresConnection, organizationID: UUID, livemode: Bool, id: String, lock: Bool = false) throws -> PostgresRows {
        try connection.query("""
            SELECT \(columns) FROM ledger.rescoring_runs WHERE organization_id = $1 AND livemode = $2 AND id = $3\(lock ? " FOR UPDATE" : "")
            """, [organizationID, livemode, id])
    }

    /// Stops a queued or running run where it is; a finished one is left as it is.
    public static func cancel(_ tx: PostgresConnection, organizationID: UUID, livemode: Bool, id: String, now: Date) throws -> PostgresRows {
        _ = try tx.query("""
            UPDATE ledger.rescoring_runs SET status = 'canceled', updated_at = $4, completed_at = $4
            WHERE organization_id = $1 AND livemode = $2 AND id = $3 AND status IN ('queued', 'running')
            """, [organizationID, livemode, id, now])
        return try find(tx, organizationID: organizationID, livemode: livemode, id: id)
    }

    /// Asks for a completed dry run to be applied exactly as it was computed. Refused when an order it would
    /// change has moved on since it was evaluated; asking again once asked changes nothing.
    public static func requestApply(_ tx: PostgresConnection, organizationID: UUID, livemode: Bool, id: String, now: Date) throws -> PostgresRows {
        let run = try find(tx, organizationID: organizationID, livemode: livemode, id: id, lock: true)
        guard run.count > 0, run.string(0, 11) == nil else { return run }
        let status = run.string(0, 10) ?? ""
        guard status == "completed" else { throw RescoringApplyError.notCompleted(status: status) }
        let moved = try tx.query("""
            SELECT DISTINCT c.verification_id FROM ledger.rescoring_changes c
            JOIN ledger.orders o ON o.organization_id = c.organization_id AND o.id = c.verification_id
            WHERE c.organization_id = $1 AND c.run_id = $2 AND c.error_type IS NULL AND o.version <> c.stream_version
            ORDER BY 1 LIMIT 100
            """, [organizationID, id])
        guard moved.count == 0 else { throw RescoringApplyError.ordersChanged((0..<moved.count).compactMap { moved.string($0, 0) }) }
        _ = try tx.query("UPDATE ledger.rescoring_runs SET apply_status = 'pending', updated_at = $3 WHERE organization_id = $1 AND id = $2",
                         [organizationID, id, now])
        return try find(tx, organizationID: organizationID, livemode: livemode, id: id)
    }

    /// Resumes a failed run from its checkpoint (a failed apply from the orders it has not applied), with its
    /// attempts counted afresh. Refused for a run that has not failed.
    public static func retry(_ tx: PostgresConnection, organizationID: UUID, livemode: Bool, id: String, now: Date) throws -> PostgresRows {
        let run = try find(tx, organizationID: organizationID, livemode: livemode, id: id, lock: true)
        guard run.count > 0 else { return run }
        let status = run.string(0, 10) ?? "", applyStatus = run.string(0, 11)
        guard status == "failed" || applyStatus == "failed" else { throw RescoringRetryRefused(status: applyStatus.map { "apply \($0)" } ?? status) }
        _ = try tx.query("""
            UPDATE ledger.rescoring_runs SET attempts = 0, retry_at = NULL, failure = NULL, updated_at = $3,
                status = CASE WHEN status = 'failed' THEN 'queued' ELSE status END,
                completed_at = CASE WHEN status = 'failed' THEN NULL ELSE completed_at END,
                apply_status = CASE WHEN apply_status = 'failed' THEN 'pending' ELSE apply_status END
            WHERE organization_id = $1 AND id = $2
            """, [organizationID, id, now])
        return try find(tx, organizationID: organizationID, livemode: livemode, id: id)
    }

    // MARK: the work

    /// Works on the oldest run that has work left (its next batch of evaluation or of apply) and is not waiting
    /// to be tried again, unless another worker holds it. A batch that fails is counted against its run (see
    /// `recordFailure`) and the next run is tried. Answers whether there was any.
    @discardableResult
    public func step(only runID: String? = nil) throws -> Bool {
        let due = try pool.withConnection(scope: .system) {
            try $0.query("""
                SELECT organization_id, livemode, id FROM ledger.rescoring_runs
                WHERE (status IN ('queued', 'running') OR apply_status = 'pending') AND ($1::text IS NULL OR id = $1)
                  AND (retry_at IS NULL OR retry_at <= $2)
                ORDER BY created_at LIMIT 8
                """, [runID, clock()])
        }
        for row in 0..<due.count {
            guard let organizationID = due.uuid(row, 0), let livemode = due.bool(row, 1), let id = due.string(row, 2) else { continue }
            do {
                if try work(organizationID: organizationID, livemode: livemode, id: id) { return true }
            } catch {
                try recordFailure(organizationID: organizationID, livemode: livemode, id: id, error)
                return true
            }
        }
        return false
    }

    /// When a run that is waiting to be tried again is due (nil: it is not waiting).
    public func retryDue(organizationID: UUID, livemode: Bool, id: String) throws -> Date? {
        try pool.withConnection(scope: .tenant(organizationID: organizationID, livemode: livemode)) {
            try $0.query("""
                SELECT retry_at FROM ledger.rescoring_runs
                WHERE organization_id = $1 AND id = $2 AND (status IN ('queued', 'running') OR apply_status = 'pending')
                """, [organizationID, id]).date(0, 0)
        }
    }

    /// A batch of the run failed and nothing of it was written: the run keeps the error and waits for its next
    /// attempt, or once the attempts are spent, fails with it (its evaluation, or its apply).
    private func recordFailure(organizationID: UUID, livemode: Bool, id: String, _ error: Error) throws {
        let reason = Self.describe(error)
        // The log names the kind of error only: a database's message can quote a value.
        Log.warning("re-scoring batch failed", ["run": .string(id), "error": .string(String(describing: type(of: error))),
                                                 "sql_state": .string((error as? PostgresError)?.sqlState ?? "")])
        try pool.transaction(scope: .tenant(organizationID: organizationID, livemode: livemode)) { tx in
            let run = try tx.query("""
                SELECT attempts, status FROM ledger.rescoring_runs
                WHERE organization_id = $1 AND id = $2 AND (status IN ('queued', 'running') OR apply_status = 'pending') FOR UPDATE
                """, [organizationID, id])
            guard run.count > 0 else { return }
            let attempts = (run.int(0, 0) ?? 0) + 1, evaluating = run.string(0, 1) != "completed", now = clock()
            if attempts < retries.maxAttempts {
                _ = try tx.query("""
                    UPDATE ledger.rescoring_runs SET attempts = $3, last_error = $4, retry_at = $5, updated_at = $6
                    WHERE organization_id = $1 AND id = $2
                    """, [organizationID, id, attempts, reason, now.addingTimeInterval(retries.delays[attempts - 1]), now])
            } else {
                _ = try tx.query("""
                    UPDATE ledger.rescoring_runs SET attempts = $3, last_error = $4, retry_at = NULL, updated_at = $5,
                        failure = $6, status = CASE WHEN $7 THEN 'failed' ELSE status END,
                        completed_at = CASE WHEN $7 THEN $5 ELSE completed_at END,
                        apply_status = CASE WHEN $7 THEN apply_status ELSE 'failed' END
                    WHERE organization_id = $1 AND id = $2
                    """, [organizationID, id, attempts, reason, now, "gave up after \(attempts) attempts: \(reason)", evaluating])
            }
        }
    }

    /// An error as the run's owner may read it: what failed, without the values a database error's detail can
    /// quote (personal data among them).
    static func describe(_ error: Error) -> String {
        switch error {
        case let PostgresError.server(state, message, _, _): return "PostgreSQL error \(state): \(message)"
        case let error as PostgresError: return error.description
        case let error as PersonalDataError: return error.description
        default: return String(describing: type(of: error))
        }
    }

    /// Steps until no run has work left.
    public func drain(only runID: String? = nil, progress: (() -> Void)? = nil) throws {
        while try step(only: runID) { progress?() }
    }

    /// Works every `interval` seconds, on a thread of its own until the process ends, while any run has work left:
    /// runs queued by the API, and runs a killed process left half done.
    public func start(interval: Double) {
        let thread = Thread { [self] in
            while true {
                do {
                    try drain()
                } catch {
                    Log.warning("re-scoring step failed", ["error": .string(String(describing: type(of: error)))])
                }
                Thread.sleep(forTimeInterval: interval)
            }
        }
        thread.name = "ledger-rescoring"
        thread.start()
    }

    private func work(organizationID: UUID, livemode: Bool, id: String) throws -> Bool {
        let scope = DatabaseScope.tenant(organizationID: organizationID, livemode: livemode)
        var lap = Lap(), spent = PhaseSeconds<RescoringPhase>(), evaluating = false
        defer { phaseSeconds.add(spent) }
        return try pool.withConnection(scope: scope) { connection in
            let worked = try connection.transaction { tx in
                let run = try tx.query("""
                    SELECT status, apply_status, ruleset_name, ruleset_version, ruleset_hash, filter::text, as_of, evaluated_at, NULL,
                           cursor_created_at, cursor_id, missing_fields::text
                    FROM ledger.rescoring_runs
                    WHERE organization_id = $1 AND id = $2 AND (status IN ('queued', 'running') OR apply_status = 'pending')
                    FOR UPDATE SKIP LOCKED
                    """, [organizationID, id])
                guard run.count > 0 else { return false }
                let context = RunContext(organizationID: organizationID, livemode: livemode, id: id)
                evaluating = run.string(0, 0) == "queued" || run.string(0, 0) == "running"
                if evaluating {
                    try evaluateBatch(tx, context, run, &lap, &spent)
                } else {
                    try applyBatch(tx, context)
                }
                return true
            }
            if evaluating { spent.add(.write, lap.next()) }
            return worked
        }
    }

    struct RunContext {
        let organizationID: UUID
        let livemode: Bool
        let id: String
    }

    private func fail(_ tx: PostgresConnection, _ run: RunContext, _ reason: String) throws {
        _ = try tx.query("""
            UPDATE ledger.rescoring_runs SET status = 'failed', failure = $3, updated_at = $4, completed_at = $4
            WHERE organization_id = $1 AND id = $2
            """, [run.organizationID, run.id, reason, clock()])
    }

    private func evaluateBatch(_ tx: PostgresConnection, _ run: RunContext, _ row: PostgresRows, _ lap: inout Lap,
                               _ spent: inout PhaseSeconds<RescoringPhase>) throws {
        let name = row.string(0, 2) ?? "", version = row.int(0, 3) ?? 0
        guard let stored = try RulesetStore.load(tx, organizationID: run.organizationID, livemode: run.livemode, name: name, version: version),
              stored.ruleset.hash == row.string(0, 4) else {
            return try fail(tx, run, "ruleset \(name) version \(version) is missing or no longer has the run's hash")
        }
        let personalData = engine.vault != nil
            && stored.ruleset.documentMembersRead.map { !$0.isDisjoint(with: OrderView.personalMembers) } ?? true
        let filter = OrderFilter(json: row.json(0, 5) ?? .object([]))
        let asOf = row.date(0, 6), now = row.date(0, 7) ?? clock()
        let orders = try Self.orderBatch(tx, organizationID: run.organizationID, livemode: run.livemode, filter: filter,
                                         after: row.date(0, 9).map { ($0, row.string(0, 10) ?? "") }, limit: batchSize)
        spent.add(.read, lap.next())
        guard orders.count > 0 else {
            _ = try tx.query("""
                UPDATE ledger.rescoring_runs SET status = 'completed', updated_at = $3, completed_at = $3,
                    apply_status = CASE WHEN dry_run THEN NULL ELSE 'pending' END
                WHERE organization_id = $1 AND id = $2
                """, [run.organizationID, run.id, clock()])
            return
        }
        var changes = ChangeRows()
        var missing = (row.json(0, 11)?.objectValue ?? []).reduce(into: [String: Int64]()) { $0[$1.0] = $1.1.intValue ?? 0 }
        var changedOrders: Int64 = 0, errors: Int64 = 0
        for index in 0..<orders.count {
            guard let orderID = orders.string(index, 0), let version = orders.int64(index, 2) else { continue }
            let document: JSONValue?, postback: Bool
            if let asOf {
                let then = try VerificationStore.load(tx, organizationID: run.organizationID, id: orderID, asOf: asOf, vault: engine.vault)
                document = then.flatMap { OrderView.object(id: orderID, state: $0.state) }
                postback = then?.state.invitation.map { Self.postbackWants($0.postbackURL, $0.postbackEvents) } ?? false
                spent.add(.open, lap.next())
            } else {
                document = try Self.orderDocument(orders, index, organizationID: run.organizationID, vault: engine.vault,
                                                  personalData: personalData)
                spent.add(.open, lap.next())
                let events = orders.json(index, 5)?.arrayValue?.compactMap(\.stringValue) ?? []
                postback = Self.postbackWants(orders.string(index, 4), events)
            }
            spent.add(.preview, lap.next())
            guard let document else { continue } // no order yet at as_of
            for path in stored.ruleset.missingFields(in: document) { missing[path, default: 0] += 1 }
            let results = stored.ruleset.evaluate(document, now: now)
            spent.add(.evaluate, lap.next())
            let old = document["custom_scores"]
            var changed = false
            for (score, result) in results {
                let previous = old?[score]
                switch result {
                case let .success(value):
                    guard previous != value else { continue }
                    changed = true
                    changes.append(orderID, score, version, old: previous, new: value, error: nil, postback: postback)
                case let .failure(failure):
                    errors += 1
                    changes.append(orderID, score, version, old: previous, new: nil, error: failure, postback: postback)
                }
            }
            if changed { changedOrders += 1 }
            spent.add(.diff, lap.next())
        }
        _ = try tx.query("""
            INSERT INTO ledger.rescoring_changes (organization_id, livemode, run_id, verification_id, score_name, stream_version,
                old_value, new_value, error_type, error, postback)
            SELECT $1, $2, $3, c.verification_id, c.score_name, c.stream_version, c.old_value::jsonb, c.new_value::jsonb, c.error_type,
                c.error, c.postback
            FROM unnest($4::text[], $5::text[], $6::bigint[], $7::text[], $8::text[], $9::text[], $10::text[], $11::boolean[])
                AS c(verification_id, score_name, stream_version, old_value, new_value, error_type, error, postback)
            """, [run.organizationID, run.livemode, run.id] + changes.parameters)
        let last = orders.count - 1
        let missingJSON = JSONValue.object(missing.sorted { $0.key < $1.key }.map { ($0.key, .int($0.value)) })
        // The batch's commit does not wait for the disk: a batch lost in a crash is lost with its checkpoint, so the
        // run evaluates those orders again, and any later commit that waits (the run's completion, an apply's
        // command) makes every batch before it durable.
        _ = try tx.query("""
            WITH relaxed AS (SELECT set_config('synchronous_commit', 'off', true))
            UPDATE ledger.rescoring_runs SET status = 'running', orders_evaluated = orders_evaluated + $3, orders_changed = orders_changed + $4,
                errors = errors + $5, cursor_created_at = $6, cursor_id = $7, missing_fields = $8::jsonb, updated_at = $9
            FROM relaxed
            WHERE organization_id = $1 AND id = $2
            """, [run.organizationID, run.id, Int64(orders.count), changedOrders, errors, orders.date(last, 1), orders.string(last, 0),
                  missingJSON.jsonString, clock()])
    }

    /// The next `limit` orders the filter selects after `cursor` (created_at, id), oldest first: id, created_at,
    /// version, the order document (as stored: sealed when encryption is on), the invite's postback URL and events,
    /// and the entity with its stored key (for `orderDocument`).
    public static func orderBatch(_ connection: PostgresConnection, organizationID: UUID, livemode: Bool, filter: OrderFilter,
                                  after cursor: (Date, String)?, limit: Int) throws -> PostgresRows {
        var parameters: [(any PostgresEncodable)?] = [organizationID, livemode, cursor?.0, cursor?.1 ?? ""]
        let conditions = ListFilter.conditions(filter.listFilters, on: "o", parameters: &parameters)
        // Planned generically once the statement has run a few times, so written for the index (created_at, id):
        // the cursor is a condition a scan starts from (`$3 IS NULL OR …` is none), the key's mode is the constant
        // (`k.livemode = o.livemode` on the outer join hides that every row has it, and with it the index order),
        // and the limit is a number (a parameter reads as 10 % of the rows, which a parallel scan would fetch).
        // Else every batch sorts all the orders before it again.
        return try connection.query("""
            SELECT o.id, o.created_at, o.version, o.document::text, v.document->>'postback_url', (v.document->'postback_events')::text,
                   o.entity_id, k.wrapped_key, k.erased_at IS NOT NULL
            FROM ledger.orders o JOIN ledger.verifications v ON v.organization_id = o.organization_id AND v.id = o.id
            LEFT JOIN ledger.data_keys k ON k.organization_id = o.organization_id AND k.livemode = $2 AND k.entity_id = o.entity_id
            WHERE \((["o.organization_id = $1", "o.livemode = $2", "(o.created_at, o.id) > (coalesce($3::timestamptz, '-infinity'), $4)"]
                     + conditions).joined(separator: " AND "))
            ORDER BY o.created_at, o.id LIMIT \(max(1, limit))
            """, parameters)
    }

    /// Row `index` of an `orderBatch`'s order document as the order's reader sees it: its personal data opened
    /// under the entity's key, or gone once that key is destroyed. With `personalData` false, the document without
    /// its personal members (`OrderView.personalMembers`) and nothing opened: all a ruleset that reads none of them
    /// needs, at the cost of one parse instead of a key unwrap, a decryption and two parses.
    public static func orderDocument(_ rows: PostgresRows, _ index: Int, organizationID: UUID, vault: PersonalDataVault?,
                                     personalData: Bool) throws -> JSONValue? {
        guard var text = rows.string(index, 3) else { return nil }
        if personalData, let vault, let entity = rows.string(index, 6), let id = rows.string(index, 0) {
            let owner = DataKeyOwner(organizationID: organizationID, entityID: entity)
            text = try vault.openDocument(text, documentID: PersonalDataVault.documentID(kind: "order", streamID: id), owner: owner,
                                          key: try vault.key(owner, wrapped: rows.bytes(index, 7), erased: rows.bool(index, 8) ?? false))
        }
        guard case let .object(members)? = try? JSONValue.parse(Array(text.utf8), maxDepth: 512) else { return nil }
        return .object(members.filter { $0.0 != PersonalDataEnvelope.member })
    }

    /// Whether an invite's postback receives ORDER_CUSTOM_SCORE_CHANGE (an empty event list receives everything).
    static func postbackWants(_ url: String?, _ events: [String]) -> Bool {
        url != nil && (events.isEmpty || events.contains(WebhookEventType.orderCustomScoreChange.rawValue))
    }

    private func applyBatch(_ tx: PostgresConnection, _ run: RunContext) throws {
        let rows = try tx.query("""
            SELECT verification_id, score_name, stream_version, new_value::text FROM ledger.rescoring_changes
            WHERE organization_id = $1 AND run_id = $2 AND error_type IS NULL AND applied_at IS NULL AND NOT conflict
              AND verification_id IN (
                  SELECT DISTINCT verification_id FROM ledger.rescoring_changes
                  WHERE organization_id = $1 AND run_id = $2 AND error_type IS NULL AND applied_at IS NULL AND NOT conflict
                  ORDER BY verification_id LIMIT $3)
            ORDER BY verification_id, score_name
            """, [run.organizationID, run.id, batchSize])
        guard rows.count > 0 else {
            _ = try tx.query("""
                UPDATE ledger.rescoring_runs SET apply_status = 'applied', applied_at = $3, updated_at = $3,
                    orders_applied = (SELECT count(DISTINCT verification_id) FROM ledger.rescoring_changes
                                      WHERE organization_id = $1 AND run_id = $2 AND applied_at IS NOT NULL),
                    conflicts = (SELECT count(DISTINCT verification_id) FROM ledger.rescoring_changes
                                 WHERE organization_id = $1 AND run_id = $2 AND conflict)
                WHERE organization_id = $1 AND id = $2
                """, [run.organizationID, run.id, clock()])
            return
        }
        let ruleset = try tx.query("SELECT ruleset_name, ruleset_version, ruleset_hash FROM ledger.rescoring_runs WHERE organization_id = $1 AND id = $2",
                                   [run.organizationID, run.id])
        let reference = RulesetReference(name: ruleset.string(0, 0) ?? "", version: ruleset.int(0, 1) ?? 0, hash: ruleset.string(0, 2) ?? "")
        var byOrder: [(id: String, version: Int64, commands: [VerificationCommand])] = []
        for index in 0..<rows.count {
            guard let orderID = rows.string(index, 0), let score = rows.string(index, 1), let version = rows.int64(index, 2),
                  let value = rows.string(index, 3).flatMap({ try? JSONValue.parse(Array($0.utf8)) }) else { continue }
            let command = VerificationCommand.setCustomScore(name: score, value: value, reason: "rescoring run \(run.id)", ruleset: reference)
            if byOrder.last?.id == orderID { byOrder[byOrder.count - 1].commands.append(command) } else { byOrder.append((orderID, version, [command])) }
        }
        let actor = EventMetadata(actorID: run.id, actorType: .system, causationID: run.id, correlationID: run.id)
        for order in byOrder {
            let request = CommandRequest(organizationID: run.organizationID, livemode: run.livemode, streamID: order.id, commands: order.commands,
                                         expectedVersion: order.version, actor: actor, idempotencySeed: "rescoring/\(run.id)/\(order.id)", now: clock())
            do {
                // The command and the mark that it was applied commit together, so a worker killed between two
                // orders applies neither twice nor not at all.
                try engine.execute({ request }, inTransaction: { body in
                    try self.pool.transaction(scope: .tenant(organizationID: run.organizationID, livemode: run.livemode), body)
                }, answer: { _, commandTx in
                    _ = try commandTx.query("""
                        UPDATE ledger.rescoring_changes SET applied_at = $4
                        WHERE organization_id = $1 AND run_id = $2 AND verification_id = $3 AND error_type IS NULL
                        """, [run.organizationID, run.id, order.id, request.now])
                })
            } catch let error as CommandError {
                _ = try tx.query("""
                    UPDATE ledger.rescoring_changes SET conflict = true, error = $4
                    WHERE organization_id = $1 AND run_id = $2 AND verification_id = $3 AND error_type IS NULL
                    """, [run.organizationID, run.id, order.id, error.description])
            }
        }
    }
}

/// A batch's change rows as the columns of one INSERT … SELECT FROM unnest(…).
struct ChangeRows {
    private var verificationIDs: [String] = [], scores: [String] = [], versions: [String] = []
    private var old: [String?] = [], new: [String?] = [], errorTypes: [String?] = [], errors: [String?] = [], postbacks: [String] = []

    mutating func append(_ id: String, _ score: String, _ version: Int64, old previous: JSONValue?, new value: JSONValue?,
                         error: RuleFailure?, postback: Bool) {
        verificationIDs.append(id)
        scores.append(score)
        versions.append(String(version))
        old.append(previous?.jsonString)
        new.append(value?.jsonString)
        errorTypes.append(error?.type)
        errors.append(error?.message)
        postbacks.append(postback ? "true" : "false")
    }

    var parameters: [(any PostgresEncodable)?] {
        [PostgresArray(verificationIDs), PostgresArray(scores), PostgresArray(versions), PostgresArray(nullable: old),
         PostgresArray(nullable: new), PostgresArray(nullable: errorTypes), PostgresArray(nullable: errors), PostgresArray(postbacks)]
    }
}
