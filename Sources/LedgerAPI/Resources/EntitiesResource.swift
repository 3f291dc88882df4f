import Foundation
import LedgerCrypto
import LedgerDomain
import LedgerEngine
import LedgerHTTP
import LedgerStorage

/// `/v1/entities/{entity_id}/…`: an entity's personal data (GDPR Art. 15 and 17): what is held, its erasure by
/// destroying the entity's data key, and the legal holds that block it. All in the caller's organization and mode.
enum EntitiesResource {
    static let entityID = Parameter.path("entity_id", .text(minLength: 1, maxLength: 200),
                                         description: "The client's id of the person or business (a verification's entity_id)")

    static let legalHold = Schema.named("LegalHold", .object([
        .init("reason", APISchemas.text, required: true), .init("placed_by", APISchemas.text, required: true),
        .init("placed_at", APISchemas.time, required: true),
    ]))

    static let erasure = Schema.named("EntityErasure", .object([
        .init("object", .constant("entity_erasure"), required: true), .init("entity_id", APISchemas.text, required: true),
        .init("livemode", .boolean, required: true), .init("erased_at", APISchemas.time, required: true),
        .init("verifications", .array(of: APISchemas.text), required: true, description: "The entity's verifications, each with a PersonalDataErased event"),
        .init("retention_until", APISchemas.optionalTime, required: true,
              description: "When the retention period ends (null: no verification of the entity has ended yet, or it has none)"),
    ]))

    static let holdState = Schema.named("EntityLegalHold", .object([
        .init("object", .constant("entity_legal_hold"), required: true), .init("entity_id", APISchemas.text, required: true),
        .init("livemode", .boolean, required: true), .init("legal_hold", .nullable(legalHold), required: true),
    ]))

    static let personalData = Schema.named("EntityPersonalData", .object([
        .init("object", .constant("entity_personal_data"), required: true), .init("entity_id", APISchemas.text, required: true),
        .init("livemode", .boolean, required: true),
        .init("personal_data", .choice(["held", "erased", "none"]), required: true),
        .init("erased_at", APISchemas.optionalTime, required: true), .init("legal_hold", .nullable(legalHold), required: true),
        .init("verifications", .array(of: .object([
            .init("id", APISchemas.text, required: true), .init("applicant", .any, required: true),
            .init("results", .array(of: .object([
                .init("check", APISchemas.text, required: true), .init("recorded_at", APISchemas.time, required: true),
                .init("extracted_data", .any, required: true), .init("raw", .any, required: true),
            ])), required: true),
        ])), required: true),
    ]))

    static let reasonBody = Schema.object([.init("reason", VerificationsResource.reason, required: true)])

    static func operations(configuration: APIConfiguration) -> [APIOperation] {
        let clock = configuration.clock, retentionYears = configuration.retentionYears
        return [
            .api("POST", "/v1/entities/{entity_id}/erase", id: "eraseEntity", summary: "Erase the entity's personal data (admin)",
                 description: "Destroys the entity's data key and appends a PersonalDataErased event to each of its verifications; every "
                    + "view then shows its personal fields as null with \"personal_data\": \"erased\". Idempotent. 409 legal_hold while "
                    + "the entity is held; 409 retention_period before LEDGER_RETENTION_YEARS (default 5) after its last verification "
                    + "ended, unless override_retention is true (recorded in the events).",
                 scope: .admin, parameters: [entityID],
                 body: .object([.init("reason", VerificationsResource.reason, required: true),
                                .init("override_retention", .boolean, description: "Erase before the retention period ends")]),
                 responses: [APIResponses.ok("The erasure", erasure)],
                 .command { context, tx in
                     try erase(context, tx, now: clock(), retentionYears: retentionYears)
                 }),
            .api("POST", "/v1/entities/{entity_id}/legal_hold", id: "placeLegalHold", summary: "Place a legal hold (admin)",
                 description: "While held, erasure answers 409 legal_hold. Appends a LegalHoldPlaced event (the reason; the admin's key as "
                    + "its actor) to each of the entity's verifications. Placing a hold on a held entity keeps the first one.",
                 scope: .admin, parameters: [entityID], body: reasonBody,
                 responses: [APIResponses.ok("The entity's hold", holdState)],
                 .command { context, tx in
                     let (caller, entity) = try owned(context, tx)
                     let reason = try context.body.requiredString("reason")
                     let rows = try tx.query("""
                         INSERT INTO ledger.legal_holds (organization_id, livemode, entity_id, reason, placed_by, placed_at)
                         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING 1
                         """, [caller.organizationID, caller.livemode, entity, reason, caller.keyID, clock()])
                     if rows.count == 1 { try recordHold(context, tx, caller, entity, .placeLegalHold(reason: reason), now: clock()) }
                     return .json(200, try holdJSON(tx, caller, entity))
                 }),
            .api("DELETE", "/v1/entities/{entity_id}/legal_hold", id: "liftLegalHold", summary: "Lift the legal hold (admin)",
                 description: "Appends a LegalHoldLifted event (the reason; the admin's key as its actor) to each of the entity's held verifications.",
                 scope: .admin, parameters: [entityID], body: reasonBody,
                 responses: [APIResponses.ok("The entity's hold (null now)", holdState)],
                 .command { context, tx in
                     let (caller, entity) = try owned(context, tx)
                     let reason = try context.body.requiredString("reason")
                     let rows = try tx.query("DELETE FROM ledger.legal_holds WHERE organization_id = $1 AND livemode = $2 AND entity_id = $3 RETURNING 1",
                                             [caller.organizationID, caller.livemode, entity])
                     if rows.count == 1 { try recordHold(context, tx, caller, entity, .liftLegalHold(reason: reason), now: clock()) }
                     return .json(200, try holdJSON(tx, caller, entity))
                 }),
            .api("GET", "/v1/entities/{entity_id}/personal_data", id: "getEntityPersonalData",
                 summary: "What is held about the entity, decrypted (admin; for a subject access request)", scope: .admin,
                 parameters: [entityID], responses: [APIResponses.ok("The entity's personal data", personalData)],
                 .read { context in
                     try context.pool.withConnection { connection in try personalDataJSON(context, connection) }
                 }),
        ]
    }

