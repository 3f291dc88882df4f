import Foundation
import LedgerDomain
import LedgerEngine
import LedgerHTTP
import LedgerStorage

/// `/v1/rescoring_runs`: a ruleset version evaluated over a filter of orders (optionally as they were at `as_of`),
/// asynchronously; a dry run's diff with its webhook preview; and its apply, exactly as it was computed.
enum RescoringRunsResource {
    static let runID = APIParameters.id("id", "A re-scoring run's id (rsr_…)")
    static let jsonValue = Schema.anyOf([APISchemas.text, .number, .boolean, .nullable(.string(.init()))])
    static let change = Schema.named("RescoringChange", .object([
        .init("id", APISchemas.text, required: true, description: "The order's id and the score's name: ver_…/risk"),
        .init("order_id", APISchemas.text, required: true), .init("score", APISchemas.text, required: true),
        .init("old", jsonValue, required: true), .init("new", jsonValue), .init("stream_version", .integer()),
        .init("applied_at", APISchemas.optionalTime), .init("conflict", .boolean),
        .init("error", .object([.init("type", APISchemas.text, required: true), .init("message", APISchemas.text, required: true)])),
    ]))
    static let run = Schema.named("RescoringRun", .object([
        .init("id", APISchemas.text, required: true), .init("object", .constant("rescoring_run"), required: true),
        .init("livemode", .boolean, required: true),
        .init("ruleset", .object([.init("name", APISchemas.text, required: true), .init("version", .integer(), required: true),
                                  .init("hash", APISchemas.text, required: true)]), required: true),
        .init("evaluator_version", APISchemas.text, required: true), .init("filter", .map(values: APISchemas.text), required: true),
        .init("as_of", APISchemas.optionalTime, required: true), .init("evaluated_at", APISchemas.time, required: true,
                                                                        description: "The time the rules see as now"),
        .init("dry_run", .boolean, required: true),
        .init("status", .choice(["queued", "running", "completed", "failed", "canceled"]), required: true),
        .init("apply_status", .nullable(.choice(["pending", "applied", "failed"])), required: true),
        .init("orders_total", .integer(), required: true), .init("orders_evaluated", .integer(), required: true),
        .init("orders_changed", .integer(), required: true), .init("errors", .integer(), required: true),
        .init("orders_applied", .integer(), required: true),
        .init("conflicts", .integer(), required: true, description: "Orders that changed between evaluation and apply; not applied"),
        .init("progress", .number, required: true, description: "0 to 1"),
        .init("missing_fields", .map(values: .integer()), required: true, description: "Fields the rules read that orders lacked: orders per path"),
        .init("failure", APISchemas.optionalText, required: true, description: "Why the run (or its apply) failed"),
        .init("attempts", .integer(), required: true,
              description: "Failed attempts at the current batch; after \(RescoringRetryPolicy.standard.maxAttempts) the run fails"),
        .init("last_error", APISchemas.optionalText, required: true, description: "The last attempt's error"),
        .init("retry_at", APISchemas.optionalTime, required: true, description: "When the failed batch is tried again"),
        .init("created_at", APISchemas.time, required: true), .init("completed_at", APISchemas.optionalTime, required: true),
        .init("applied_at", APISchemas.optionalTime, required: true),
        .init("diff", .nullable(.object([
            .init("scores", .map(values: .array(of: .object([.init("old", jsonValue, required: true), .init("new", jsonValue, required: true),
                                                              .init("orders", .integer(), required: true)]))), required: true,
                  description: "Per score: old → new value counts"),
            .init("rules", .map(values: .object([.init("orders_changed", .integer(), required: true), .init("errors", .integer(), required: true)])),
                  required: true),
            .init("sample", .array(of: change), required: true), .init("errors", .array(of: change), required: true),
            .init("webhook_preview", .object([
                .init("event_type", .constant(WebhookEventType.orderCustomScoreChange.rawValue), required: true),
                .init("endpoints", .array(of: .object([.init("id", APISchemas.text, required: true), .init("url", APISchemas.text, required: true),
                                                       .init("messages", .integer(), required: true)])), required: true),
                .init("postbacks", .object([.init("orders", .integer(), required: true), .init("messages", .integer(), required: true)]), required: true),
                .init("messages", .integer(), required: true),
            ]), required: true),
        ])), required: true, description: "Once completed"),
    ]))

