import Foundation
import LedgerDomain
import LedgerEngine
import LedgerHTTP
import LedgerStorage

/// Seed 004, in its source's camelCase: a verification seen as a validation, an entity's validations and its
/// KYC status, and sync (the provider read again; what the log lacks recorded as events).
enum ValidationsResource {
    typealias P = APISchemas.P

    static let check = Schema.nullable(.choice(SignalOutcome.self))
    static let validation = Schema.named("Validation", .object([
        P("id", APISchemas.text, required: true), P("entityId", APISchemas.text, required: true),
        P("entityType", .choice(EntityType.self), required: true), P("verificationType", .choice(VerificationType.self), required: true),
        P("clientReferenceId", APISchemas.optionalText, required: true), P("provider", APISchemas.text, required: true),
        P("status", .choice(["pending", "in_progress", "approved", "rejected", "expired", "abandoned"]), required: true),
        P("decision", .nullable(.object([
            P("documentAuthenticity", check, required: true), P("faceMatch", check, required: true),
            P("liveness", check, required: true), P("aml", .nullable(.choice(AMLOutcome.self)), required: true),
            P("responseCodes", .array(of: APISchemas.responseCode), required: true),
            P("extractedData", .nullable(.object([
                P("firstName", APISchemas.optionalText, required: true), P("lastName", APISchemas.optionalText, required: true),
                P("dateOfBirth", APISchemas.optionalText, required: true), P("address", APISchemas.optionalText, required: true),
                P("document", .nullable(.object([
                    P("type", APISchemas.optionalText, required: true), P("number", APISchemas.optionalText, required: true),
                    P("issuingCountry", APISchemas.optionalText, required: true), P("issueDate", APISchemas.optionalText, required: true),
                    P("expiryDate", APISchemas.optionalText, required: true),
                ])), required: true),
            ])), required: true),
        ])), required: true, description: "Only when approved or rejected"),
        P("livemode", .boolean, required: true), P("createdAt", APISchemas.time, required: true),
        P("updatedAt", APISchemas.time, required: true), P("verifiedAt", APISchemas.optionalTime, required: true),
        P("expiresAt", APISchemas.optionalTime, required: true),
        APISchemas.personalDataErased,
    ]))
    static let kycStatus = Schema.named("KycStatus", .object([
        P("verified", .boolean, required: true), P("status", APISchemas.text, required: true),
        P("verifiedAt", APISchemas.optionalTime, required: true), P("expiresAt", APISchemas.optionalTime, required: true),
        P("needsReverification", .boolean, required: true), P("currentValidationId", APISchemas.optionalText, required: true),
    ]))
    static let page = Schema.named("ValidationList", .object([
        P("data", .array(of: validation), required: true), P("hasMore", .boolean, required: true),
        P("nextCursor", APISchemas.optionalText, required: true, description: "Pass as cursor for the next page; null on the last"),
    ]))
    static let sync = Schema.named("ValidationSync", .object([
        P("validation", validation, required: true), P("changed", .boolean, required: true),
        P("previousStatus", APISchemas.text, required: true), P("status", APISchemas.text, required: true),
        P("recordedEvents", .array(of: APISchemas.text), required: true, description: "The types of the events the sync appended"),
        P("waitingFor", .nullable(.choice(["deadline", "nothing"])), required: true,
          description: "deadline: the provider's next step is the verification's expiry, which the scheduler records"),
    ]))

    static let id = APIParameters.id("id", "A validation's id (ver_…, its verification's)")
    static let entityID = APIParameters.id("entity_id", "The entity (the invite's entity_id)")

