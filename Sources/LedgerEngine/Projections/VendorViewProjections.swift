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

    func rows(_ stream: StreamState) -> [ProjectionRow] {
        let state = stream.state
        guard let invitation = state.invitation, let created = state.createdAt else { return [] }
        let object = CustomerVerificationView.object(id: stream.id, organizationID: stream.organizationID.uuidString.lowercased(),
                                                     actorID: nil, state: state)
        return [ProjectionRow([stream.organizationID, stream.id, invitation.livemode, invitation.entityID,
                               CustomerVerificationView.status(state), invitation.verificationType.rawValue, created,
                               object.jsonString, stream.version])]
    }
}

/// `ledger.validations`: seed 004's validation, by entity.
struct ValidationsProjection: Projection {
    let name = "validations"
    let version = 1
    let table = ProjectionTable(name: "validations",
                                columns: ["organization_id", "id", "livemode", "entity_id", "status", "created_at", "document", "version"],
                                versionColumn: "version", rowsCanDisappear: false)

    func rows(_ stream: StreamState) -> [ProjectionRow] {
        let state = stream.state
        guard let invitation = state.invitation, let created = state.createdAt else { return [] }
        return [ProjectionRow([stream.organizationID, stream.id, invitation.livemode, invitation.entityID, ValidationView.status(state),
                               created, ValidationView.object(id: stream.id, state: state).jsonString, stream.version])]
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

    func rows(_ stream: StreamState) -> [ProjectionRow] {
        let state = stream.state
        guard let invitation = state.invitation, let created = state.createdAt else { return [] }
        let reports = StripeReportView.reports(verificationID: stream.id, state: state)
        guard !reports.isEmpty else { return [] }
        return [ProjectionRow([stream.organizationID, stream.id, invitation.livemode, invitation.clientReferenceID, created,
                               JSONValue.array(reports.map(\.object)).jsonString])]
    }
}
