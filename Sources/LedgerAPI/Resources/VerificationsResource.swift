import Foundation
import LedgerCrypto
import LedgerDomain
import LedgerEngine
import LedgerHTTP
import LedgerStorage
import LedgerWebhooks

/// `/v1/verifications`: the invite, reads (with `as_of`), the event history, and every lifecycle command.
enum VerificationsResource {
    static let verificationID = APIParameters.id("id", "A verification's id (ver_…)")
    static let etagged = [APIResponses.etag]

    static func operations(configuration: APIConfiguration) -> [APIOperation] {
        let clock = configuration.clock, newID = configuration.newID
        // From a new verification to its reads and to every command on it that needs no other id.
        let verificationLinks = ["getVerification", "listVerificationEvents", "getOrder", "startAttempt", "recordResult", "assignScore",
                                 "setCustomScore", "openDispute", "overrideStatus", "withdrawVerification", "updateMetadata"]
            .map { APIResponses.get($0) }
        return [
            .api("POST", "/v1/verifications", id: "createVerification", summary: "Invite: open a verification",
                 description: "expires_at must be in the future; postback_url must be https in live mode and, unless the server allows "
                    + "private addresses, resolve to a public one (else 400).",
                 scope: .write, body: invitationSchema,
                 responses: [APIResponses.created("The verification", APISchemas.verification, headers: etagged, links: verificationLinks)],
                 .engineCommand { context, transaction in
                     // Parsed before the transaction: checking postback_url resolves its host, which may take long
                     // and must not hold a pooled connection meanwhile.
                     let caller = try context.authenticated
                     let now = clock()
                     var invitation = try parseInvitation(context.body, livemode: caller.livemode, now: now,
                                                          policy: configuration.webhookPolicy)
                     invitation.validFor = configuration.validity.validitySeconds
                     return try context.engine.execute({
                         try commandRequest(context, id: newID("ver"), command: .invite(invitation), now: now)
                     }, inTransaction: transaction.run) { outcome, _ in
                         verificationResponse(outcome.verification, status: 201)
                     }
                 }),

            .api("GET", "/v1/verifications", id: "listVerifications", summary: "Verifications, newest first", scope: .read,
                 parameters: [
                     APIParameters.filter("entity_id", "Only this entity's"),
                     APIParameters.filter("status", .choice(OverallStatus.self), "Only in this overall status"),
                     APIParameters.filter("client_reference_id", "Only with this reference"),
                     APIParameters.limit, APIParameters.startingAfter,
                 ],
                 responses: [APIResponses.ok("A page of verifications", APISchemas.list("VerificationList", of: APISchemas.verification),
                                             links: [APIResponses.get("getVerification", id: "/data/0/id")])],
                 .read { context in
                     let caller = try context.authenticated
                     let request = context.request
                     return try ListQuery(request).page(of: "verifications", kind: "verification", [
                         .equals(column: "entity_id", ListQuery.filter(request, "entity_id")), .equals(column: "status", request.queryValue("status")),
                         .equals(column: "client_reference_id", ListQuery.filter(request, "client_reference_id")),
                     ], caller: caller, pool: context.pool, vault: context.engine.vault, url: "/v1/verifications")
                 }),

            .api("GET", "/v1/verifications/{id}", id: "getVerification", summary: "A verification; with as_of, as it was then",
                 scope: .read,
                 parameters: [verificationID,
                              .query("as_of", .dateTime, description: "Fold the history up to this time (RFC 3339)")],
                 responses: [APIResponses.ok("The verification", APISchemas.verification, headers: etagged)],
                 .read { context in
                     let caller = try context.authenticated
                     let id = context.request.parameter("id")
                     if let asOf = context.request.queryValue("as_of").flatMap(Timestamp.parse) {
                         guard let loaded = try context.pool.withConnection({
                             try VerificationStore.load($0, organizationID: caller.organizationID, id: id, asOf: asOf, vault: context.engine.vault)
                         }), loaded.state.invitation?.livemode == caller.livemode else {
                             throw APIFailure.notFound("verification", id)
                         }
                         return verificationResponse(loaded, status: 200)
                     }
                     let rows = try context.pool.withConnection {
                         try $0.query("""
                             SELECT v.document::text, \(StoredDocuments.keyColumns("v")), v.version FROM ledger.verifications v \(StoredDocuments.keyJoin("v"))
                             WHERE v.organization_id = $1 AND v.id = $2 AND v.livemode = $3
                             """, [caller.organizationID, id, caller.livemode])
                     }
                     guard let document = try StoredDocuments.open(rows, kind: "verification", organizationID: caller.organizationID,
                                                                   vault: context.engine.vault).first,
                           let version = rows.int64(0, 5) else { throw APIFailure.notFound("verification", id) }
                     return .json(200, encoded: Array(document.utf8), headers: [("ETag", "\"\(version)\"")])
                 }),

            .api("GET", "/v1/verifications/{id}/events", id: "listVerificationEvents",
                 summary: "A verification's events, oldest first", scope: .read,
                 parameters: [verificationID,
                              .query("limit", .integer(minimum: 1, maximum: 100), description: "1 to 100, default 100"),
                              .query("starting_after", .uuid, description: "The id of the last event of the previous page (404 if "
                                + "it is not one of this verification's)")],
                 responses: [APIResponses.ok("A page of events", APISchemas.list("EventList", of: APISchemas.event))],
                 .read { context in
                     let caller = try context.authenticated
                     let id = context.request.parameter("id")
                     let query = ListQuery(context.request, defaultLimit: 100)
                     let vault = context.engine.vault
                     let events = try context.pool.withConnection { connection -> [RecordedEvent] in
                         let owned = try connection.query("SELECT entity_id FROM ledger.verifications WHERE organization_id = $1 AND id = $2 AND livemode = $3",
                                                          [caller.organizationID, id, caller.livemode])
                         guard owned.count == 1, let entity = owned.string(0, 0) else { throw APIFailure.notFound("verification", id) }
                         let after = try query.startingAfter.map { try eventVersion(connection, organizationID: caller.organizationID, streamID: id, eventID: $0) } ?? 0
                         let stored = try EventStore.readStreamPage(connection, organizationID: caller.organizationID, streamID: id,
                                                                    afterVersion: after, limit: query.limit + 1)
                         guard let vault else { return stored }
                         let owner = DataKeyOwner(organizationID: caller.organizationID, entityID: entity)
                         let key = try vault.key(connection, owner, livemode: caller.livemode)
                         return try stored.map { event in
                             var shown = event
                             shown.data = try vault.open(eventType: event.type, stored: event.data, eventID: event.id, owner: owner, key: key)
                             return shown
                         }
                     }
                     return query.page(events.map(eventJSON), url: "/v1/verifications/\(id)/events")
                 }),

            // Commands: each loads the stream, lets the decider decide, appends, and answers with the result.
            command("/v1/verifications/{id}/attempts", id: "startAttempt", summary: "Start an attempt (closes an open one as terminated)",
                    body: [.init("expires_in", .integer(minimum: 60, maximum: 86_400), description: "Seconds the capture link lives, default 900")],
                    clock: clock, answer: .latestAttempt) { body, _ in
                let seconds = body.value("expires_in")?.intValue ?? 900
                let attemptID = newID("att")
                return .startAttempt(attemptID: attemptID, url: configuration.captureBaseURL + attemptID,
                                     expiresAt: clock().addingTimeInterval(Double(seconds)))
            },
            command("/v1/verifications/{id}/attempts/{attempt_id}/progress", id: "recordAttemptProgress", summary: "Record an attempt's progress",
                    extraParameters: [APIParameters.id("attempt_id", "An attempt of this verification (att_…)")],
                    body: [.init("status", .choice(AttemptStatus.self), required: true)], clock: clock, answer: .attempt) { body, request in
                .recordProgress(attemptID: request.parameter("attempt_id"), status: try body.requiredChoice("status", AttemptStatus.self))
            },
            command("/v1/verifications/{id}/results", id: "recordResult", summary: "Record a check's result", body: resultMembers,
                    clock: clock, answer: .verification) { body, _ in
                .recordResult(try parseResult(body))
            },
            command("/v1/verifications/{id}/score", id: "assignScore", summary: "A reviewer's score (completes the order)",
                    body: [.init("score", .choice(OrderScore.self), required: true), .init("reason", reason, required: true)],
                    clock: clock, answer: .verification) { body, _ in
                .assignScore(try body.requiredChoice("score", OrderScore.self), reason: try body.requiredString("reason"))
            },
            command("/v1/verifications/{id}/custom_scores", id: "setCustomScore", summary: "Set a custom score",
                    body: [.init("name", .text(minLength: 1, maxLength: CustomScore.maxNameLength), required: true),
                           .init("value", APISchemas.customScoreValue, required: true), .init("reason", .text(maxLength: 500))],
                    clock: clock, answer: .verification) { body, _ in
                guard let value = body.value("value") else { throw APIFailure.missing("value") }
                return .setCustomScore(name: try body.requiredString("name"), value: value, reason: body.string("reason"))
            },
            command("/v1/verifications/{id}/disputes", id: "openDispute", summary: "Open a dispute",
                    body: [.init("reason", reason, required: true)], clock: clock, answer: .latestDispute) { body, _ in
                .openDispute(disputeID: newID("dsp"), reason: try body.requiredString("reason"))
            },
            command("/v1/verifications/{id}/disputes/{dispute_id}/resolve", id: "resolveDispute", summary: "Resolve a dispute",
                    extraParameters: [APIParameters.id("dispute_id", "A dispute of this verification (dsp_…)")],
                    body: [.init("outcome", .choice(DisputeOutcome.self), required: true), .init("score", .choice(OrderScore.self)),
                           .init("reason", reason, required: true)],
                    clock: clock, answer: .verification) { body, request in
                .resolveDispute(disputeID: request.parameter("dispute_id"), outcome: try body.requiredChoice("outcome", DisputeOutcome.self),
                                score: body.choice("score", OrderScore.self), reason: try body.requiredString("reason"))
            },
            command("/v1/verifications/{id}/override", id: "overrideStatus", summary: "Override the status (admin)", scope: .admin,
                    body: [.init("status", .choice(OverrideStatus.self), required: true), .init("reason", reason, required: true)],
                    clock: clock, answer: .verification) { body, _ in
                .override(try body.requiredChoice("status", OverrideStatus.self), reason: try body.requiredString("reason"))
            },
            command("/v1/verifications/{id}/withdraw", id: "withdrawVerification", summary: "Withdraw the verification",
                    body: [.init("reason", .text(maxLength: 500))], clock: clock, answer: .verification) { body, _ in
                .withdraw(reason: body.string("reason"))
            },
            command("/v1/verifications/{id}/metadata", id: "updateMetadata", summary: "Merge metadata (null removes a key)",
                    body: [.init("metadata", .map(values: .nullable(.text(maxLength: 500)), maxMembers: 50, maxKeyLength: 40), required: true)],
                    clock: clock, answer: .verification) { body, _ in
                var changes: [String: String?] = [:]
                for (key, value) in body.value("metadata")?.objectValue ?? [] { changes[key] = value.stringValue }
                return .updateMetadata(changes)
            },
        ]
    }

