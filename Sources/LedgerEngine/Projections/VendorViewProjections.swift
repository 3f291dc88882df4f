import Foundation
import LedgerDomain
import LedgerStorage

/// `ledger.customer_verifications`: seed 003's object, with the columns its list filters on. `actor_id` is
/// not in the state (it is in the events' metadata), so the row leaves it null and the read fills it in.
struct CustomerVerificationsProjection: Projection {
    let name = "customer_verifications"
    let version = 1
    let table = ProjectionTable(name: "customer_verifications",
                                columns: ["organization_id", "id", "livemode", "customer_id", "status", "verification_type",
                                          "created_at", "document", "version"],
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
                               document, stream.version])]
    }
}

/// `ledger.validations`: seed 004's validation, by entity.
struct ValidationsProjection: Projection {
    let name = "validations"
    let version = 1
    let table = ProjectionTable(name: "validations",
                                columns: ["organization_id", "id", "livemode", "entity_id", "status", "created_at", "document", "version"],
                                versionColumn: "version", rowsCanDisappear: false)
    static let kind = SealedDocumentKind.validation

    func rows(_ stream: StreamState) -> [ProjectionRow] {
        let state = stream.state
        guard let invitation = state.invitation, let created = state.createdAt else { return [] }
        let document = stream.sealedDocument(kind: Self.kind, documentID: stream.id) { PersonalDataMarker.marking(ValidationView.object(id: stream.id, state: $0), $0).jsonString }
        return [ProjectionRow([stream.organizationID, stream.id, invitation.livemode, invitation.entityID, ValidationView.status(state),
                               created, document, stream.version])]
    }
}

/// `ledger.verification_reports`: seed 001's reports of one verification, oldest first, once it has any. No
/// version column: the row is written only when a command adds a report (reports never change once written).
struct VerificationReportsProjection: Projection {
    let name = "verification_reports"
    let version = 1
    let table = ProjectionTable(name: "verification_reports",
                                columns: ["organization_id", "id", "livemode", "client_reference_id", "created_at", "reports"],
                                versionColumn: nil, rowsCanDisappear: false)
    static let kind = SealedDocumentKind.verificationReport

    func rows(_ stream: StreamState) -> [ProjectionRow] {
        let state = stream.state
        guard let invitation = state.invitation, let created = state.createdAt else { return [] }
        let reports = StripeReportView.reports(verificationID: stream.id, state: state)
        guard !reports.isEmpty else { return [] }
        // Each report sealed on its own (bound to its id), so the reads still find reports by id and time in SQL.
        let sealed = reports.map { report in
            stream.sealedDocument(kind: Self.kind, documentID: report.id) { state in
                // The same reports without personal data (results stay), so `report.id` is among them.
                PersonalDataMarker.marking(StripeReportView.reports(verificationID: stream.id, state: state)
                    .first { $0.id == report.id }?.object ?? .object([("id", .string(report.id)), ("created", report.object["created"] ?? .null)]),
                    state).jsonString
            }
        }
        return [ProjectionRow([stream.organizationID, stream.id, invitation.livemode, invitation.clientReferenceID, created,
                               "[" + sealed.joined(separator: ",") + "]"])]
    }
}
