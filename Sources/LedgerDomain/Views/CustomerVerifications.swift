import Foundation

/// Seed 003: a customer verification, with exactly the seed's sixteen fields. Its status follows the SPEC §4
/// table (`Views.customerVerificationStatus`): pending, then verified, failed or expired.
public enum CustomerVerificationView {
    /// The seed's fields, in the order it lists them.
    public static let fields = [
        "actor_id", "check_type", "created_at", "customer_id", "expires_at", "id", "last_checked_at", "organization_id",
        "provider", "provider_reference", "reason", "result_payload", "status", "updated_at", "verification_type", "verified_at",
    ]

    /// An approval whose validity ended is `expired`: the verification stays approved, the customer must verify again.
    public static func status(_ state: VerificationState) -> String {
        if state.overallStatus == .approved && state.validityEndedAt != nil { return "expired" }
        return Views.customerVerificationStatus(state.overallStatus)
    }

    /// `actorID` is whoever made the latest change of status (an admin's override, the provider), which the
    /// events' metadata hold and the state does not.
    public static func object(id: String, organizationID: String, actorID: String?, state: VerificationState,
                              policy: ValidityPolicy = .standard) -> JSONValue {
        guard let invitation = state.invitation else { return .null }
        let status = status(state)
        let verifiedAt = status == "verified" || status == "expired" ? state.approvedAt : nil
        let expiresAt: Date?
        switch status {
        case "pending": expiresAt = invitation.expiresAt
        case "verified": expiresAt = policy.validUntil(state)
        case "expired": expiresAt = verifiedAt == nil ? invitation.expiresAt : policy.validUntil(state)
        default: expiresAt = nil
        }
        return .object([
            ("actor_id", ViewJSON.text(actorID)),
            ("check_type", .string(checkType(invitation))),
            ("created_at", ViewJSON.time(state.createdAt)),
            ("customer_id", .string(invitation.entityID)),
            ("expires_at", ViewJSON.time(expiresAt)),
            ("id", .string(id)),
            ("last_checked_at", ViewJSON.time(state.results.last?.recordedAt)),
            ("organization_id", .string(organizationID)),
            ("provider", .string(invitation.provider)),
            ("provider_reference", ViewJSON.text(state.results.last { $0.result.providerReference != nil }?.result.providerReference)),
            ("reason", ViewJSON.text(reason(state, status: status))),
            ("result_payload", resultPayload(state)),
            ("status", .string(status)),
            ("updated_at", ViewJSON.time(state.updatedAt)),
            ("verification_type", .string(invitation.verificationType.rawValue)),
            ("verified_at", ViewJSON.time(verifiedAt)),
        ])
    }

    /// The one check a customer verification was created for, else the package, else the checks joined by commas.
    static func checkType(_ invitation: Invitation) -> String {
        if invitation.checks.count == 1, let only = invitation.checks.first { return only.rawValue }
        return invitation.packageID ?? invitation.checks.map(\.rawValue).joined(separator: ",")
    }

    /// Why it is where it is: the reason an admin or a withdrawal gave, else, once failed, the summaries of the
    /// codes of the checks that failed it. Nil while pending and when verified.
    static func reason(_ state: VerificationState, status: String) -> String? {
        guard status == "failed" || status == "expired" || state.ending != nil else { return nil }
        if state.ending != nil, let given = state.statusChanges.last?.reason { return given }
        guard status == "failed" else { return nil }
        let failing = state.checks.filter { [.declined, .refused, .inconclusive].contains($0.status) }
        let summaries = failing.flatMap(\.responseCodes).map { $0.summary ?? String($0.code) }
        return summaries.isEmpty ? nil : summaries.joined(separator: ", ")
    }

    /// What the provider returned, check by check, under the ledger's overall status.
    static func resultPayload(_ state: VerificationState) -> JSONValue {
        .object([
            ("status", .string(state.overallStatus.rawValue)),
            ("checks", .array(state.checks.map { check in
                .object([
                    ("type", .string(check.type.rawValue)),
                    ("status", .string(check.status.rawValue)),
                    ("response_codes", ViewJSON.codes(check.responseCodes)),
                    ("signals", .object([
                        ("document_authenticity", ViewJSON.text(check.signals.documentAuthenticity?.rawValue)),
                        ("face_match", ViewJSON.text(check.signals.faceMatch?.rawValue)),
                        ("liveness", ViewJSON.text(check.signals.liveness?.rawValue)),
                        ("aml", ViewJSON.text(check.signals.aml?.rawValue)),
                    ])),
                    ("risk_labels", .array(check.riskLabels.map(JSONValue.string))),
                ])
            })),
        ])
    }
}