    static let reason = Schema.text(minLength: 1, maxLength: 500)

    enum Answer { case verification, latestAttempt, attempt, latestDispute }

    /// A POST command on one verification: read the body into a command, run it, answer with the verification
    /// or the sub-object it made or changed.
    static func command(_ template: String, id: String, summary: String, scope: Scope = .write, extraParameters: [Parameter] = [],
                        body members: [Schema.Property], clock: @escaping @Sendable () -> Date, answer: Answer,
                        parse: @escaping @Sendable (RequestBody, HTTPRequest) throws -> VerificationCommand) -> APIOperation {
        let success: Response
        switch answer {
        case .verification:
            success = APIResponses.ok("The verification after the command", APISchemas.verification, headers: etagged,
                                      links: [APIResponses.get("getVerification")])
        case .latestAttempt:
            success = APIResponses.created("The new attempt", APISchemas.attempt, headers: etagged, links: [
                .init("recordAttemptProgress", operationID: "recordAttemptProgress",
                      parameters: [("id", "$request.path.id"), ("attempt_id", "$response.body#/id")]),
            ])
        case .attempt:
            success = APIResponses.ok("The attempt after the command", APISchemas.attempt, headers: etagged)
        case .latestDispute:
            success = APIResponses.created("The new dispute", APISchemas.dispute, headers: etagged, links: [
                .init("resolveDispute", operationID: "resolveDispute",
                      parameters: [("id", "$request.path.id"), ("dispute_id", "$response.body#/id")]),
            ])
        }
        return .api("POST", template, id: id, summary: summary,
                    description: "409 invalid_transition when the verification's state does not allow it; 400 for a value the "
                        + "state makes invalid.",
                    scope: scope, parameters: [verificationID] + extraParameters + [APIParameters.ifMatch], body: .object(members),
                    responses: [success], .engineCommand { context, transaction in
            try context.engine.execute({
                let command = try parse(context.body, context.request)
                return try commandRequest(context, id: context.request.parameter("id"), command: command, now: clock())
            }, inTransaction: transaction.run) { outcome, _ in
                try response(outcome.verification, answer: answer, context.request)
            }
        })
    }

