import Foundation

/// The verification and order objects as the API returns them.
public enum Representations {
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

    /// Seed 000's order; nil until the order exists.
    public static func order(id: String, state: VerificationState) -> JSONValue? {
        guard let invitation = state.invitation, let status = state.orderStatus else { return nil }
        let extracted = state.checks.compactMap(\.extractedData)
        let names = [invitation.applicant.firstName ?? extracted.first?.firstName, invitation.applicant.lastName ?? extracted.first?.lastName]
            .compactMap { $0 }
        return .object([
            ("id", .string(id)),
            ("object", "order"),
            ("verification_id", .string(id)),
            ("status", .string(status.rawValue)),
            ("score", .string(Views.orderScore(state).rawValue)),
            ("alert", text(Views.orderAlert(state)?.rawValue)),
            ("custom_scores", metadata(state.customScores)),
            ("user", .object([
                ("name", names.isEmpty ? .null : .string(names.joined(separator: " "))),
                ("email", text(invitation.applicant.email)),
                ("address", text(invitation.applicant.address ?? extracted.first?.address)),
            ])),
            ("documents", .array(state.checks.compactMap { check in
                guard let document = check.extractedData?.document else { return nil }
                return .object([
                    ("check", .string(check.type.rawValue)), ("type", text(document.type)), ("number", text(document.number)),
                    ("issuing_country", text(document.issuingCountry)), ("issue_date", text(document.issueDate)),
                    ("expiry_date", text(document.expiryDate)),
                ])
            })),
            ("checks", .array(state.checks.map { check in
                .object([("type", .string(check.type.rawValue)), ("status", .string(check.status.rawValue)),
                         ("response_codes", codes(check.responseCodes)), ("signals", signals(check.signals)),
                         ("risk_labels", .array(check.riskLabels.map(JSONValue.string)))])
            })),
            ("disputes", .array(state.disputes.map(dispute))),
            ("metadata", metadata(state.metadata)),
            ("package_id", text(invitation.packageID)),
            ("entity_id", .string(invitation.entityID)),
            ("livemode", .bool(invitation.livemode)),
            ("created_at", time(state.orderOpenedAt)),
            ("updated_at", time(state.updatedAt)),
            ("completed_at", time(state.orderStatus == .complete ? state.orderCompletedAt : nil)),
        ])
    }
}
