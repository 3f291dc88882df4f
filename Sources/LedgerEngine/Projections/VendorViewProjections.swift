import Foundation
import LedgerDomain
import LedgerStorage

/// `ledger.customer_verifications`: seed 003's object, with the columns its list filters on. `actor_id` is
/// not in the state (it is in the events' metadata), so the row leaves it null and keeps the version of the event
/// whose actor it is (`status_version`, version 2), which the read looks up.
struct CustomerVerificationsProjection: Projection {
    let name = "customer_verifications"
    /// Version 2: the document's personal data sealed under the entity's key, and `status_version` filled.
    let version = 2
    let table = ProjectionTable(name: "customer_verifications",
                                columns: ["organization_id", "id", "livemode", "customer_id", "status", "verification_type",
                                          "created_at", "document", "version", "status_version"],
                                versionColumn: "version", rowsCanDisappear: false)
    static let kind = SealedDocumentKind.customerVerification

    func rows(_ stream: StreamState) -> [ProjectionRow] {
        let state = stream.state
        guard let invitation = state.invitation, let created = state.createdAt else { return [] }
        let document = stream.sealedDocument(kind: Self.kind, documentID: stream.id) { state in
            PersonalDataMarker.marking(CustomerVerificationView.object(id: stream.id, organizationID: stream.organizationID.uuidString.lowercased(),
                                                                       actorID: nil, state: state), state).jsonString
        }
        return [ProjectionRow([stream.organizationID, stream.id, invitation.livemode, invitation.entityID,
                               CustomerVerificationView.status(state), invitation.verificationType.rawValue, created,
                               document, stream.version, state.statusDecisionVersion])]
    }
}

/// `ledger.validations`: seed 004's validation, by entity, with what the entity's KYC status needs of it
/// (`KYCValidation`, version 2), so that the status is computed from rows and the clock. The document is the one
/// the validation webhooks carry (`RenderedViews.validation`).
struct ValidationsProjection: Projection {
    let name = "validations"
    /// Version 3: the document's personal data sealed under the entity's key.
    let version = 3
    let table = ProjectionTable(name: "validations",
                                columns: ["organization_id", "id", "livemode", "entity_id", "status", "created_at", "document", "version",
                                          "approved_at", "valid_for", "approval_cut_short_at"],
                                versionColumn: "version", rowsCanDisappear: false)

    func rows(_ stream: StreamState) -> [ProjectionRow] {
        let state = stream.state
        guard let invitation = state.invitation, let created = state.createdAt,
              let kyc = KYCValidation(id: stream.id, state: state) else { return [] }
        return [ProjectionRow([stream.organizationID, stream.id, invitation.livemode, invitation.entityID, kyc.status,
                               created, stream.views.validation, stream.version,
                               kyc.approvedAt, kyc.validFor, kyc.approvalCutShortAt])]
    }
}

/// `ledger.verification_reports`: seed 001's reports, one row each (version 2; version 1 kept all of a
/// verification's reports in one row, which every list page had to unnest and sort), with the columns the list
/// filters and pages on, and the entity whose key opens its document (Schema/063: a read needs no join to the
/// verification for it). No version column: a row is written only when a command adds its report (reports never
/// change once written).
struct VerificationReportsProjection: Projection {
    let name = "verification_reports"
    /// Version 3: each report's personal data sealed under the entity's key.
    let version = 3
    let table = ProjectionTable(name: "verification_reports",
                                columns: ["organization_id", "id", "report_id", "livemode", "client_reference_id", "type", "created",
                                          "document", "entity_id"],
                                keyLength: 3, versionColumn: nil, rowsCanDisappear: false)
    static let kind = SealedDocumentKind.verificationReport

    func rows(_ stream: StreamState) -> [ProjectionRow] {
        guard let entityID = stream.state.invitation?.entityID else { return [] }
        return StripeReportView.reports(verificationID: stream.id, state: stream.state).map { report in
            // Each report sealed on its own (bound to its id); the same report without personal data (results stay).
            let document = stream.sealedDocument(kind: Self.kind, documentID: report.id) { state in
                PersonalDataMarker.marking(StripeReportView.reports(verificationID: stream.id, state: state)
                    .first { $0.id == report.id }?.object ?? .object([("id", .string(report.id)), ("created", report.object["created"] ?? .null)]),
                    state).jsonString
            }
            return ProjectionRow([stream.organizationID, stream.id, report.id, report.livemode, report.clientReferenceID, report.type.rawValue,
                                  ViewJSON.unixSeconds(report.created), document, entityID])
        }
    }
}
