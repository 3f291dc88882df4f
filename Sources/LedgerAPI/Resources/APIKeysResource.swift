import Foundation
import LedgerDomain
import LedgerHTTP
import LedgerStorage

/// `/v1/api_keys`: the organization's keys in the caller's mode. Admin scope; a secret is shown once.
enum APIKeysResource {
    static func register(on router: inout Router<Endpoint>) {
        router.add("GET", "/v1/api_keys", .read(.scope(.admin)) { context in
            let caller = try context.authenticated
            let keys = try context.pool.withConnection {
                try AccessStore.keys($0, organizationID: caller.organizationID, livemode: caller.livemode)
            }
            return .json(200, ["object": "list", "url": "/v1/api_keys", "has_more": false, "data": .array(keys.map(json))])
        })

        router.add("POST", "/v1/api_keys", .command(.scope(.admin)) { context, tx in
            let caller = try context.authenticated
            let body = try context.body(allowed: ["scopes", "description"])
            let names = try body.stringList("scopes", required: true, maxCount: 3, maxLength: 20) ?? []
            var scopes = Set<Scope>()
            for (index, name) in names.enumerated() {
                guard let scope = Scope(rawValue: name) else {
                    throw APIFailure.invalid("scopes[\(index)]", "scopes[\(index)] must be read, write or admin")
                }
                scopes.insert(scope)
            }
            guard !scopes.isEmpty else { throw APIFailure.invalid("scopes", "scopes must name at least one scope") }
            let description = try body.string("description")
            let (record, secret) = try AccessStore.createKey(tx, organizationID: caller.organizationID, livemode: caller.livemode,
                                                             scopes: scopes, description: description)
            var object = json(record)
            if case var .object(members) = object {
                members.append(("secret", .string(secret)))
                object = .object(members)
            }
            return .json(201, object)
        })

        router.add("GET", "/v1/api_keys/{id}", .read(.scope(.admin)) { context in
            let caller = try context.authenticated
            let id = context.request.parameter("id")
            guard let record = try context.pool.withConnection({ try AccessStore.key($0, organizationID: caller.organizationID, id: id) }),
                  record.livemode == caller.livemode else {
                throw APIFailure.notFound("API key", id)
            }
            return .json(200, json(record))
        })

        router.add("POST", "/v1/api_keys/{id}/revoke", .command(.scope(.admin)) { context, tx in
            let caller = try context.authenticated
            let id = context.request.parameter("id")
            let reason = try context.body(allowed: ["reason"]).requiredString("reason")
            guard let existing = try AccessStore.key(tx, organizationID: caller.organizationID, id: id),
                  existing.livemode == caller.livemode,
                  let revoked = try AccessStore.revokeKey(tx, organizationID: caller.organizationID, id: id, reason: reason) else {
                throw APIFailure.notFound("API key", id)
            }
            return .json(200, json(revoked))
        })
    }

    static func json(_ record: APIKeyRecord) -> JSONValue {
        .object([
            ("id", .string(record.id)),
            ("object", "api_key"),
            ("hint", .string(record.hint)),
            ("livemode", .bool(record.livemode)),
            ("scopes", .array(record.scopes.sorted().map { .string($0.rawValue) })),
            ("description", record.description.map(JSONValue.string) ?? .null),
            ("created_at", .string(Timestamp.rfc3339(record.createdAt))),
            ("revoked_at", record.revokedAt.map { .string(Timestamp.rfc3339($0)) } ?? .null),
            ("revocation_reason", record.revocationReason.map(JSONValue.string) ?? .null),
        ])
    }
}