    static func operations(configuration: APIConfiguration) -> [APIOperation] {
        let clock = configuration.clock, policy = configuration.validity
        return [
            .api("GET", "/v1/validations/{id}", id: "getValidation", summary: "A validation; with as_of, as it was then", scope: .read,
                 parameters: [id, APIParameters.asOf], responses: [APIResponses.ok("The validation", validation)],
                 .read { context in
                     let caller = try context.authenticated
                     let id = context.request.parameter("id")
                     if let at = context.request.queryValue("as_of").flatMap(Timestamp.parse) {
                         guard let loaded = try context.pool.withConnection({
                             try VerificationStore.load($0, organizationID: caller.organizationID, id: id, asOf: at, vault: context.engine.vault)
                         }), loaded.state.invitation?.livemode == caller.livemode else { throw APIFailure.notFound("validation", id) }
                         return .json(200, ValidationView.object(id: id, state: loaded.state))
                     }
                     let documents = try context.pool.withConnection {
                         try StoredDocuments.open($0.query("""
                             SELECT v.document::text, \(StoredDocuments.keyColumns("v")) FROM ledger.validations v \(StoredDocuments.keyJoin("v"))
                             WHERE v.organization_id = $1 AND v.id = $2 AND v.livemode = $3
                             """, [caller.organizationID, id, caller.livemode]),
                             kind: SealedDocumentKind.validation, organizationID: caller.organizationID, vault: context.engine.vault)
                     }
                     guard let document = documents.first else { throw APIFailure.notFound("validation", id) }
                     return .json(200, encoded: Array(document.utf8))
                 }),

            .api("GET", "/v1/entities/{entity_id}/validations/current", id: "getCurrentValidation",
                 summary: "The entity's current validation (404 if it has none)", scope: .read, parameters: [entityID, APIParameters.asOf],
                 responses: [APIResponses.ok("The current validation", validation)],
                 .read { context in
                     let entity = context.request.parameter("entity_id")
                     let (validations, at) = try entityValidations(context, clock: clock)
                     guard let current = KYCStatus.of(validations, at: at, policy: policy).currentValidationID,
                           let state = validations.first(where: { $0.id == current })?.state else {
                         throw APIFailure.notFound("current validation of entity", entity, param: "entity_id")
                     }
                     return .json(200, ValidationView.object(id: current, state: state))
                 }),

            .api("GET", "/v1/entities/{entity_id}/kyc-status", id: "getKycStatus", summary: "The entity's KYC status", scope: .read,
                 parameters: [entityID, APIParameters.asOf], responses: [APIResponses.ok("The KYC status", kycStatus)],
                 .read { context in
                     let entity = context.request.parameter("entity_id")
                     // Now, from the projection's rows and the clock; at an earlier moment, from the streams folded to it.
                     if context.request.queryValue("as_of").flatMap(Timestamp.parse) == nil {
                         let validations = try entityKYCValidations(context)
                         guard !validations.isEmpty else { throw APIFailure.notFound("entity", entity, param: "entity_id") }
                         return .json(200, KYCStatus.of(validations: validations, at: clock(), policy: policy).object)
                     }
                     let (validations, at) = try entityValidations(context, clock: clock)
                     guard !validations.isEmpty else { throw APIFailure.notFound("entity", entity, param: "entity_id") }
                     return .json(200, KYCStatus.of(validations, at: at, policy: policy).object)
                 }),

            .api("GET", "/v1/entities/{entity_id}/validations", id: "listEntityValidations",
                 summary: "Every validation of the entity, newest first (404 if it has none)", scope: .read,
                 parameters: [entityID, APIParameters.limit,
                              .query("cursor", .text(maxLength: 100), description: "nextCursor of the previous page")],
                 responses: [APIResponses.ok("A page of validations", page)],
                 .read { context in
                     let caller = try context.authenticated
                     let request = context.request
                     let query = ListQuery(request, cursor: "cursor")
                     let documents = try query.documents(of: "validations", kind: SealedDocumentKind.validation,
                                                         [.equals(column: "entity_id", request.parameter("entity_id"))],
                                                         caller: caller, pool: context.pool, vault: context.engine.vault)
                     // An entity is known by its validations: one with none in this mode is not found, as for the KYC status.
                     if documents.isEmpty, query.startingAfter == nil {
                         throw APIFailure.notFound("entity", request.parameter("entity_id"), param: "entity_id")
                     }
                     let shown = Array(documents.prefix(query.limit))
                     let more = documents.count > query.limit
                     return .json(200, .object([("data", .array(shown)), ("hasMore", .bool(more)),
                                                ("nextCursor", more ? (shown.last?["id"] ?? .null) : .null)]))
                 }),

            .api("POST", "/v1/validations/{id}/sync", id: "syncValidation",
                 summary: "Read the provider again and record what the log lacks",
                 description: "Every step the provider has taken is recorded once (a step already in the log is not recorded again), "
                    + "so a repeated sync records nothing and needs no Idempotency-Key; the answer says which events this sync appended.",
                 scope: .write, parameters: [id],
                 responses: [APIResponses.ok("What the sync found", sync)],
                 .read { context in
                     let caller = try context.authenticated
                     let id = context.request.parameter("id")
                     let before = try context.pool.withConnection {
                         try VerificationStore.load($0, organizationID: caller.organizationID, id: id, vault: context.engine.vault)
                     }
                     guard let before, before.state.invitation?.livemode == caller.livemode else { throw APIFailure.notFound("validation", id) }
                     let run = try context.providers.run(organizationID: caller.organizationID, livemode: caller.livemode, verificationID: id)
                     let after = run?.verification ?? before
                     let waiting: JSONValue
                     switch run?.stoppedAt {
                     case .deadline?: waiting = "deadline"
                     case .refused?, nil: waiting = after.state.isTerminal || run == nil ? .null : "nothing"
                     }
                     return .json(200, .object([
                         ("validation", ValidationView.object(id: id, state: after.state)),
                         ("changed", .bool(!(run?.eventTypes.isEmpty ?? true))),
                         ("previousStatus", .string(ValidationView.status(before.state))),
                         ("status", .string(ValidationView.status(after.state))),
                         ("recordedEvents", .array((run?.eventTypes ?? []).map(JSONValue.string))),
                         ("waitingFor", waiting),
                     ]))
                 }),
        ]
    }