    /// The caller and the entity of the path, which must have a verification in the caller's organization and mode.
    static func owned(_ context: RequestContext, _ connection: PostgresConnection) throws -> (Caller, String) {
        let caller = try context.authenticated
        let entity = context.request.parameter("entity_id")
        let rows = try connection.query("SELECT 1 FROM ledger.verifications WHERE organization_id = $1 AND livemode = $2 AND entity_id = $3 LIMIT 1",
                                        [caller.organizationID, caller.livemode, entity])
        guard rows.count == 1 else { throw APIFailure.notFound("entity", entity, param: "entity_id") }
        return (caller, entity)
    }

    static func streams(_ connection: PostgresConnection, _ caller: Caller, _ entity: String) throws -> [String] {
        let rows = try connection.query("""
            SELECT id FROM ledger.verifications WHERE organization_id = $1 AND livemode = $2 AND entity_id = $3 ORDER BY created_at, id
            """, [caller.organizationID, caller.livemode, entity])
        return (0..<rows.count).compactMap { rows.string($0, 0) }
    }

    static func hold(_ connection: PostgresConnection, _ caller: Caller, _ entity: String) throws -> JSONValue {
        let rows = try connection.query("SELECT reason, placed_by, placed_at FROM ledger.legal_holds WHERE organization_id = $1 AND livemode = $2 AND entity_id = $3",
                                        [caller.organizationID, caller.livemode, entity])
        guard let reason = rows.string(0, 0), let placedBy = rows.string(0, 1), let placedAt = rows.date(0, 2) else { return .null }
        return ["reason": .string(reason), "placed_by": .string(placedBy), "placed_at": .string(Timestamp.rfc3339(placedAt))]
    }

    static func holdJSON(_ connection: PostgresConnection, _ caller: Caller, _ entity: String) throws -> JSONValue {
        ["object": "entity_legal_hold", "entity_id": .string(entity), "livemode": .bool(caller.livemode),
         "legal_hold": try hold(connection, caller, entity)]
    }

    /// A hold placed or lifted, as an event in each of the entity's streams (who: the caller's key, as the event's
    /// actor; when: its time; why: its reason), in the transaction that changes `legal_holds`, the entity's current hold.
    static func recordHold(_ context: RequestContext, _ tx: PostgresConnection, _ caller: Caller, _ entity: String,
                           _ command: VerificationCommand, now: Date) throws {
        let actor = VerificationsResource.actor(context)
        for id in try streams(tx, caller, entity) {
            // Read under the stream's lock (no cached state): the command shares the caller's transaction.
            _ = try context.engine.execute({
                CommandRequest(organizationID: caller.organizationID, livemode: caller.livemode, streamID: id, commands: [command],
                               actor: actor, now: now, rewritingReadModels: true)
            }, inTransaction: { body in try body(tx) }, answer: { outcome, _ in outcome })
        }
    }

