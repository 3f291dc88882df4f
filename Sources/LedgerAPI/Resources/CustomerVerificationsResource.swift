import Foundation
import LedgerCrypto
import LedgerDomain
import LedgerEngine
import LedgerHTTP
import LedgerStorage

/// `/v1/customer_verifications` (seed 003): a verification of one check for a customer, run by its provider.
/// Objects come wrapped in `{"data": …}`; lists are `{"data": [...], "next_cursor": id or null}`, newest first,
/// the cursor being the id of the page's last object.
enum CustomerVerificationsResource {
    static let statuses = ["pending", "verified", "failed", "expired"]

    static let object = Schema.named("CustomerVerification", .object([
        APISchemas.P("actor_id", APISchemas.optionalText, required: true,
                     description: "Who made the latest decision on the status (an API key, the provider, the scheduler): not changed by a metadata update"),
        APISchemas.P("check_type", APISchemas.text, required: true),
        APISchemas.P("created_at", APISchemas.time, required: true),
        APISchemas.P("customer_id", APISchemas.text, required: true),
        APISchemas.P("expires_at", APISchemas.optionalTime, required: true),
        APISchemas.P("id", APISchemas.text, required: true),
        APISchemas.P("last_checked_at", APISchemas.optionalTime, required: true),
        APISchemas.P("organization_id", .uuid, required: true),
        APISchemas.P("provider", APISchemas.text, required: true),
        APISchemas.P("provider_reference", APISchemas.optionalText, required: true),
        APISchemas.P("reason", APISchemas.optionalText, required: true),
        APISchemas.P("result_payload", .any, required: true),
        APISchemas.P("status", .choice(statuses), required: true),
        APISchemas.P("updated_at", APISchemas.time, required: true),
        APISchemas.P("verification_type", .choice(VerificationType.self), required: true),
        APISchemas.P("verified_at", APISchemas.optionalTime, required: true),
        APISchemas.personalDataErased,
    ]))
    static let wrapped = Schema.named("CustomerVerificationData", .object([APISchemas.P("data", object, required: true)]))
    static let page = Schema.named("CustomerVerificationList", .object([
        APISchemas.P("data", .array(of: object), required: true),
        APISchemas.P("next_cursor", APISchemas.optionalText, required: true, description: "Pass as cursor for the next page; null on the last"),
    ]))

    /// Seed 003's status overrides, as the ledger's.
    static let overrides: [String: OverrideStatus] = ["verified": .approved, "failed": .declined, "expired": .expired]

    static let id = APIParameters.id("id", "A customer verification's id (ver_…, its verification's)")

