import Foundation
import LedgerDomain
import LedgerHTTP
import LedgerWebhooks

/// The objects the API answers with, as shared schemas of the document (`#/components/schemas/…`). Each
/// lists every member its representation writes: the objects are closed, so a member added to a
/// representation and not here fails the fuzzer's response check.
enum APISchemas {
    typealias P = Schema.Property

    static let time = Schema.dateTime
    static let optionalTime = Schema.nullable(.dateTime)
    static let optionalText = Schema.nullable(.string(.init()))
    static let text = Schema.string(.init())
    static let metadata = Schema.map(values: text)
    /// Every view of a verification carries this member once its entity's personal data was erased (and only then).
    static let personalDataErased = P(PersonalDataMarker.member, .constant(PersonalDataMarker.erased), required: false,
                                      description: "Present once the entity's personal data was erased: its personal fields are then null")
    /// A custom score's value as a request gives it (`CustomScore`'s bounds) and as every view shows it.
    static let customScoreValue = Schema.anyOf([.text(minLength: 1, maxLength: CustomScore.maxStringLength), .number, .boolean])
    static let customScores = Schema.map(values: .anyOf([text, .number, .boolean]))

    static func list(_ name: String, of item: Schema) -> Schema {
        .named(name, .object([
            P("object", .constant("list"), required: true), P("url", text, required: true),
            P("has_more", .boolean, required: true), P("data", .array(of: item), required: true),
        ]))
    }

    static let error = Schema.named("Error", .object([
        P("error", .object([
            P("type", .choice(["invalid_request_error", "authentication_error", "permission_error", "idempotency_error",
                               "rate_limit_error", "api_error"]), required: true),
            P("code", text, required: true, description: "What went wrong, for programs: parameter_missing, version_conflict, …"),
            P("message", text, required: true),
            P("param", optionalText, required: true, description: "The parameter, header or body member at fault"),
        ]), required: true),
    ]))

    static let status = Schema.named("Status", .object([P("status", .constant("ok"), required: true)]))
    static let ready = Schema.named("Ready", .object([
        P("status", .constant("ready"), required: true), P("schema_version", .integer(), required: true),
    ]))

    static let organization = Schema.named("Organization", .object([
        P("id", .uuid, required: true), P("object", .constant("organization"), required: true), P("name", text, required: true),
        P("livemode", .boolean, required: true), P("created_at", time, required: true),
    ]))

    /// A new secret is in its first response only: the copy kept for idempotent replays has it null.
    static let replayedSecret = "Shown in this response only; null when the response is an idempotent replay (Secret-Redacted: true)"

    static let scope = Schema.named("Scope", .choice(Scope.self))
    static let apiKey = Schema.named("ApiKey", .object(apiKeyMembers))
    static let apiKeyMembers: [P] = [
        P("id", text, required: true), P("object", .constant("api_key"), required: true),
        P("hint", text, required: true, description: "The prefix and last four characters of the secret"),
        P("livemode", .boolean, required: true), P("scopes", .array(of: scope), required: true),
        P("description", optionalText, required: true), P("created_at", time, required: true),
        P("revoked_at", optionalTime, required: true), P("revocation_reason", optionalText, required: true),
    ]
    static let apiKeyWithSecret = Schema.named("ApiKeyWithSecret", .extending(apiKey, [
        P("secret", .nullable(.string(.init(pattern: "^sk_(test|live)_[0-9a-f]{64}$"))), required: true,
          description: replayedSecret),
    ]))

    static let responseCode = Schema.named("ResponseCode", .object([
        P("code", .integer(), required: true), P("summary", optionalText, required: true),
    ]))
    static let signals = Schema.named("Signals", .object([
        P("document_authenticity", .nullable(.choice(SignalOutcome.self)), required: true),
        P("face_match", .nullable(.choice(SignalOutcome.self)), required: true),
        P("liveness", .nullable(.choice(SignalOutcome.self)), required: true),
        P("aml", .nullable(.choice(AMLOutcome.self)), required: true),
    ]))

