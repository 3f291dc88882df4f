import Foundation
import LedgerDomain
import LedgerHTTP
import LedgerStorage

/// `GET /v1/organization`: the caller's own organization.
enum OrganizationResource {
    static let operations: [APIOperation] = [
        .api("GET", "/v1/organization", id: "getOrganization", summary: "The caller's organization", scope: .read,
             responses: [APIResponses.ok("The organization", APISchemas.organization)],
             .read { context in
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
             }),
    ]
}
