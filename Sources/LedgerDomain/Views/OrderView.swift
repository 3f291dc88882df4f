import Foundation

/// Seed 000's order object, a pure function of the verification's state.
public enum OrderView {
    /// The members that carry personal data (the applicant's, the documents' extracted data) or say it was erased;
    /// the rest read the same with the personal data removed.
    public static let personalMembers: Set<String> = ["user", "documents", PersonalDataMarker.member]

    /// Seed 000's order; nil until the order exists.
    public static func object(id: String, state: VerificationState) -> JSONValue? {
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
            ("alert", ViewJSON.text(Views.orderAlert(state)?.rawValue)),
            ("custom_scores", ViewJSON.customScores(state.customScores)),
            ("user", .object([
                ("name", names.isEmpty ? .null : .string(names.joined(separator: " "))),
                ("email", ViewJSON.text(invitation.applicant.email)),
                ("address", ViewJSON.text(invitation.applicant.address ?? extracted.first?.address)),
            ])),
            ("documents", .array(state.checks.compactMap { check in
                guard let document = check.extractedData?.document else { return nil }
                return .object([
                    ("check", .string(check.type.rawValue)), ("type", ViewJSON.text(document.type)), ("number", ViewJSON.text(document.number)),
                    ("issuing_country", ViewJSON.text(document.issuingCountry)), ("issue_date", ViewJSON.text(document.issueDate)),
                    ("expiry_date", ViewJSON.text(document.expiryDate)),
                ])
            })),
            ("checks", .array(state.checks.map { check in
                .object([("type", .string(check.type.rawValue)), ("status", .string(check.status.rawValue)),
                         ("response_codes", ViewJSON.codes(check.responseCodes)), ("signals", VerificationView.signals(check.signals)),
                         ("risk_labels", .array(check.riskLabels.map(JSONValue.string)))])
            })),
            ("disputes", .array(state.disputes.map(VerificationView.dispute))),
            ("metadata", ViewJSON.metadata(state.metadata)),
            ("package_id", ViewJSON.text(invitation.packageID)),
            ("entity_id", .string(invitation.entityID)),
            ("livemode", .bool(invitation.livemode)),
            ("created_at", ViewJSON.time(state.orderOpenedAt)),
            ("updated_at", ViewJSON.time(state.updatedAt)),
            ("completed_at", ViewJSON.time(state.orderStatus == .complete ? state.orderCompletedAt : nil)),
        ])
    }
}