    static let attempt = Schema.named("Attempt", .object([
        P("id", text, required: true), P("object", .constant("attempt"), required: true), P("verification_id", text, required: true),
        P("status", .choice(AttemptStatus.self), required: true), P("url", text, required: true),
        P("expires_at", time, required: true), P("response_code", .nullable(responseCode), required: true),
        P("created_at", time, required: true), P("updated_at", time, required: true),
    ]))

    static let dispute = Schema.named("Dispute", .object([
        P("id", text, required: true), P("object", .constant("dispute"), required: true),
        P("status", .choice(["open", "resolved"]), required: true), P("reason", text, required: true),
        P("outcome", .nullable(.choice(DisputeOutcome.self)), required: true),
        P("score", .nullable(.choice(OrderScore.self)), required: true), P("resolution", optionalText, required: true),
        P("opened_at", optionalTime, required: true), P("resolved_at", optionalTime, required: true),
    ]))

    static let check = Schema.named("Check", .object([
        P("type", .choice(CheckType.self), required: true), P("status", .choice(CheckStatus.self), required: true),
        P("response_codes", .array(of: responseCode), required: true), P("signals", signals, required: true),
        P("recommended_action", text, required: true), P("updated_at", optionalTime, required: true),
    ]))

    static let verification = Schema.named("Verification", .object([
        P("id", text, required: true), P("object", .constant("verification"), required: true),
        P("status", .choice(OverallStatus.self), required: true), P("entity_id", text, required: true),
        P("entity_type", .choice(EntityType.self), required: true),
        P("verification_type", .choice(VerificationType.self), required: true),
        P("client_reference_id", optionalText, required: true), P("package_id", optionalText, required: true),
        P("provider", text, required: true), P("checks", .array(of: check), required: true),
        P("attempts", .array(of: attempt), required: true),
        P("applicant", .object([
            P("first_name", optionalText, required: true), P("last_name", optionalText, required: true),
            P("email", optionalText, required: true), P("address", optionalText, required: true),
        ]), required: true),
        P("metadata", metadata, required: true), P("postback_url", optionalText, required: true),
        P("postback_events", .array(of: .choice(WebhookEventType.self)), required: true),
        P("livemode", .boolean, required: true), P("expires_at", optionalTime, required: true),
        P("created_at", optionalTime, required: true), P("updated_at", optionalTime, required: true),
        P("version", .integer(minimum: 1), required: true, description: "The stream version, also the ETag"),
        personalDataErased,
    ]))

    static let order = Schema.named("Order", .object([
        P("id", text, required: true), P("object", .constant("order"), required: true), P("verification_id", text, required: true),
        P("status", .choice(OrderStatus.self), required: true), P("score", .choice(OrderScore.self), required: true),
        P("alert", .nullable(.choice(OrderAlert.self)), required: true), P("custom_scores", customScores, required: true),
        P("user", .object([
            P("name", optionalText, required: true), P("email", optionalText, required: true), P("address", optionalText, required: true),
        ]), required: true),
        P("documents", .array(of: .object([
            P("check", .choice(CheckType.self), required: true), P("type", optionalText, required: true),
            P("number", optionalText, required: true), P("issuing_country", optionalText, required: true),
            P("issue_date", optionalText, required: true), P("expiry_date", optionalText, required: true),
        ])), required: true),
        P("checks", .array(of: .object([
            P("type", .choice(CheckType.self), required: true), P("status", .choice(CheckStatus.self), required: true),
            P("response_codes", .array(of: responseCode), required: true), P("signals", signals, required: true),
            P("risk_labels", .array(of: text), required: true),
        ])), required: true),
        P("disputes", .array(of: dispute), required: true), P("metadata", metadata, required: true),
        P("package_id", optionalText, required: true), P("entity_id", text, required: true),
        P("livemode", .boolean, required: true), P("created_at", optionalTime, required: true),
        P("updated_at", optionalTime, required: true), P("completed_at", optionalTime, required: true),
        personalDataErased,
    ]))