    /// The command as the engine takes it: who asks, in which mode, at which version (`If-Match`).
    static func commandRequest(_ context: RequestContext, id: String, command: VerificationCommand, now: Date) throws -> CommandRequest {
        let caller = try context.authenticated
        return CommandRequest(organizationID: caller.organizationID, livemode: caller.livemode, streamID: id, command: command,
                              expectedVersion: try ifMatch(context.request), actor: actor(context), now: now)
    }

    /// `If-Match: "3"` (or 3, or W/"3"); nil when absent or `*` (any version, as RFC 9110 has it).
    static func ifMatch(_ request: HTTPRequest) throws -> Int64? {
        guard let header = request.header("If-Match"), header.trimmingCharacters(in: .whitespaces) != "*" else { return nil }
        var text = Substring(header.trimmingCharacters(in: .whitespaces))
        if text.hasPrefix("W/") { text = text.dropFirst(2) }
        if text.count >= 2, text.hasPrefix("\""), text.hasSuffix("\"") { text = text.dropFirst().dropLast() }
        // Digits only (no sign), and Int64's failable parse: a version too large for it is refused, not wrapped.
        guard !text.isEmpty, text.utf8.allSatisfy({ (48...57).contains($0) }), let version = Int64(text) else {
            throw APIFailure.invalid("If-Match", "If-Match takes the ETag of a read, a version number like \"3\"")
        }
        return version
    }

