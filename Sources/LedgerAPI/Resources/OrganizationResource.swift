import Foundation
import LedgerDomain
import LedgerHTTP
import LedgerStorage

/// `GET /v1/organization`: the caller's own organization.
enum OrganizationResource {
    static func register(on router: inout Router<Endpoint>) {
        router.add("GET", "/v1/organization", .read(.scope(.read)) { context in
            let caller = try context.authenticated
            guard let organization = try context.pool.withConnection({ try AccessStore.organization($0, id: caller.organizationID) }) else {
                throw APIFailure.notFound("organization", caller.organizationID.uuidString.lowercased())
            }
            return .json(200, [
                "id": .string(organization.id.uuidString.lowercased()),
                "object": "organization",
                "name": .string(organization.name),
                "livemode": .bool(caller.livemode),
                "created_at": .string(Timestamp.rfc3339(organization.createdAt)),
            ])
        })
    }
}