    static let filter = Schema.object([
        .init("package_id", .text(maxLength: 200)), .init("status", .choice(OrderStatus.self)), .init("score", .choice(OrderScore.self)),
        .init("entity_id", .text(maxLength: 200)), .init("created[gte]", .dateTime), .init("created[gt]", .dateTime),
        .init("created[lte]", .dateTime), .init("created[lt]", .dateTime),
    ], description: "The filters of GET /v1/orders")

    static func operations(clock: @escaping @Sendable () -> Date) -> [APIOperation] {
        [
        .api("POST", "/v1/rescoring_runs", id: "createRescoringRun", summary: "Start a re-scoring run",
             description: "The run is queued and progresses in the background. A dry run changes nothing; a run with dry_run false "
                + "applies its changes once evaluated.", scope: .write,
             body: .object([
                 .init("ruleset", .text(minLength: 1, maxLength: 64, pattern: Ruleset.namePattern), required: true),
                 .init("version", .integer(minimum: 1, maximum: Int64(Int32.max)), required: true),
                 .init("filter", filter), .init("as_of", .dateTime, description: "Evaluate the orders as they were at this time"),
                 .init("dry_run", .boolean, description: "Default true"),
             ]),
             responses: [APIResponses.created("The queued run", run, links: [APIResponses.get("getRescoringRun")]),
                         APIResponses.notFound],
             .command { context, tx in
            let caller = try context.authenticated
            let body = context.body
            let name = try body.requiredString("ruleset")
            let version = body.value("version")?.intValue.flatMap { Int(exactly: $0) } ?? 0
            guard let ruleset = try RulesetStore.load(tx, organizationID: caller.organizationID, livemode: caller.livemode, name: name,
                                                      version: version) else {
                throw APIFailure.notFound("ruleset version", "\(name) \(version)", param: "ruleset")
            }
            let request = RescoringRequest(ruleset: ruleset, filter: OrderFilter(json: body.value("filter") ?? .object([])),
                                           asOf: body.string("as_of").flatMap(Timestamp.parse), dryRun: body.bool("dry_run") ?? true)
            let rows = try Rescoring.create(tx, organizationID: caller.organizationID, livemode: caller.livemode,
                                            id: APIConfiguration.randomID("rsr"), request, actor: caller.keyID, now: clock())
            return .json(201, try answer(context, tx, caller, rows))
        }),

        .api("GET", "/v1/rescoring_runs", id: "listRescoringRuns", summary: "Re-scoring runs, newest first", scope: .read,
             parameters: [APIParameters.limit, APIParameters.startingAfter],
             responses: [APIResponses.ok("A page of runs", APISchemas.list("RescoringRunList", of: run))],
             .read { context in
            let caller = try context.authenticated
            let query = ListQuery(context.request)
            let runs = try context.pool.withConnection { connection in
                let ids = try connection.query("""
                    SELECT r.id FROM ledger.rescoring_runs r WHERE r.organization_id = $1 AND r.livemode = $2
                      AND ($3::text IS NULL OR (r.created_at, r.id) < (
                          SELECT c.created_at, c.id FROM ledger.rescoring_runs c WHERE c.organization_id = $1 AND c.id = $3))
                    ORDER BY r.created_at DESC, r.id DESC LIMIT $4
                    """, [caller.organizationID, caller.livemode, query.startingAfter, query.limit + 1])
                return try (0..<ids.count).compactMap { row in
                    try answer(context, connection, caller, try Rescoring.find(connection, organizationID: caller.organizationID,
                                                                      livemode: caller.livemode, id: ids.string(row, 0) ?? ""))
                }
            }
            return query.page(runs, url: "/v1/rescoring_runs")
        }),

        .api("GET", "/v1/rescoring_runs/{id}", id: "getRescoringRun", summary: "A re-scoring run, with its diff once completed",
             scope: .read, parameters: [runID], responses: [APIResponses.ok("The run", run)],
             .read { context in
            let caller = try context.authenticated
            return .json(200, try context.pool.withConnection {
                try answer(context, $0, caller, try Rescoring.find($0, organizationID: caller.organizationID, livemode: caller.livemode,
                                                          id: context.request.parameter("id")))
            })
        }),

        .api("GET", "/v1/rescoring_runs/{id}/changes", id: "listRescoringChanges", summary: "Every change a run computed, by order and score",
             scope: .read,
             parameters: [runID, APIParameters.limit, .query("starting_after", .text(maxLength: 200), description: "The last change id of the previous page"),
                          .query("errors", .boolean, description: "true: the failed evaluations instead")],
             responses: [APIResponses.ok("A page of changes", APISchemas.list("RescoringChangeList", of: change))],
             .read { context in
            let caller = try context.authenticated
            let id = context.request.parameter("id")
            let query = ListQuery(context.request)
            let changes = try context.pool.withConnection { connection in
                guard try Rescoring.find(connection, organizationID: caller.organizationID, livemode: caller.livemode, id: id).count > 0 else {
                    throw APIFailure.notFound("re-scoring run", id)
                }
                return try RescoringReport.changes(connection, organizationID: caller.organizationID, runID: id,
                                                   errors: context.request.queryValue("errors") == "true", after: query.startingAfter,
                                                   limit: query.limit + 1)
            }
            return query.page(changes, url: "/v1/rescoring_runs/\(id)/changes")
        }),

        .api("POST", "/v1/rescoring_runs/{id}/cancel", id: "cancelRescoringRun", summary: "Stop a queued or running run", scope: .write,
             parameters: [runID], responses: [APIResponses.ok("The run", run)],
             .command { context, tx in
            let caller = try context.authenticated
            let rows = try Rescoring.cancel(tx, organizationID: caller.organizationID, livemode: caller.livemode,
                                            id: context.request.parameter("id"), now: clock())
            return .json(200, try answer(context, tx, caller, rows))
        }),

        .api("POST", "/v1/rescoring_runs/{id}/retry", id: "retryRescoringRun", summary: "Resume a failed run from its checkpoint",
             description: "A run (or its apply) that failed after its attempts goes on from where it stopped, with its attempts counted "
                + "afresh; 409 run_not_failed for any other run.",
             scope: .write, parameters: [runID], responses: [APIResponses.ok("The run, queued again", run)],
             .command { context, tx in
            let caller = try context.authenticated
            do {
                let rows = try Rescoring.retry(tx, organizationID: caller.organizationID, livemode: caller.livemode,
                                               id: context.request.parameter("id"), now: clock())
                return .json(200, try answer(context, tx, caller, rows))
            } catch let refused as RescoringRetryRefused {
                throw APIFailure(status: 409, type: "invalid_request_error", code: "run_not_failed",
                                 message: "only a failed run can be resumed; this one is \(refused.status)", param: nil)
            }
        }),

        .api("POST", "/v1/rescoring_runs/{id}/apply", id: "applyRescoringRun", summary: "Apply a completed dry run as it was computed",
             description: "One CustomScoreSet per changed score through the command path, caused by the run; webhooks only for changed "
                + "orders. 409 orders_changed (nothing applied) when an order changed since the dry run; asking again once asked is a no-op.",
             scope: .write, parameters: [runID], responses: [APIResponses.ok("The run, its apply pending or done", run)],
             .command { context, tx in
            let caller = try context.authenticated
            do {
                let rows = try Rescoring.requestApply(tx, organizationID: caller.organizationID, livemode: caller.livemode,
                                                      id: context.request.parameter("id"), now: clock())
                return .json(200, try answer(context, tx, caller, rows))
            } catch let error as RescoringApplyError {
                switch error {
                case let .notCompleted(status):
                    throw APIFailure(status: 409, type: "invalid_request_error", code: "run_not_completed",
                                     message: "only a completed dry run can be applied; this one is \(status)", param: nil)
                case let .ordersChanged(ids):
                    throw APIFailure(status: 409, type: "invalid_request_error", code: "orders_changed",
                                     message: "these orders changed since the dry run, which must be run again: \(ids.joined(separator: ", "))",
                                     param: nil)
                }
            }
        }),
        ]
    }

    /// The run `rows` hold; 404 naming the path's id when they hold none.
    private static func answer(_ context: RequestContext, _ connection: PostgresConnection, _ caller: Caller, _ rows: PostgresRows) throws -> JSONValue {
        guard let run = try RescoringReport.run(connection, organizationID: caller.organizationID, rows) else {
            throw APIFailure.notFound("re-scoring run", context.request.parameter("id"))
        }
        return run
    }
}