    /// The verification after a command, or the sub-object the route answers with.
    static func response(_ loaded: LoadedVerification, answer: Answer, _ request: HTTPRequest) throws -> HTTPResponse {
        let etag = ("ETag", "\"\(loaded.version)\"")
        switch answer {
        case .verification:
            return verificationResponse(loaded, status: 200)
        case .latestAttempt:
            guard let attempt = loaded.state.attempts.last else { return verificationResponse(loaded, status: 200) }
            return .json(201, VerificationView.attempt(attempt, verificationID: loaded.id), headers: [etag])
        case .attempt:
            let attemptID = request.parameter("attempt_id")
            guard let attempt = loaded.state.attempts.first(where: { $0.id == attemptID }) else {
                throw APIFailure.notFound("attempt", attemptID, param: "attempt_id")
            }
            return .json(200, VerificationView.attempt(attempt, verificationID: loaded.id), headers: [etag])
        case .latestDispute:
            guard let dispute = loaded.state.disputes.last else { return verificationResponse(loaded, status: 200) }
            return .json(201, VerificationView.dispute(dispute), headers: [etag])
        }
    }

    static func verificationResponse(_ loaded: LoadedVerification, status: Int) -> HTTPResponse {
        let etag = ("ETag", "\"\(loaded.version)\"")
        guard let document = loaded.document else {
            return .json(status, PersonalDataMarker.marking(VerificationView.object(id: loaded.id, state: loaded.state, version: loaded.version),
                                                            loaded.state), headers: [etag])
        }
        return .json(status, encoded: Array(document.utf8), headers: [etag])
    }

