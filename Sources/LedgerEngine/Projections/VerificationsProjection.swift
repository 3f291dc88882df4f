import Foundation
import LedgerDomain
import LedgerStorage

/// `ledger.verifications`: the verification object as the REST reads serve it, with the columns they filter on.
struct VerificationsProjection: Projection {
    let name = "verifications"
    /// Version 2: the document's personal data sealed under the entity's key (rows of version 1 hold it in plain text).
    let version = 2
    let table = ProjectionTable(name: "verifications",
                                columns: ["organization_id", "id", "livemode", "version", "status", "entity_id",
                                          "client_reference_id", "package_id", "created_at", "updated_at", "document"],
                                versionColumn: "version", rowsCanDisappear: false)

    func rows(_ stream: StreamState) -> [ProjectionRow] {
        let state = stream.state
        guard let invitation = state.invitation, let created = state.createdAt, let updated = state.updatedAt else { return [] }
        return [ProjectionRow([stream.organizationID, stream.id, invitation.livemode, stream.version, state.overallStatus.rawValue,
                               invitation.entityID, invitation.clientReferenceID, invitation.packageID, created, updated,
                               stream.views.verification])]
    }
}
