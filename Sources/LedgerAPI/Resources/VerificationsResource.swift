import Foundation
import LedgerCrypto
import LedgerDomain
import LedgerEngine
import LedgerHTTP
import LedgerStorage
import LedgerWebhooks

/// `/v1/verifications`: the invite, reads (with `as_of`), the event history, and every lifecycle command.
enum VerificationsResource {
    static func register(on router: inout Router<Endpoint>, configuration: APIConfiguration, engine: CommandEngine) {
        let clock = configuration.clock, newID = configuration.newID

        router.add("POST", "/v1/verifications", .engineCommand(.scope(.write)) { context, transaction in
            try engine.execute({
                let caller = try context.authenticated
                let now = clock()
                let invitation = try parseInvitation(context, livemode: caller.livemode, now: now,
                                                     allowPrivateWebhooks: configuration.allowPrivateWebhooks)
                return try commandRequest(context, id: newID("ver"), command: .invite(invitation), now: now)
            }, inTransaction: transaction.run) { outcome, _ in
                verificationResponse(outcome.verification, status: 201)
            }
        })

        router.add("GET", "/v1/verifications", .read(.scope(.read)) { context in
            let caller = try context.authenticated
            let query = try ListQuery(context.request)
            let request = context.request
            if let status = request.queryValue("status"), OverallStatus(rawValue: status) == nil {
                throw APIFailure.invalid("status", "status must be one of \(OverallStatus.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let rows = try context.pool.withConnection { connection in
                try connection.query("""
                    SELECT v.document::text FROM ledger.verifications v
                    WHERE v.organization_id = $1 AND v.livemode = $2
                      AND ($3::text IS NULL OR v.entity_id = $3)
                      AND ($4::text IS NULL OR v.status = $4)
                      AND ($5::text IS NULL OR v.client_reference_id = $5)
                      AND ($6::text IS NULL OR (v.created_at, v.id) < (
                          SELECT c.created_at, c.id FROM ledger.verifications c WHERE c.organization_id = $1 AND c.id = $6))
                    ORDER BY v.created_at DESC, v.id DESC
                    LIMIT $7
                    """, [caller.organizationID, caller.livemode, request.queryValue("entity_id"), request.queryValue("status"),
                          request.queryValue("client_reference_id"), query.startingAfter, query.limit + 1])
            }
            return query.page(documents(rows), url: "/v1/verifications")
        })

        router.add("GET", "/v1/verifications/{id}", .read(.scope(.read)) { context in
            let caller = try context.authenticated
            let id = context.request.parameter("id")
            if let asOfText = context.request.queryValue("as_of") {
                guard let asOf = Timestamp.parse(asOfText) else { throw APIFailure.invalid("as_of", "as_of takes an RFC 3339 time") }
                guard let loaded = try context.pool.withConnection({
                    try VerificationStore.load($0, organizationID: caller.organizationID, id: id, asOf: asOf)
                }), loaded.state.invitation?.livemode == caller.livemode else {
                    throw APIFailure.notFound("verification", id)
                }
                return verificationResponse(loaded, status: 200)
            }
            let rows = try context.pool.withConnection {
                try $0.query("SELECT document::text, version FROM ledger.verifications WHERE organization_id = $1 AND id = $2 AND livemode = $3",
                             [caller.organizationID, id, caller.livemode])
            }
            guard let document = rows.string(0, 0), let version = rows.int64(0, 1) else { throw APIFailure.notFound("verification", id) }
            return HTTPResponse(status: 200, headers: [("Content-Type", "application/json"), ("ETag", "\"\(version)\"")],
                                body: Array(document.utf8))
        })

        router.add("GET", "/v1/verifications/{id}/events", .read(.scope(.read)) { context in
            let caller = try context.authenticated
            let id = context.request.parameter("id")
            let query = try ListQuery(context.request, defaultLimit: 100)
            let events = try context.pool.withConnection { connection -> [RecordedEvent] in
                let owned = try connection.query("SELECT 1 FROM ledger.verifications WHERE organization_id = $1 AND id = $2 AND livemode = $3",
                                                 [caller.organizationID, id, caller.livemode])
                guard owned.count == 1 else { throw APIFailure.notFound("verification", id) }
                let after = try query.startingAfter.map { try eventVersion(connection, organizationID: caller.organizationID, streamID: id, eventID: $0) } ?? 0
                return try EventStore.readStreamPage(connection, organizationID: caller.organizationID, streamID: id,
                                                     afterVersion: after, limit: query.limit + 1)
            }
            return query.page(events.map(eventJSON), url: "/v1/verifications/\(id)/events")
        })

        // Commands: each loads the stream, lets the decider decide, appends, and answers with the result.
        command(&router, engine: engine, "/v1/verifications/{id}/attempts", clock: clock, allowed: ["expires_in"], answer: .latestAttempt) { body, _ in
            let seconds = try body.value("expires_in").map { value -> Int64 in
                guard let seconds = value.intValue, (60...86_400).contains(seconds) else {
                    throw APIFailure.invalid("expires_in", "expires_in is 60 to 86400 seconds")
                }
                return seconds
            } ?? 900
            let attemptID = newID("att")
            return .startAttempt(attemptID: attemptID, url: configuration.captureBaseURL + attemptID,
                                 expiresAt: clock().addingTimeInterval(Double(seconds)))
        }
        command(&router, engine: engine, "/v1/verifications/{id}/attempts/{attempt_id}/progress", clock: clock, allowed: ["status"], answer: .attempt) { body, request in
            .recordProgress(attemptID: request.parameter("attempt_id"), status: try body.choice("status", AttemptStatus.self, required: true) ?? .captureInProgress)
        }
        command(&router, engine: engine, "/v1/verifications/{id}/results", clock: clock,
                allowed: ["check", "status", "response_codes", "signals", "extracted_data", "risk_labels", "provider_reference", "raw", "attempt_id"],
                answer: .verification) { body, _ in
            .recordResult(try parseResult(body))
        }
        command(&router, engine: engine, "/v1/verifications/{id}/score", clock: clock, allowed: ["score", "reason"], answer: .verification) { body, _ in
            .assignScore(try body.choice("score", OrderScore.self, required: true) ?? .pending, reason: try body.requiredString("reason"))
        }
        command(&router, engine: engine, "/v1/verifications/{id}/custom_scores", clock: clock, allowed: ["name", "value", "reason"], answer: .verification) { body, _ in
            .setCustomScore(name: try body.requiredString("name", maxLength: 40), value: try body.requiredString("value", maxLength: 100),
                            reason: try body.string("reason"))
        }
        command(&router, engine: engine, "/v1/verifications/{id}/disputes", clock: clock, allowed: ["reason"], answer: .latestDispute) { body, _ in
            .openDispute(disputeID: newID("dsp"), reason: try body.requiredString("reason"))
        }
        command(&router, engine: engine, "/v1/verifications/{id}/disputes/{dispute_id}/resolve", clock: clock, allowed: ["outcome", "score", "reason"],
                answer: .verification) { body, request in
            .resolveDispute(disputeID: request.parameter("dispute_id"),
                            outcome: try body.choice("outcome", DisputeOutcome.self, required: true) ?? .upheld,
                            score: try body.choice("score", OrderScore.self), reason: try body.requiredString("reason"))
        }
        command(&router, engine: engine, "/v1/verifications/{id}/override", scope: .admin, clock: clock, allowed: ["status", "reason"], answer: .verification) { body, _ in
            .override(try body.choice("status", OverrideStatus.self, required: true) ?? .declined, reason: try body.requiredString("reason"))
        }
        command(&router, engine: engine, "/v1/verifications/{id}/withdraw", clock: clock, allowed: ["reason"], answer: .verification) { body, _ in
            .withdraw(reason: try body.string("reason"))
        }
        command(&router, engine: engine, "/v1/verifications/{id}/metadata", clock: clock, allowed: ["metadata"], answer: .verification) { body, _ in
            guard let members = body.value("metadata")?.objectValue else {
                throw APIFailure.invalid("metadata", "metadata must be an object of strings (null removes a key)")
            }
            var changes: [String: String?] = [:]
            for (key, value) in members {
                switch value {
                case .null: changes[key] = .some(nil)
                case let .string(text): changes[key] = text
                default: throw APIFailure.invalid("metadata[\(key)]", "metadata values are strings, or null to remove")
                }
            }
            return .updateMetadata(changes)
        }
    }

    enum Answer { case verification, latestAttempt, attempt, latestDispute }

    /// A POST command route: parse the body into a command, run it, answer with the verification or sub-object.
    static func command(_ router: inout Router<Endpoint>, engine: CommandEngine, _ template: String, scope: Scope = .write,
                        clock: @escaping @Sendable () -> Date, allowed: Set<String>, answer: Answer,
                        parse: @escaping @Sendable (RequestBody, HTTPRequest) throws -> VerificationCommand) {
        router.add("POST", template, .engineCommand(.scope(scope)) { context, transaction in
            try engine.execute({
                let command = try parse(try context.body(allowed: allowed), context.request)
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

    /// `If-Match: "3"` (or 3, or W/"3"); nil when absent.
    static func ifMatch(_ request: HTTPRequest) throws -> Int64? {
        guard let header = request.header("If-Match") else { return nil }
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
            return .json(status, VerificationView.object(id: loaded.id, state: loaded.state, version: loaded.version), headers: [etag])
        }
        return HTTPResponse(status: status, headers: [("Content-Type", "application/json"), etag], body: Array(document.utf8))
    }

    static func actor(_ context: RequestContext) -> EventMetadata {
        EventMetadata(actorID: context.caller?.keyID ?? "anonymous", actorType: .apiKey, requestID: context.request.requestID,
                      idempotencyKey: context.request.header("Idempotency-Key"), correlationID: context.request.requestID)
    }

    static func documents(_ rows: PostgresRows) -> [JSONValue] {
        (0..<rows.count).compactMap { rows.string($0, 0).flatMap { try? JSONValue.parse(Array($0.utf8), maxDepth: 512) } }
    }

    /// The version of the event `starting_after` names, which must be one of this stream's.
    static func eventVersion(_ connection: PostgresConnection, organizationID: UUID, streamID: String, eventID: String) throws -> Int64 {
        let refused = APIFailure.invalid("starting_after", "starting_after takes the id of one of this verification's events")
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

    static func parseInvitation(_ context: RequestContext, livemode: Bool, now: Date, allowPrivateWebhooks: Bool) throws -> Invitation {
        let body = try context.body(allowed: ["entity_id", "entity_type", "verification_type", "client_reference_id", "package_id",
                                              "checks", "provider", "applicant", "metadata", "postback_url", "postback_events", "expires_at"])
        let checkNames = try body.stringList("checks", required: true, maxCount: CheckType.allCases.count, maxLength: 40) ?? []
        guard !checkNames.isEmpty else { throw APIFailure.invalid("checks", "checks must name at least one check") }
        let checks = try checkNames.enumerated().map { index, name in
            guard let check = CheckType(rawValue: name) else {
                throw APIFailure.invalid("checks[\(index)]", "checks[\(index)] must be one of \(CheckType.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return check
        }
        let provider = try body.string("provider", maxLength: 40) ?? "sandbox"
        guard provider == "sandbox" else { throw APIFailure.invalid("provider", "the only provider is sandbox") }
        var expiresAt = now.addingTimeInterval(7 * 86_400)
        if let text = try body.string("expires_at", maxLength: 40) {
            guard let date = Timestamp.parse(text) else { throw APIFailure.invalid("expires_at", "expires_at takes an RFC 3339 time") }
            guard date > now else { throw APIFailure.invalid("expires_at", "expires_at must be in the future") }
            expiresAt = date
        }
        var applicant = Applicant()
        if let object = try body.object("applicant", allowed: ["first_name", "last_name", "email", "address"]) {
            applicant = Applicant(firstName: try object.string("first_name", maxLength: 200), lastName: try object.string("last_name", maxLength: 200),
                                  email: try object.string("email", maxLength: 320), address: try object.string("address", maxLength: 500))
        }
        var metadata: [String: String] = [:]
        if let members = body.value("metadata").map({ $0.objectValue }) {
            guard let members else { throw APIFailure.invalid("metadata", "metadata must be an object of strings") }
            for (key, value) in members {
                guard let text = value.stringValue else { throw APIFailure.invalid("metadata[\(key)]", "metadata values are strings") }
                metadata[key] = text
            }
        }
        let postbackURL = try body.string("postback_url", maxLength: 2048).map {
            try WebhookURLPolicy(allowPrivate: allowPrivateWebhooks).check($0, livemode: livemode, param: "postback_url")
        }
        let postbackEvents = try body.stringList("postback_events", maxCount: WebhookEventType.allCases.count, maxLength: 60) ?? []
        for (index, name) in postbackEvents.enumerated() where WebhookEventType(rawValue: name) == nil {
            throw APIFailure.invalid("postback_events[\(index)]", "postback_events[\(index)] must be one of \(WebhookEventType.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return Invitation(entityID: try body.requiredString("entity_id", maxLength: 200),
                          entityType: try body.choice("entity_type", EntityType.self) ?? .person,
                          verificationType: try body.choice("verification_type", VerificationType.self) ?? .kyc,
                          clientReferenceID: try body.string("client_reference_id", maxLength: 200),
                          packageID: try body.string("package_id", maxLength: 200), checks: checks, provider: provider,
                          applicant: applicant, metadata: metadata, postbackURL: postbackURL,
                          postbackEvents: postbackEvents,
                          expiresAt: expiresAt, livemode: livemode)
    }

    static func parseResult(_ body: RequestBody) throws -> CheckResult {
        let check = try body.choice("check", CheckType.self, required: true) ?? .document
        let status = try body.choice("status", CheckStatus.self, required: true) ?? .approved
        var codes: [ResponseCode] = []
        if let items = body.value("response_codes") {
            guard let list = items.arrayValue, list.count <= 50 else {
                throw APIFailure.invalid("response_codes", "response_codes is a list of at most 50 codes")
            }
            codes = try list.enumerated().map { index, item in
                if let code = item.intValue { return ResponseCode(code: Int(code)) }
                if let code = item["code"]?.intValue {
                    return ResponseCode(code: Int(code), summary: item["summary"]?.stringValue.map { String($0.prefix(200)) })
                }
                throw APIFailure.invalid("response_codes[\(index)]", "a response code is an integer or {code, summary}")
            }
        }
        var signals = Signals()
        if let object = try body.object("signals", allowed: ["document_authenticity", "face_match", "liveness", "aml"]) {
            signals = Signals(documentAuthenticity: try object.choice("document_authenticity", SignalOutcome.self),
                              faceMatch: try object.choice("face_match", SignalOutcome.self),
                              liveness: try object.choice("liveness", SignalOutcome.self),
                              aml: try object.choice("aml", AMLOutcome.self))
        }
        var extracted: ExtractedData?
        if let object = try body.object("extracted_data", allowed: ["first_name", "last_name", "date_of_birth", "address", "document"]) {
            var document: ExtractedData.Document?
            if let doc = try object.object("document", allowed: ["type", "number", "issuing_country", "issue_date", "expiry_date"]) {
                document = ExtractedData.Document(type: try doc.string("type", maxLength: 60), number: try doc.string("number", maxLength: 100),
                                                  issuingCountry: try doc.string("issuing_country", maxLength: 3),
                                                  issueDate: try doc.string("issue_date", maxLength: 10),
                                                  expiryDate: try doc.string("expiry_date", maxLength: 10))
            }
            extracted = ExtractedData(firstName: try object.string("first_name", maxLength: 200), lastName: try object.string("last_name", maxLength: 200),
                                      dateOfBirth: try object.string("date_of_birth", maxLength: 10), address: try object.string("address"),
                                      document: document)
        }
        return CheckResult(check: check, status: status, responseCodes: codes, signals: signals, extractedData: extracted,
                           riskLabels: try body.stringList("risk_labels", maxCount: 20, maxLength: 60) ?? [],
                           providerReference: try body.string("provider_reference", maxLength: 200),
                           raw: body.value("raw"), attemptID: try body.string("attempt_id", maxLength: 100))
    }
}