    /// What the KYC status needs of each of the entity's validations, as the validations projection holds it.
    static func entityKYCValidations(_ context: RequestContext) throws -> [KYCValidation] {
        let caller = try context.authenticated
        let rows = try context.pool.withConnection {
            try $0.query("""
                SELECT id, created_at, status, approved_at, valid_for, approval_cut_short_at FROM ledger.validations
                WHERE organization_id = $1 AND livemode = $2 AND entity_id = $3
                ORDER BY created_at DESC, id DESC LIMIT 1000
                """, [caller.organizationID, caller.livemode, context.request.parameter("entity_id")])
        }
        return try (0..<rows.count).map { row in
            guard let id = rows.string(row, 0), let created = rows.date(row, 1), let status = rows.string(row, 2) else {
                throw StorageError.unreadableRow(table: "validations", key: rows.string(row, 0) ?? "?")
            }
            return KYCValidation(id: id, createdAt: created, status: status, approvedAt: rows.date(row, 3), validFor: rows.int64(row, 4),
                                 approvalCutShortAt: rows.date(row, 5))
        }
    }

    /// The entity's validations (folded up to `as_of` when given) and the moment the status is for.
    static func entityValidations(_ context: RequestContext,
                                  clock: @Sendable () -> Date) throws -> ([(id: String, state: VerificationState)], Date) {
        let caller = try context.authenticated
        let entity = context.request.parameter("entity_id")
        let asOf = context.request.queryValue("as_of").flatMap(Timestamp.parse)
        let validations = try context.pool.withConnection { connection -> [(id: String, state: VerificationState)] in
            let rows = try connection.query("""
                SELECT id FROM ledger.validations
                WHERE organization_id = $1 AND livemode = $2 AND entity_id = $3 AND ($4::timestamptz IS NULL OR created_at <= $4)
                ORDER BY created_at DESC, id DESC LIMIT 1000
                """, [caller.organizationID, caller.livemode, entity, asOf])
            return try (0..<rows.count).compactMap { row in
                guard let id = rows.string(row, 0),
                      let loaded = try VerificationStore.load(connection, organizationID: caller.organizationID, id: id, asOf: asOf, vault: context.engine.vault) else { return nil }
                return (id, loaded.state)
            }
        }
        return (validations, asOf ?? clock())
    }
}