    /// When the entity's records may be erased without an override: `years` after its last verification ended;
    /// nil while none has ended. A verification still running keeps the relationship going: `distantFuture`.
    static func retentionUntil(_ states: [VerificationState], years: Int) -> Date? {
        guard !states.isEmpty else { return nil }
        if states.contains(where: { !$0.overallStatus.isEnded }) { return .distantFuture }
        let endings = states.compactMap { $0.statusChanges.last(where: { $0.status.isEnded })?.at }
        guard let last = endings.max() else { return nil }
        return Calendar(identifier: .gregorian).date(byAdding: .year, value: years, to: last) ?? .distantFuture
    }

    static func erase(_ context: RequestContext, _ tx: PostgresConnection, now: Date, retentionYears: Int) throws -> HTTPResponse {
        let (caller, entity) = try owned(context, tx)
        guard let vault = context.engine.vault else {
            throw APIFailure(status: 409, type: "invalid_request_error", code: "personal_data_not_encrypted",
                             message: "personal data encryption is off on this server: there is no key to destroy", param: nil)
        }
        let reason = try context.body.requiredString("reason")
        let overrideRetention = context.body.bool("override_retention") ?? false
        if case let .object(held) = try hold(tx, caller, entity) {
            let since = held.first { $0.0 == "placed_at" }?.1.stringValue ?? "?"
            let why = held.first { $0.0 == "reason" }?.1.stringValue ?? "?"
            throw APIFailure(status: 409, type: "invalid_request_error", code: "legal_hold",
                             message: "entity \(entity) is under a legal hold placed at \(since) (\(why)); lift it first", param: nil)
        }
        let owner = DataKeyOwner(organizationID: caller.organizationID, entityID: entity)
        // Every stream of the entity, locked in turn, so that no command writes under the key being destroyed.
        let ids = try streams(tx, caller, entity)
        var states: [VerificationState] = []
        for id in ids {
            _ = try tx.query("SELECT 1 FROM ledger.streams WHERE organization_id = $1 AND stream_id = $2 FOR UPDATE", [caller.organizationID, id])
            if let loaded = try VerificationStore.load(tx, organizationID: caller.organizationID, id: id, vault: vault) { states.append(loaded.state) }
        }
        let retention = retentionUntil(states, years: retentionYears)
        let alreadyErased: Bool
        if case .erased = try vault.key(tx, owner, livemode: caller.livemode) { alreadyErased = true } else { alreadyErased = false }
        if !alreadyErased, let retention, now < retention, !overrideRetention {
            let until = retention == .distantFuture ? "a verification of the entity has not ended yet" : "its records are kept until \(Timestamp.rfc3339(retention))"
            throw APIFailure(status: 409, type: "invalid_request_error", code: "retention_period",
                             message: "entity \(entity) is within its retention period (\(retentionYears) years after its last verification "
                                + "ended): \(until); to erase now, send override_retention: true with the reason", param: "override_retention")
        }
        let erasedAt = try tx.query("""
            INSERT INTO ledger.data_keys (organization_id, livemode, entity_id, wrapped_key, erased_at) VALUES ($1, $2, $3, NULL, $4)
            ON CONFLICT (organization_id, livemode, entity_id)
            DO UPDATE SET wrapped_key = NULL, erased_at = coalesce(ledger.data_keys.erased_at, excluded.erased_at)
            RETURNING erased_at
            """, [caller.organizationID, caller.livemode, entity, now]).date(0, 0) ?? now
        vault.forget(owner, livemode: caller.livemode)
        tx.afterCommit { vault.forget(owner, livemode: caller.livemode) }
        let actor = VerificationsResource.actor(context)
        for id in ids where !alreadyErased {
            // Folded again under the destroyed key: the event, the read rows and what it queues hold no personal data.
            _ = try context.engine.execute({
                CommandRequest(organizationID: caller.organizationID, livemode: caller.livemode, streamID: id,
                               commands: [.erasePersonalData(reason: reason, overrideRetention: overrideRetention)],
                               actor: actor, now: now, rewritingReadModels: true)
            }, inTransaction: { body in try body(tx) }, answer: { outcome, _ in outcome })
        }
        // First the messages written in plain text (before encryption): the marking below would hide them from it.
        try plainTextWebhooksErased(tx, caller, ids)
        // Messages queued before the erasure go out without the personal data they were queued with, and marked erased
        // as every view of the entity now is, also an object that held none (a validation still pending).
        _ = try tx.query("""
            UPDATE ledger.outbox SET payload = jsonb_set(payload, '{data,object}',
                ((payload #> '{data,object}') - '\(PersonalDataEnvelope.member)') || jsonb_build_object('\(PersonalDataMarker.member)', '\(PersonalDataMarker.erased)'))
            WHERE organization_id = $1 AND livemode = $2 AND verification_id = ANY ($3::text[]) AND status <> 'delivered'
              AND NOT payload #> '{data,object}' ? '\(PersonalDataMarker.member)'
            """, [caller.organizationID, caller.livemode, PostgresArray(ids)])
        try ReplayPersonalData.erasedInPlainText(tx, caller, entity: entity)
        return .json(200, [
            "object": "entity_erasure", "entity_id": .string(entity), "livemode": .bool(caller.livemode),
            "erased_at": .string(Timestamp.rfc3339(erasedAt)), "verifications": .array(ids.map(JSONValue.string)),
            "retention_until": retention.flatMap { $0 == .distantFuture ? nil : JSONValue.string(Timestamp.rfc3339($0)) } ?? .null,
        ])
    }