    static func actor(_ context: RequestContext) -> EventMetadata {
        EventMetadata(actorID: context.caller?.keyID ?? "anonymous", actorType: .apiKey, requestID: context.request.requestID,
                      idempotencyKey: context.request.header("Idempotency-Key"), correlationID: context.request.requestID)
    }

    /// The version of the event `starting_after` names, which must be one of this stream's (404 otherwise, as
    /// for any id that names nothing).
    static func eventVersion(_ connection: PostgresConnection, organizationID: UUID, streamID: String, eventID: String) throws -> Int64 {
        let refused = APIFailure.notFound("event of this verification", eventID, param: "starting_after")
        guard let uuid = UUID(uuidString: eventID) else { throw refused }
        let rows = try connection.query("SELECT version FROM ledger.events WHERE organization_id = $1 AND stream_id = $2 AND event_id = $3",
                                        [organizationID, streamID, uuid])
        guard let version = rows.int64(0, 0) else { throw refused }
        return version
    }

    static func eventJSON(_ event: RecordedEvent) -> JSONValue {
        .object([
            ("id", .string(event.id.uuidString.lowercased())),
            ("object", "event"),
            ("type", .string(event.type)),
            ("schema_version", .int(Int64(event.schemaVersion))),
            ("version", .int(event.version)),
            ("position", .int(event.position)),
            ("occurred_at", .string(Timestamp.rfc3339(event.occurredAt))),
            ("data", event.data),
            ("metadata", event.metadata.json),
            ("hash", .string(event.hash.hexString)),
        ])
    }

    // MARK: bodies

    static let invitationSchema = Schema.object([
        .init("entity_id", .text(minLength: 1, maxLength: 200), required: true, description: "Whom the verification is about"),
        .init("entity_type", .choice(EntityType.self), description: "Default person"),
        .init("verification_type", .choice(VerificationType.self), description: "Default kyc"),
        .init("client_reference_id", .text(maxLength: 200)),
        .init("package_id", .text(maxLength: 200)),
        .init("checks", .array(of: .choice(CheckType.self), minItems: 1, maxItems: CheckType.allCases.count, unique: true), required: true),
        .init("provider", .choice(["sandbox"]), description: "Default sandbox"),
        .init("applicant", .object([
            .init("first_name", .text(maxLength: 200)), .init("last_name", .text(maxLength: 200)),
            .init("email", .text(maxLength: 320)), .init("address", .text(maxLength: 500)),
        ])),
        .init("metadata", .map(values: .text(maxLength: 500), maxMembers: 50, maxKeyLength: 40)),
        .init("postback_url", WebhookEndpointsResource.url, description: "Where this verification's webhooks also go"),
        .init("postback_events", .array(of: .choice(WebhookEventType.verificationEvents.map(\.rawValue)),
                                        maxItems: WebhookEventType.verificationEvents.count),
              description: "Events of this verification (LEDGER_CHECKPOINT is the log's: subscribe a webhook endpoint to it)"),
        .init("expires_at", .dateTime, description: "In the future; default 7 days from now"),
    ])

    static func parseInvitation(_ body: RequestBody, livemode: Bool, now: Date, policy: WebhookURLPolicy) throws -> Invitation {
        var expiresAt = now.addingTimeInterval(7 * 86_400)
        if let date = body.string("expires_at").flatMap(Timestamp.parse) {
            guard date > now else { throw APIFailure.invalid("expires_at", "expires_at must be in the future") }
            expiresAt = date
        }
        let applicant = body.object("applicant").map {
            Applicant(firstName: $0.string("first_name"), lastName: $0.string("last_name"), email: $0.string("email"),
                      address: $0.string("address"))
        } ?? Applicant()
        var metadata: [String: String] = [:]
        for (key, value) in body.value("metadata")?.objectValue ?? [] { metadata[key] = value.stringValue }
        let postbackURL = try body.string("postback_url").map {
            try policy.check($0, livemode: livemode, param: "postback_url")
        }
        return Invitation(entityID: try body.requiredString("entity_id"),
                          entityType: body.choice("entity_type", EntityType.self) ?? .person,
                          verificationType: body.choice("verification_type", VerificationType.self) ?? .kyc,
                          clientReferenceID: body.string("client_reference_id"),
                          packageID: body.string("package_id"),
                          checks: (body.stringList("checks") ?? []).compactMap(CheckType.init(rawValue:)),
                          provider: body.string("provider") ?? "sandbox",
                          applicant: applicant, metadata: metadata, postbackURL: postbackURL,
                          postbackEvents: body.stringList("postback_events") ?? [],
                          expiresAt: expiresAt, livemode: livemode)
    }

