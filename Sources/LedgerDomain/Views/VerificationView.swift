import Foundation

/// The verification object (and its attempts and disputes) as the API returns it: a pure function of the
/// state, so any version of it (`?as_of=`) is a fold and a render.
public enum VerificationView {
    static func signals(_ signals: Signals) -> JSONValue {
        .object([
            ("document_authenticity", ViewJSON.text(signals.documentAuthenticity?.rawValue)),
            ("face_match", ViewJSON.text(signals.faceMatch?.rawValue)),
            ("liveness", ViewJSON.text(signals.liveness?.rawValue)),
            ("aml", ViewJSON.text(signals.aml?.rawValue)),
        ])
    }

    public static func object(id: String, state: VerificationState, version: Int64) -> JSONValue {
        guard let invitation = state.invitation else { return .null }
        return .object([
            ("id", .string(id)),
            ("object", "verification"),
            ("status", .string(state.overallStatus.rawValue)),
            ("entity_id", .string(invitation.entityID)),
            ("entity_type", .string(invitation.entityType.rawValue)),
            ("verification_type", .string(invitation.verificationType.rawValue)),
            ("client_reference_id", ViewJSON.text(invitation.clientReferenceID)),
            ("package_id", ViewJSON.text(invitation.packageID)),
            ("provider", .string(invitation.provider)),
            ("checks", .array(state.checks.map { check in
                .object([
                    ("type", .string(check.type.rawValue)),
                    ("status", .string(check.status.rawValue)),
                    ("response_codes", ViewJSON.codes(check.responseCodes)),
                    ("signals", signals(check.signals)),
                    ("recommended_action", .string(check.status.recommendedAction)),
                    ("updated_at", ViewJSON.time(check.updatedAt)),
                ])
            })),
            ("attempts", .array(state.attempts.map { attempt($0, verificationID: id) })),
            ("applicant", .object([
                ("first_name", ViewJSON.text(invitation.applicant.firstName)), ("last_name", ViewJSON.text(invitation.applicant.lastName)),
                ("email", ViewJSON.text(invitation.applicant.email)), ("address", ViewJSON.text(invitation.applicant.address)),
            ])),
            ("metadata", ViewJSON.metadata(state.metadata)),
            ("postback_url", ViewJSON.text(invitation.postbackURL)),
            ("postback_events", .array(invitation.postbackEvents.map(JSONValue.string))),
            ("livemode", .bool(invitation.livemode)),
            ("expires_at", ViewJSON.time(invitation.expiresAt)),
            ("created_at", ViewJSON.time(state.createdAt)),
            ("updated_at", ViewJSON.time(state.updatedAt)),
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
            ("expires_at", ViewJSON.time(attempt.expiresAt)),
            ("response_code", attempt.code.map { ViewJSON.codes([ResponseCode(code: $0)]).arrayValue?.first ?? .null } ?? .null),
            ("created_at", ViewJSON.time(attempt.createdAt)),
            ("updated_at", ViewJSON.time(attempt.updatedAt)),
        ])
    }

    public static func dispute(_ dispute: DisputeState) -> JSONValue {
        .object([
            ("id", .string(dispute.id)),
            ("object", "dispute"),
            ("status", .string(dispute.isOpen ? "open" : "resolved")),
            ("reason", .string(dispute.reason)),
            ("outcome", ViewJSON.text(dispute.outcome?.rawValue)),
            ("score", ViewJSON.text(dispute.score?.rawValue)),
            ("resolution", ViewJSON.text(dispute.resolution)),
            ("opened_at", ViewJSON.time(dispute.openedAt)),
            ("resolved_at", ViewJSON.time(dispute.resolvedAt)),
        ])
    }
}