    /// The entity's messages queued in plain text (before personal data was encrypted), rewritten without their
    /// object's personal data: those still to be sent go out without it, and those sent no longer keep it. Sealed ones
    /// had their sealed part stripped above, or (sent) are unreadable without the key.
    static func plainTextWebhooksErased(_ tx: PostgresConnection, _ caller: Caller, _ ids: [String]) throws {
        let rows = try tx.query("""
            SELECT id, payload::text FROM ledger.outbox
            WHERE organization_id = $1 AND livemode = $2 AND verification_id = ANY ($3::text[])
              AND NOT coalesce(payload #> '{data,object}' ?| ARRAY['\(PersonalDataEnvelope.member)', '\(PersonalDataMarker.member)'], false)
            """, [caller.organizationID, caller.livemode, PostgresArray(ids)])
        for row in 0..<rows.count {
            guard let id = rows.int64(row, 0), let text = rows.string(row, 1),
                  case var .object(payload)? = try? JSONValue.parse(Array(text.utf8), maxDepth: 512),
                  let dataIndex = payload.firstIndex(where: { $0.0 == "data" }), case var .object(data) = payload[dataIndex].1,
                  let objectIndex = data.firstIndex(where: { $0.0 == "object" }),
                  let erased = PersonalDataPolicy.erased(renderedObject: data[objectIndex].1,
                                                         kind: payload.first { $0.0 == "type" }?.1.stringValue
                                                             .flatMap(WebhookEventType.init(rawValue:))?.object.rawValue) else { continue }
            data[objectIndex].1 = erased
            payload[dataIndex].1 = .object(data)
            _ = try tx.query("UPDATE ledger.outbox SET payload = $2::text::jsonb WHERE id = $1", [id, JSONValue.object(payload).jsonString])
        }
    }

    static func personalDataJSON(_ context: RequestContext, _ connection: PostgresConnection) throws -> HTTPResponse {
        let (caller, entity) = try owned(context, connection)
        let keyRows = try connection.query("SELECT erased_at FROM ledger.data_keys WHERE organization_id = $1 AND livemode = $2 AND entity_id = $3",
                                           [caller.organizationID, caller.livemode, entity])
        let erasedAt = keyRows.date(0, 0)
        let vault = context.engine.vault
        var verifications: [JSONValue] = []
        var holdsAny = false
        for id in try streams(connection, caller, entity) {
            guard let loaded = try VerificationStore.load(connection, organizationID: caller.organizationID, id: id, vault: vault),
                  let invitation = loaded.state.invitation else { continue }
            let applicant = invitation.applicant
            let results = loaded.state.results.filter { $0.result.extractedData != nil || $0.result.raw != nil }
            holdsAny = holdsAny || applicant != Applicant() || !results.isEmpty
            verifications.append([
                "id": .string(id),
                "applicant": ["first_name": ViewJSON.text(applicant.firstName), "last_name": ViewJSON.text(applicant.lastName),
                              "email": ViewJSON.text(applicant.email), "address": ViewJSON.text(applicant.address)],
                "results": .array(results.map { recorded in
                    ["check": .string(recorded.result.check.rawValue), "recorded_at": .string(Timestamp.rfc3339(recorded.recordedAt)),
                     "extracted_data": VerificationEvent.resultRecorded(recorded.result).data["extracted_data"] ?? .null, "raw": recorded.result.raw ?? .null]
                }),
            ])
        }
        let status = erasedAt != nil ? "erased" : holdsAny ? "held" : "none"
        return .json(200, [
            "object": "entity_personal_data", "entity_id": .string(entity), "livemode": .bool(caller.livemode),
            "personal_data": .string(status), "erased_at": erasedAt.map { .string(Timestamp.rfc3339($0)) } ?? .null,
            "legal_hold": try hold(connection, caller, entity), "verifications": .array(verifications),
        ])
    }
}