    static func operations(configuration: APIConfiguration) -> [APIOperation] {
        let clock = configuration.clock, newID = configuration.newID
        return [
            .api("GET", "/v1/customer_verifications", id: "listCustomerVerifications", summary: "Customer verifications, newest first",
                 scope: .read,
                 parameters: [
                     APIParameters.filter("customer_id", "Only this customer's"),
                     APIParameters.filter("status", .choice(statuses), "Only in this status"),
                     APIParameters.filter("verification_type", .choice(VerificationType.self), "Only of this type"),
                     .query("occurred_after", .dateTime, description: "Created at or after this time (RFC 3339)"),
                     .query("occurred_before", .dateTime, description: "Created before this time (RFC 3339)"),
                     APIParameters.limit,
                     .query("cursor", .text(maxLength: 100), description: "next_cursor of the previous page"),
                 ],
                 responses: [APIResponses.ok("A page of customer verifications", page)],
                 .read { context in
                     let caller = try context.authenticated
                     let request = context.request
                     let query = ListQuery(request, cursor: "cursor")
                     let rows = try query.rows(of: "customer_verifications", [
                         .equals(column: "customer_id", ListQuery.filter(request, "customer_id")),
                         .equals(column: "status", request.queryValue("status")),
                         .equals(column: "verification_type", request.queryValue("verification_type")),
                         .created(.gte, ListQuery.time(request, "occurred_after")), .created(.lt, ListQuery.time(request, "occurred_before")),
                     ], entity: "customer_id", also: [decisionActor("t")], caller: caller, pool: context.pool)
                     let documents = try withActors(rows, organizationID: caller.organizationID, vault: context.engine.vault)
                     let shown = documents.prefix(query.limit)
                     let next: JSONValue = documents.count > query.limit ? ViewJSON.text(shown.last?.id) : .null
                     var body = Array(#"{"data":"#.utf8)
                     ListQuery.appendArray(of: shown.map(\.document), to: &body)
                     body += Array(#","next_cursor":"#.utf8) + Array(next.jsonString.utf8) + Array("}".utf8)
                     return .json(200, encoded: body)
                 }),

            .api("POST", "/v1/customer_verifications", id: "createCustomerVerification",
                 summary: "Start a verification of one check for a customer; its provider runs it",
                 description: "Answers with the verification as created (pending); the provider (sandbox: see the README's magic "
                    + "values) then records its steps as events of the provider actor, each with its webhooks.",
                 scope: .write,
                 body: .object([
                     .init("check_type", .choice(CheckType.self), required: true),
                     .init("customer_id", .text(minLength: 1, maxLength: 200), required: true),
                     .init("provider", .choice(["sandbox"]), description: "Default sandbox"),
                     .init("verification_type", .choice(VerificationType.self), description: "Default kyc"),
                 ]),
                 responses: [APIResponses.created("The customer verification", wrapped,
                                                  links: [APIResponses.get("getCustomerVerification", id: "/data/id")])],
                 .engineCommand { context, transaction in
                     let caller = try context.authenticated
                     let id = newID("ver")
                     let response = try context.engine.execute({
                         let body = context.body
                         let now = clock()
                         let invitation = Invitation(
                             entityID: try body.requiredString("customer_id"),
                             verificationType: body.choice("verification_type", VerificationType.self) ?? .kyc,
                             checks: [try body.requiredChoice("check_type", CheckType.self)],
                             provider: body.string("provider") ?? "sandbox", expiresAt: now.addingTimeInterval(7 * 86_400),
                             livemode: caller.livemode, validFor: configuration.validity.validitySeconds)
                         return try VerificationsResource.commandRequest(context, id: id, command: .invite(invitation), now: now)
                     }, inTransaction: transaction.run) { outcome, _ in
                         HTTPResponse.json(201, ["data": CustomerVerificationView.object(
                             id: outcome.verification.id, organizationID: caller.organizationID.uuidString.lowercased(),
                             actorID: caller.keyID, state: outcome.verification.state)])
                     }
                     // Not for an idempotent replay (its run was started the first time) nor a refusal.
                     if response.status == 201, response.header("Idempotent-Replayed") == nil {
                         context.providers.start(organizationID: caller.organizationID, livemode: caller.livemode, verificationID: id)
                     }
                     return response
                 }),

            .api("GET", "/v1/customer_verifications/{id}", id: "getCustomerVerification", summary: "A customer verification; with as_of, as it was then",
                 scope: .read,
                 parameters: [id, .query("as_of", .dateTime, description: "Fold the history up to this time (RFC 3339)")],
                 responses: [APIResponses.ok("The customer verification", wrapped)],
                 .read { context in
                     let caller = try context.authenticated
                     let id = context.request.parameter("id")
                     if let asOf = context.request.queryValue("as_of").flatMap(Timestamp.parse) {
                         let (loaded, actor) = try context.pool.withConnection { connection -> (LoadedVerification?, String?) in
                             guard let loaded = try VerificationStore.load(connection, organizationID: caller.organizationID, id: id, asOf: asOf,
                                                                           vault: context.engine.vault) else { return (nil, nil) }
                             return (loaded, try actorID(connection, organizationID: caller.organizationID, id: id,
                                                         version: loaded.state.statusDecisionVersion))
                         }
                         guard let loaded, loaded.state.invitation?.livemode == caller.livemode else {
                             throw APIFailure.notFound("customer verification", id)
                         }
                         return .json(200, ["data": CustomerVerificationView.object(
                             id: id, organizationID: caller.organizationID.uuidString.lowercased(), actorID: actor, state: loaded.state)])
                     }
                     return try wrappedDocument(context, id: id)
                 }),

            .api("PATCH", "/v1/customer_verifications/{id}", id: "updateCustomerVerificationStatus",
                 summary: "Admin override: set the status to verified, failed or expired, with a reason", scope: .admin,
                 parameters: [id],
                 body: .object([
                     .init("status", .choice(Array(overrides.keys).sorted()), required: true),
                     .init("reason", VerificationsResource.reason, required: true),
                 ]),
                 responses: [APIResponses.ok("The customer verification after the override", wrapped)],
                 .engineCommand { context, transaction in
                     let caller = try context.authenticated
                     let id = context.request.parameter("id")
                     return try context.engine.execute({
                         let status = try context.body.requiredString("status")
                         guard let override = overrides[status] else { throw APIFailure.invalid("status", "status is verified, failed or expired") }
                         return try VerificationsResource.commandRequest(
                             context, id: id, command: .override(override, reason: try context.body.requiredString("reason")), now: clock())
                     }, inTransaction: transaction.run) { outcome, tx in
                         // The override decided the status unless it changed nothing; then the decision is an earlier event's.
                         let state = outcome.verification.state
                         let decidedNow = state.statusDecisionVersion > outcome.verification.version - Int64(outcome.events.count)
                         let actor = decidedNow ? caller.keyID
                             : try actorID(tx, organizationID: caller.organizationID, id: id, version: state.statusDecisionVersion)
                         return HTTPResponse.json(200, ["data": CustomerVerificationView.object(
                             id: id, organizationID: caller.organizationID.uuidString.lowercased(), actorID: actor, state: state)])
                     }
                 }),
        ]
    }

    /// The actor of the event that last decided the status (`VerificationState.statusDecisionVersion`), beside the
    /// stored document (which leaves `actor_id` null), of the row under `alias`.
    static func decisionActor(_ alias: String) -> String {
        """
        (SELECT e.metadata->>'actor_id' FROM ledger.events e
         WHERE e.organization_id = \(alias).organization_id AND e.stream_id = \(alias).id AND e.version = \(alias).status_version)
        """
    }

    /// The actor of one event of the verification's stream.
    static func actorID(_ connection: PostgresConnection, organizationID: UUID, id: String, version: Int64) throws -> String? {
        try connection.query("""
            SELECT metadata->>'actor_id' FROM ledger.events WHERE organization_id = $1 AND stream_id = $2 AND version = $3
            """, [organizationID, id, version]).string(0, 0)
    }

    /// The documents of rows (document, `StoredDocuments.keyColumns` with the customer as the entity, actor), opened,
    /// with `actor_id` filled in, by row id.
    static func withActors(_ rows: PostgresRows, organizationID: UUID, vault: PersonalDataVault?) throws -> [(id: String, document: String)] {
        try (0..<rows.count).compactMap { row in
            guard let stored = rows.string(row, 0), let id = rows.string(row, 4) else { return nil }
            var document = stored
            if let vault, let entity = rows.string(row, 1) {
                let owner = DataKeyOwner(organizationID: organizationID, entityID: entity)
                document = try vault.openDocument(stored, documentID: PersonalDataVault.documentID(kind: SealedDocumentKind.customerVerification, streamID: id),
                                                  owner: owner, key: try vault.key(owner, wrapped: rows.bytes(row, 2), erased: rows.bool(row, 3) ?? false))
            }
            return withActor(document, rows.string(row, 5)).map { (id, $0) }
        }
    }

    /// How the projection's documents begin: `actor_id` first and null (`CustomerVerificationsProjection`).
    static let unfilledActor = #"{"actor_id":null,"#

    /// The document with its actor: spliced in where the projection left it null, else (any other text) parsed.
    static func withActor(_ document: String, _ actor: String?) -> String? {
        if document.hasPrefix(unfilledActor) {
            return #"{"actor_id":"# + ViewJSON.text(actor).jsonString + "," + document.dropFirst(unfilledActor.count)
        }
        guard case let .object(members)? = try? JSONValue.parse(Array(document.utf8), maxDepth: 512) else { return nil }
        return JSONValue.object(members.map { $0.0 == "actor_id" ? ($0.0, ViewJSON.text(actor)) : $0 }).jsonString
    }

    /// `{"data": document}` around a document's text, unparsed.
    static func wrapped(_ document: String) -> HTTPResponse {
        .json(200, encoded: Array(#"{"data":"#.utf8) + document.utf8 + Array("}".utf8))
    }

    static func wrappedDocument(_ context: RequestContext, id: String) throws -> HTTPResponse {
        let caller = try context.authenticated
        let rows = try context.pool.withConnection {
            try $0.query("""
                SELECT c.document::text, \(StoredDocuments.keyColumns("c", entity: "customer_id")), \(decisionActor("c"))
                FROM ledger.customer_verifications c \(StoredDocuments.keyJoin("c", entity: "customer_id"))
                WHERE c.organization_id = $1 AND c.id = $2 AND c.livemode = $3
                """, [caller.organizationID, id, caller.livemode])
        }
        guard let document = try withActors(rows, organizationID: caller.organizationID, vault: context.engine.vault).first else { throw APIFailure.notFound("customer verification", id) }
        return wrapped(document.document)
    }
}
