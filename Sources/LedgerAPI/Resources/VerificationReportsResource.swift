import Foundation
import LedgerDomain
import LedgerEngine
import LedgerHTTP
import LedgerStorage

/// `/v1/identity/verification_reports` (seed 001), wire-compatible with Stripe Identity: the same objects, list
/// envelope, filters and cursors (`starting_after`, `ending_before`), so Stripe's own client libraries, given this
/// service's base URL and a ledger key, work unchanged. Newest first, by `created` then id.
enum VerificationReportsResource {
    typealias P = APISchemas.P

    static let subObject = Schema.nullable(.anyObject)
    static let report = Schema.named("VerificationReport", .object([
        P("id", .string(.init(pattern: "^vr_")), required: true),
        P("object", .constant("identity.verification_report"), required: true),
        P("client_reference_id", APISchemas.optionalText, required: true),
        P("created", .integer(), required: true, description: "Unix seconds"),
        P("document", subObject, required: true), P("email", subObject, required: true), P("id_number", subObject, required: true),
        P("livemode", .boolean, required: true), P("options", .anyObject, required: true), P("phone", subObject, required: true),
        P("selfie", subObject, required: true), P("type", .choice(StripeReport.Kind.self), required: true),
        P("verification_flow", APISchemas.optionalText, required: true),
        P("verification_session", .string(.init(pattern: "^vs_")), required: true, description: "The verification, as vs_…"),
        APISchemas.personalDataErased,
    ]))

    static let url = "/v1/identity/verification_reports"

    /// What `StoredDocuments.open` reads after a report: each report is sealed on its own, bound to its id, under
    /// its verification's entity's key, which the report's row names (Schema/063).
    static let reportKeyColumns = StoredDocuments.keyColumns("v", id: "report_id")
    static let reportKeyJoin = StoredDocuments.keyJoin("v")
    static let reportID = APIParameters.id("id", "A report's id (vr_…)")
    /// Unix seconds from year 1 to 9999, as Stripe's `created` filters take them.
    static let unixSeconds = Schema.integer(minimum: -62_135_596_800, maximum: 253_402_300_799)

    static func created(_ bound: String, _ meaning: String) -> Parameter {
        .query("created[\(bound)]", unixSeconds, description: "Created \(meaning) this Unix second")
    }

    /// A text filter or cursor; Stripe refuses an empty one (parameter_invalid_empty) rather than ignoring it.
    static func text(_ name: String, _ description: String, maxLength: Int = 200) -> Parameter {
        .query(name, .text(minLength: 1, maxLength: maxLength), description: description)
    }
    /// `expand[]`, and `expand[0]` to `expand[9]` as Stripe's clients number it: accepted and ignored, nothing here expands.
    static let expand = (["expand[]"] + (0..<10).map { "expand[\($0)]" }).map {
        Parameter.query($0, .text(maxLength: 200), description: "Accepted and ignored: nothing here expands")
    }