    static let resultMembers: [Schema.Property] = [
        .init("check", .choice(CheckType.self), required: true),
        .init("status", .choice(CheckStatus.resultStatuses.map(\.rawValue)), required: true),
        .init("response_codes", .array(of: .anyOf([
            responseCode,
            .object([.init("code", responseCode, required: true), .init("summary", .text(maxLength: 200))]),
        ]), maxItems: 50), description: "Codes of shared/reference/check-codes.md: integers, or {code, summary}"),
        .init("signals", .object([
            .init("document_authenticity", .choice(SignalOutcome.self)), .init("face_match", .choice(SignalOutcome.self)),
            .init("liveness", .choice(SignalOutcome.self)), .init("aml", .choice(AMLOutcome.self)),
        ])),
        .init("extracted_data", .object([
            .init("first_name", .text(maxLength: 200)), .init("last_name", .text(maxLength: 200)),
            .init("date_of_birth", .text(maxLength: 10)), .init("address", .text(maxLength: 500)),
            .init("document", .object([
                .init("type", .text(maxLength: 60)), .init("number", .text(maxLength: 100)),
                .init("issuing_country", .text(maxLength: 3)), .init("issue_date", .text(maxLength: 10)),
                .init("expiry_date", .text(maxLength: 10)),
            ])),
        ])),
        .init("risk_labels", .array(of: .text(maxLength: 60), maxItems: 20)),
        .init("provider_reference", .text(maxLength: 200)),
        .init("raw", .any, description: "The provider's own payload, kept as sent"),
        .init("attempt_id", .text(maxLength: 100)),
    ]

    static let responseCode = Schema.integer(minimum: 0, maximum: Int64(Int32.max))

    static func parseResult(_ body: RequestBody) throws -> CheckResult {
        let codes = (body.value("response_codes")?.arrayValue ?? []).compactMap { item -> ResponseCode? in
            if let code = item.intValue { return ResponseCode(code: Int(code)) }
            guard let code = item["code"]?.intValue else { return nil }
            return ResponseCode(code: Int(code), summary: item["summary"]?.stringValue)
        }
        let signals = body.object("signals").map {
            Signals(documentAuthenticity: $0.choice("document_authenticity", SignalOutcome.self),
                    faceMatch: $0.choice("face_match", SignalOutcome.self), liveness: $0.choice("liveness", SignalOutcome.self),
                    aml: $0.choice("aml", AMLOutcome.self))
        } ?? Signals()
        let extracted = body.object("extracted_data").map { object in
            ExtractedData(firstName: object.string("first_name"), lastName: object.string("last_name"),
                          dateOfBirth: object.string("date_of_birth"), address: object.string("address"),
                          document: object.object("document").map {
                              ExtractedData.Document(type: $0.string("type"), number: $0.string("number"),
                                                     issuingCountry: $0.string("issuing_country"), issueDate: $0.string("issue_date"),
                                                     expiryDate: $0.string("expiry_date"))
                          })
        }
        return CheckResult(check: try body.requiredChoice("check", CheckType.self), status: try body.requiredChoice("status", CheckStatus.self),
                           responseCodes: codes, signals: signals, extractedData: extracted,
                           riskLabels: body.stringList("risk_labels") ?? [], providerReference: body.string("provider_reference"),
                           raw: body.value("raw"), attemptID: body.string("attempt_id"))
    }
}
