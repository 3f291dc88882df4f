import Foundation

/// The verification object (and its attempts and disputes) as the API returns it: a pure function of the
/// state, so any version of it (`?as_of=`) is a fold and a render.
extension Views {
    public static func time(_ date: Date?) -> JSONValue { date.map { .string(Timestamp.rfc3339($0)) } ?? .null }
    public static func text(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }

    public static func metadata(_ metadata: [String: String]) -> JSONValue {
        .object(metadata.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })
    }

    public static func codes(_ codes: [ResponseCode]) -> JSONValue {
        .array(codes.map { .object([("code", .int(Int64($0.code))), ("summary", text($0.summary))]) })
    }

    public static func signals(_ signals: Signals) -> JSONValue {
        .object([
            ("document_authenticity", text(signals.documentAuthenticity?.rawValue)),
            ("face_match", text(signals.faceMatch?.rawValue)),
            ("liveness", text(signals.liveness?.rawValue)),
            ("aml", text(signals.aml?.rawValue)),
        ])
    }

    public static func verification(id: String, state: VerificationState, version: Int64) -> JSONValue {
        guard let invitation = state.invitation else { return .null }
        return .object([
            ("id", .string(id)),
            ("object", "verification"),
            ("status", .string(state.overallStatus.rawValue)),
            ("entity_id", .string(invitation.entityID)),
            ("entity_type", .string(invitation.entityType.rawValue)),
            ("verification_type", .string(invitation.verificationType.rawValue)),
            ("client_reference_id", text(invitation.clientReferenceID)),
            ("package_id", text(invitation.packageID)),
            ("provider", .string(invitation.provider)),
            ("checks", .array(state.checks.map { check in
                .object([
                    ("type", .string(check.type.rawValue)),
                    ("status", .string(check.status.rawValue)),
                    ("response_codes", codes(check.responseCodes)),
                    ("signals", signals(check.signals)),
                    ("recommended_action", .string(check.status.recommendedAction)),
                    ("updated_at", time(check.updatedAt)),
                ])
            })),
            ("attempts", .array(state.attempts.map { attempt($0, verificationID: id) })),
            ("applicant", .object([
                ("first_name", text(invitation.applicant.firstName)), ("last_name", text(invitation.applicant.lastName)),
                ("email", text(invitation.applicant.email)), ("address", text(invitation.applicant.address)),
            ])),
            ("metadata", metadata(state.metadata)),
            ("postback_url", text(invitation.postbackURL)),
            ("postback_events", .array(invitation.postbackEvents.map(JSONValue.string))),
            ("livemode", .bool(invitation.livemode)),
            ("expires_at", time(invitation.expiresAt)),
            ("created_at", time(state.createdAt)),
            ("updated_at", time(state.updatedAt)),
            ("version", .int(version)),
        ])
    }

    public static func attempt(_ attempt: AttemptState, verificationID: String) -> JSONValue {
        .object([
            ("id", .string(attempt.id)),
            ("object", "attempt"),
            ("verification_id", .string(verificationID)),
            ("status", .string(attempt.status.rawValue)),
            ("url", .string(attempt.url)),
            ("expires_at", time(attempt.expiresAt)),
            ("response_code", attempt.code.map { codes([ResponseCode(code: $0)]).arrayValue?.first ?? .null } ?? .null),
            ("created_at", time(attempt.createdAt)),
            ("updated_at", time(attempt.updatedAt)),
        ])
    }

    public static func dispute(_ dispute: DisputeState) -> JSONValue {
        .object([
            ("id", .string(dispute.id)),
            ("object", "dispute"),
            ("status", .string(dispute.isOpen ? "open" : "resolved")),
            ("reason", .string(dispute.reason)),
            ("outcome", text(dispute.outcome?.rawValue)),
            ("score", text(dispute.score?.rawValue)),
            ("resolution", text(dispute.resolution)),
            ("opened_at", time(dispute.openedAt)),
            ("resolved_at", time(dispute.resolvedAt)),
        ])
    }
}
