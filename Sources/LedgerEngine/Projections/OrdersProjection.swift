import Foundation
import LedgerDomain
import LedgerStorage

/// `ledger.orders`: seed 000's order, from the moment the applicant's flow first ends.
struct OrdersProjection: Projection {
    let name = "orders"
    /// Version 2: the document's personal data sealed under the entity's key (rows of version 1 hold it in plain text).
    let version = 2
    let table = ProjectionTable(name: "orders",
                                columns: ["organization_id", "id", "livemode", "status", "score", "package_id", "entity_id",
                                          "created_at", "updated_at", "document", "version"],
                                versionColumn: "version", rowsCanDisappear: false)

    func rows(_ stream: StreamState) -> [ProjectionRow] {
        let state = stream.state
        guard let invitation = state.invitation, let updated = state.updatedAt, let status = state.orderStatus,
              let order = stream.views.order else { return [] }
        return [ProjectionRow([stream.organizationID, stream.id, invitation.livemode, status.rawValue, Views.orderScore(state).rawValue,
                               invitation.packageID, invitation.entityID, state.orderOpenedAt ?? updated, updated, order,
                               stream.version])]
    }
}