    static let operations: [APIOperation] = [
        .api("GET", "/v1/identity/verification_reports/{id}", id: "getVerificationReport",
             summary: "A verification report (Stripe Identity's object); with as_of, as the log had it then", scope: .read,
             parameters: [reportID] + expand + [.query("as_of", .dateTime, description: "Fold the history up to this time (RFC 3339)")],
             responses: [APIResponses.ok("The report", report)], wording: StripeErrors.worded,
             .read { context in
                 let caller = try context.authenticated
                 let id = context.request.parameter("id")
                 let missing = StripeErrors.missing("verification report", id, param: "id")
                 guard let verificationID = StripeReportView.parseReportID(id)?.verificationID else { throw missing }
                 if let asOf = context.request.queryValue("as_of").flatMap(Timestamp.parse) {
                     guard let loaded = try context.pool.withConnection({
                         try VerificationStore.load($0, organizationID: caller.organizationID, id: verificationID, asOf: asOf, vault: context.engine.vault)
                     }), loaded.state.invitation?.livemode == caller.livemode,
                           let found = StripeReportView.reports(verificationID: verificationID, state: loaded.state).first(where: { $0.id == id })
                     else { throw missing }
                     return .json(200, found.object)
                 }
                 let documents = try context.pool.withConnection {
                     try StoredDocuments.open($0.query("""
                         SELECT v.document::text, \(reportKeyColumns) FROM ledger.verification_reports v \(reportKeyJoin)
                         WHERE v.organization_id = $1 AND v.id = $2 AND v.report_id = $3 AND v.livemode = $4
                         """, [caller.organizationID, verificationID, id, caller.livemode]),
                         kind: SealedDocumentKind.verificationReport, organizationID: caller.organizationID, vault: context.engine.vault)
                 }
                 guard let document = documents.first else { throw missing }
                 return .json(200, encoded: Array(document.utf8))
             }),

        .api("GET", "/v1/identity/verification_reports", id: "listVerificationReports",
             summary: "Verification reports, newest first (Stripe Identity's list)",
             description: "Refusals in Stripe's codes and words: parameter_invalid_integer, parameter_invalid_empty (no parameter "
                + "takes an empty value), parameter_unknown, parameters_exclusive (starting_after and ending_before together); "
                + "a cursor that names no report of the caller's is 404 resource_missing naming it.",
             scope: .read,
             parameters: [
                 text("client_reference_id", "Only with this reference"),
                 .query("created", unixSeconds, description: "Created at exactly this Unix second"),
                 created("gte", "at or after"), created("gt", "after"), created("lte", "at or before"), created("lt", "before"),
                 APIParameters.filter("type", .choice(StripeReport.Kind.self), "Only of this type"),
                 text("verification_session", "Only of this verification (vs_…)"),
                 APIParameters.limit,
                 text("starting_after", "The id of the last object of the previous page (older ones follow)", maxLength: 100),
                 text("ending_before", "The id of the first object of the previous page (newer ones follow)", maxLength: 100),
             ] + expand,
             responses: [APIResponses.ok("A page of reports", APISchemas.list("VerificationReportList", of: report),
                                         links: [APIResponses.get("getVerificationReport", id: "/data/0/id")]),
                         APIResponses.notFound],
             wording: StripeErrors.worded,
             .read { context in
                 let caller = try context.authenticated
                 let request = context.request
                 let query = ListQuery(request)
                 let endingBefore = ListQuery.filter(request, "ending_before")
                 // Stripe's cursors are ids of reports the caller can see; another id is not found, naming the cursor.
                 func cursor(_ name: String, _ id: String?) throws -> (String, String)? {
                     guard let id else { return nil }
                     let unknown = StripeErrors.missing("verification report", id, param: name)
                     guard let verificationID = StripeReportView.parseReportID(id)?.verificationID else { throw unknown }
                     return (verificationID, id)
                 }
                 let after = try cursor("starting_after", query.startingAfter), before = try cursor("ending_before", endingBefore)
                 guard after == nil || before == nil else { throw StripeErrors.exclusive(["ending_before", "starting_after"]) }
                 let session = ListQuery.filter(request, "verification_session").map { StripeReportView.verificationID(sessionID: $0) ?? "" }
                 func seconds(_ name: String) -> Double? { ListQuery.time(request, name)?.timeIntervalSince1970 }
                 let rows = try context.pool.withConnection { connection -> PostgresRows in
                     var cursorCreated: Int64?
                     for (name, key) in [("starting_after", after), ("ending_before", before)] {
                         guard let (verificationID, id) = key else { continue }
                         let found = try connection.query("""
                             SELECT created FROM ledger.verification_reports
                             WHERE organization_id = $1 AND id = $2 AND report_id = $3 AND livemode = $4
                             """, [caller.organizationID, verificationID, id, caller.livemode])
                         guard let created = found.int64(0, 0) else { throw StripeErrors.missing("verification report", id, param: name) }
                         cursorCreated = created
                     }
                     // A keyset page of `verification_reports_list`: newest first, or (before a cursor) oldest first
                     // from it, so that the index gives the order. Only the filters given are in the statement: its
                     // planning is most of what a page costs PostgreSQL.
                     var conditions = ["v.organization_id = $1", "v.livemode = $2"]
                     var parameters: [(any PostgresEncodable)?] = [caller.organizationID, caller.livemode]
                     func narrow(_ condition: String, _ value: (any PostgresEncodable)?) {
                         guard let value else { return }
                         parameters.append(value)
                         conditions.append(condition.replacingOccurrences(of: "$?", with: "$\(parameters.count)"))
                     }
                     narrow("v.client_reference_id = $?", ListQuery.filter(request, "client_reference_id"))
                     narrow("v.id = $?", session)
                     narrow("v.type = $?", request.queryValue("type"))
                     narrow("v.created = $?::bigint", request.queryValue("created").flatMap { Int64($0) })
                     for (bound, comparison) in [("gte", ">="), ("gt", ">"), ("lte", "<="), ("lt", "<")] {
                         narrow("v.created \(comparison) $?::float8", seconds("created[\(bound)]"))
                     }
                     let newer = before != nil
                     if let cursorCreated, let cursorID = (after ?? before)?.1 {
                         parameters += [cursorCreated, cursorID]
                         conditions.append("(v.created, v.report_id) \(newer ? ">" : "<") ($\(parameters.count - 1)::bigint, $\(parameters.count)::text)")
                     }
                     parameters.append(query.limit + 1)
                     // The page is cut first and only its rows are joined to their keys (see `StoredDocuments.keyJoin`).
                     let order = newer ? " ORDER BY v.created ASC, v.report_id ASC" : " ORDER BY v.created DESC, v.report_id DESC"
                     return try connection.query("SELECT v.document::text, \(reportKeyColumns) FROM (SELECT * FROM ledger.verification_reports v WHERE "
                         + conditions.joined(separator: " AND ") + order + " LIMIT $\(parameters.count)) v \(reportKeyJoin)" + order, parameters)
                 }
                 let documents = try StoredDocuments.open(rows, kind: SealedDocumentKind.verificationReport,
                                                         organizationID: caller.organizationID, vault: context.engine.vault)
                 // Before a cursor, the page is the `limit` reports nearest to it, shown newest first like every page.
                 if before != nil {
                     return ListQuery.storedPage(documents.prefix(query.limit).reversed(), hasMore: documents.count > query.limit, url: url)
                 }
                 return query.page(stored: documents, url: url)
             }),
    ]
}
