import Foundation

/// Seed 000's order object, a pure function of the verification's state.
extension Views {
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