    static let event = Schema.named("Event", .object([
        P("id", .uuid, required: true), P("object", .constant("event"), required: true), P("type", text, required: true),
        P("schema_version", .integer(minimum: 1), required: true,
          description: "The shape of data: events keep the shape they were written in (MetadataUpdated 1 held the changes as data itself, 2 under changes)"),
        P("version", .integer(minimum: 1), required: true), P("position", .integer(), required: true),
        P("occurred_at", time, required: true), P("data", .any, required: true), P("metadata", .anyObject, required: true),
        P("hash", .string(.init(pattern: "^[0-9a-f]{64}$")), required: true),
    ]))

    static let webhookEndpointMembers: [P] = [
        P("id", text, required: true), P("object", .constant("webhook_endpoint"), required: true), P("url", text, required: true),
        P("events", .array(of: webhookEventName), required: true), P("description", optionalText, required: true),
        P("enabled", .boolean, required: true), P("disabled_reason", optionalText, required: true),
        P("livemode", .boolean, required: true), P("created_at", time, required: true), P("updated_at", time, required: true),
        P("previous_secret_expires_at", optionalTime, required: true),
        P("delivery_mode", WebhookEndpointsResource.deliveryMode, required: true),
    ]
    static let webhookEventName = Schema.named("WebhookEventName", .choice(["*"] + WebhookEventType.allCases.map(\.rawValue)))
    static let webhookEndpoint = Schema.named("WebhookEndpoint", .object(webhookEndpointMembers))
    static let webhookEndpointWithSecret = Schema.named("WebhookEndpointWithSecret", .extending(webhookEndpoint, [
        P("secret", .nullable(.string(.init(pattern: "^whsec_"))), required: true, description: replayedSecret),
    ]))
    static let deletedWebhookEndpoint = Schema.named("DeletedWebhookEndpoint", .object([
        P("id", text, required: true), P("object", .constant("webhook_endpoint"), required: true), P("deleted", .boolean, required: true),
    ]))
    static let webhookSecret = Schema.named("WebhookSecret", .object([
        P("object", .constant("webhook_secret"), required: true), P("secret", .nullable(.string(.init(pattern: "^whsec_"))), required: true),
        P("previous_secret_expires_at", optionalTime, required: true),
    ]))

    static let webhookDeliveryStatus = Schema.named("WebhookDeliveryStatus", .choice(["pending", "delivered", "dead"]))
    static let webhookDelivery = Schema.named("WebhookDelivery", .object([
        P("id", text, required: true), P("object", .constant("webhook_delivery"), required: true),
        P("endpoint_id", optionalText, required: true), P("url", text, required: true),
        P("event_type", .choice(WebhookEventType.self), required: true), P("verification_id", text, required: true),
        P("status", webhookDeliveryStatus, required: true), P("attempt_count", .integer(minimum: 0), required: true),
        P("sequence", .nullable(.integer(minimum: 1)), required: true,
          description: "The message's place among its verification's messages to this destination"),
        P("previous_message_id", optionalText, required: true, description: "The message before it in that order"),
        P("dead_reason", optionalText, required: true),
        P("waiting_for", .nullable(.object([
            P("reason", .choice(WebhookMetrics.reasons), required: true),
            P("leased_until", time), P("message_id", text), P("next_attempt_at", time),
        ])), required: true, description: "What a pending message waits for; null once delivered or dead"),
        P("next_attempt_at", optionalTime, required: true), P("created_at", time, required: true),
        P("delivered_at", optionalTime, required: true),
        P("attempts", .array(of: .object([
            P("attempted_at", time, required: true), P("response_status", .nullable(.integer()), required: true),
            P("latency_ms", .nullable(.number), required: true), P("response_excerpt", optionalText, required: true),
            P("error", optionalText, required: true),
        ])), required: true),
    ]))
    static let webhookRecovery = Schema.named("WebhookRecovery", .object([
        P("object", .constant("webhook_recovery"), required: true), P("endpoint_id", text, required: true),
        P("since", time, required: true), P("requeued", .integer(minimum: 0), required: true),
    ]))
    static let retriedWebhookDelivery = Schema.named("RetriedWebhookDelivery", .object([
        P("id", text, required: true), P("object", .constant("webhook_delivery"), required: true),
        P("status", .constant("pending"), required: true),
    ]))
}
