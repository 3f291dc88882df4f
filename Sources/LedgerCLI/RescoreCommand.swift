import Foundation
import LedgerDomain
import LedgerEngine
import LedgerStorage

/// `ledger rescore`: the API's re-scoring run from the command line, worked in this process.
enum RescoreCommand {
    static let help = """
        ledger rescore --org ID [--live] --ruleset NAME --version N [--filter KEY=VALUE ...] [--as-of TIME] [--apply] [--json]
        ledger rescore --org ID [--live] --resume RUN_ID [--json]

        Evaluates a ruleset version over the organization's orders (test mode unless --live), as
        POST /v1/rescoring_runs does, and works the run in this process: a progress bar on a terminal, then the
        diff as a table (or the run as JSON with --json, as GET /v1/rescoring_runs/{id} shows it). Without
        --apply it is a dry run and changes nothing; with it, the changed scores are recorded once evaluated.
        --resume works an existing run on from its checkpoint (one a killed process left half done, or one that
        failed: its attempts start again). A failing batch is tried again after
        \(RescoringRetryPolicy.standard.delays.map { "\(Int($0)) s" }.joined(separator: ", ")), then the run fails.
        Filters: package_id, status, score, entity_id, created[gte|gt|lte|lt] (RFC 3339).
        LEDGER_RESCORING_BATCH (default 500): orders per checkpoint.
        Uses DATABASE_URL or the embedded PostgreSQL, as the database owner.
        """

    static func run(_ arguments: [String], settings: Settings, environment: [String: String]) throws -> Int32 {
        var organization: UUID?, livemode = false, rulesetName: String?, version: Int?, asOf: Date?
        var apply = false, json = false, resume: String?
        var filter = OrderFilter()
        var index = 0
        func value() throws -> String {
            guard index + 1 < arguments.count else { throw UsageError(message: "\(arguments[index]) needs a value") }
            index += 1
            return arguments[index]
        }
        while index < arguments.count {
            switch arguments[index] {
            case "--org":
                guard let id = UUID(uuidString: try value()) else { throw UsageError(message: "--org takes an organization id (a UUID)") }
                organization = id
            case "--live": livemode = true
            case "--ruleset": rulesetName = try value()
            case "--version":
                guard let number = Int(try value()), number >= 1 else { throw UsageError(message: "--version takes a number from 1") }
                version = number
            case "--as-of":
                guard let time = Timestamp.parse(try value()) else { throw UsageError(message: "--as-of takes an RFC 3339 time") }
                asOf = time
            case "--filter": try set(&filter, try value())
            case "--apply": apply = true
            case "--json": json = true
            case "--resume": resume = try value()
            default: throw UsageError(message: "unknown argument \(arguments[index])")
            }
            index += 1
        }
        guard let organization else { throw UsageError(message: "--org is required") }
        let batch = Int(environment["LEDGER_RESCORING_BATCH"] ?? "") ?? 500
        let database = try Database(settings: settings)
        defer { database.close() }
        let pool = database.makePool(size: 3, applicationName: "ledger-rescore")
        defer { pool.close() }
        let scope = DatabaseScope.tenant(organizationID: organization, livemode: livemode)
        let id: String
        if let resume {
            id = resume
            // A run that failed after its attempts is resumed as POST /v1/rescoring_runs/{id}/retry does.
            try pool.transaction(scope: scope) { tx in
                do {
                    _ = try Rescoring.retry(tx, organizationID: organization, livemode: livemode, id: resume, now: Date())
                } catch is RescoringRetryRefused {}
            }
        } else {
            guard let rulesetName, let version else { throw UsageError(message: "--ruleset and --version are required (or --resume)") }
            id = try pool.transaction(scope: scope) { tx in
                guard let ruleset = try RulesetStore.load(tx, organizationID: organization, livemode: livemode, name: rulesetName, version: version) else {
                    throw UsageError(message: "no ruleset \(rulesetName) version \(version) in this organization and mode")
                }
                let id = "rsr_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(24)
                _ = try Rescoring.create(tx, organizationID: organization, livemode: livemode, id: id,
                                         RescoringRequest(ruleset: ruleset, filter: filter, asOf: asOf, dryRun: !apply),
                                         actor: "cli", now: Date())
                return id
            }
        }
        // The folds for as_of, the stored orders and an apply's commands read and write personal data as serve does.
        let vault = try PersonalDataSetup.vault(settings, embedded: database.embedded != nil)
        let rescoring = Rescoring(pool: pool, engine: CommandEngine(pool: pool, stateCacheSize: 0, vault: vault), batchSize: batch)
        let bar = isatty(STDERR_FILENO) == 1 ? ProgressBar() : nil
        // A batch that fails is tried again after the policy's pause, here as in serve, until the run fails.
        while true {
            try rescoring.drain(only: id) {
                guard let bar, let run = try? report(pool, scope, organization, livemode, id) else { return }
                bar.show(run)
            }
            guard let due = try rescoring.retryDue(organizationID: organization, livemode: livemode, id: id) else { break }
            let error = (try? report(pool, scope, organization, livemode, id))?["last_error"]?.stringValue ?? ""
            FileHandle.standardError.write(Data("a batch failed (\(error)); trying again at \(Timestamp.rfc3339(due))\n".utf8))
            Thread.sleep(forTimeInterval: max(0, due.timeIntervalSinceNow))
        }
        bar?.finish()
        guard let run = try report(pool, scope, organization, livemode, id) else { throw UsageError(message: "no run \(id)") }
        print(json ? run.jsonString : table(run))
        return run["status"]?.stringValue == "completed" ? 0 : 1
    }

    static func report(_ pool: ConnectionPool, _ scope: DatabaseScope, _ organization: UUID, _ livemode: Bool, _ id: String) throws -> JSONValue? {
        try pool.withConnection(scope: scope) {
            try RescoringReport.run($0, organizationID: organization, try Rescoring.find($0, organizationID: organization, livemode: livemode, id: id))
        }
    }

    static func set(_ filter: inout OrderFilter, _ assignment: String) throws {
        guard let equals = assignment.firstIndex(of: "=") else { throw UsageError(message: "--filter takes KEY=VALUE") }
        let key = String(assignment[..<equals]), text = String(assignment[assignment.index(after: equals)...])
        func time() throws -> Date {
            guard let date = Timestamp.parse(text) else { throw UsageError(message: "\(key) takes an RFC 3339 time") }
            return date
        }
        switch key {
        case "package_id": filter.packageID = text
        case "status": filter.status = text
        case "score": filter.score = text
        case "entity_id": filter.entityID = text
        default:
            guard let bound = ListFilter.Bound.allCases.first(where: { $0.parameterName == key }) else {
                throw UsageError(message: "unknown filter \(key)")
            }
            filter.created[bound] = try time()
        }
    }

    /// The run's counts, then per score its old → new table, the webhook preview and the failures.
    static func table(_ run: JSONValue) -> String {
        func text(_ value: JSONValue?) -> String { value.map { $0.stringValue ?? $0.jsonString } ?? "" }
        var lines = ["run \(text(run["id"])): \(text(run["status"]))\(run["apply_status"]?.isNull == false ? ", apply \(text(run["apply_status"]))" : "")",
                     "ruleset \(text(run["ruleset"]?["name"])) v\(text(run["ruleset"]?["version"])) \(text(run["ruleset"]?["hash"]))",
                     "orders evaluated \(text(run["orders_evaluated"])), changed \(text(run["orders_changed"])), errors \(text(run["errors"])), "
                        + "applied \(text(run["orders_applied"])), conflicts \(text(run["conflicts"]))"]
        if let failure = run["failure"]?.stringValue { lines.append("failed: \(failure)") }
        guard let diff = run["diff"], !diff.isNull else { return lines.joined(separator: "\n") }
        lines.append("")
        lines.append("score".padding(toLength: 24, withPad: " ", startingAt: 0) + "old".padding(toLength: 24, withPad: " ", startingAt: 0)
            + "new".padding(toLength: 24, withPad: " ", startingAt: 0) + "orders")
        for (score, rows) in diff["scores"]?.objectValue ?? [] {
            for row in rows.arrayValue ?? [] {
                lines.append(score.padding(toLength: 24, withPad: " ", startingAt: 0)
                    + (row["old"]?.jsonString ?? "").padding(toLength: 24, withPad: " ", startingAt: 0)
                    + (row["new"]?.jsonString ?? "").padding(toLength: 24, withPad: " ", startingAt: 0) + text(row["orders"]))
            }
        }
        let preview = diff["webhook_preview"]
        lines.append("")
        lines.append("webhooks on apply: \(text(preview?["messages"])) \(text(preview?["event_type"]))")
        for endpoint in preview?["endpoints"]?.arrayValue ?? [] {
            lines.append("  \(text(endpoint["id"])) \(text(endpoint["url"])): \(text(endpoint["messages"]))")
        }
        lines.append("  postbacks of \(text(preview?["postbacks"]?["orders"])) orders: \(text(preview?["postbacks"]?["messages"]))")
        for failure in diff["errors"]?.arrayValue ?? [] {
            lines.append("error \(text(failure["order_id"])) \(text(failure["score"])): \(text(failure["error"]?["type"])) \(text(failure["error"]?["message"]))")
        }
        if let missing = run["missing_fields"]?.objectValue, !missing.isEmpty {
            lines.append("fields the rules read that orders lack: " + missing.map { "\($0.0) (\(text($0.1)))" }.joined(separator: ", "))
        }
        return lines.joined(separator: "\n")
    }
}

/// One line on standard error, redrawn in place: evaluated of total, as a bar.
final class ProgressBar {
    private var last = Date.distantPast

    func show(_ run: JSONValue) {
        let now = Date()
        guard now.timeIntervalSince(last) >= 0.1 else { return }
        last = now
        let fraction = min(1, max(0, run["progress"]?.doubleValue ?? 0))
        let filled = Int((fraction * 40).rounded(.down))
        let line = "\r[" + String(repeating: "#", count: filled) + String(repeating: " ", count: 40 - filled) + "] "
            + "\(run["orders_evaluated"]?.intValue ?? 0)/\(run["orders_total"]?.intValue ?? 0) \(run["status"]?.stringValue ?? "")"
        FileHandle.standardError.write(Data(line.utf8))
    }

    func finish() { FileHandle.standardError.write(Data("\n".utf8)) }
}
