import Foundation
import LedgerDomain
import LedgerHTTP
import LedgerStorage

/// `/v1/api_keys`: the organization's keys in the caller's mode. Admin scope; a secret is shown once.
enum APIKeysResource {
    static let keyID = APIParameters.id("id", "An API key's id (key_…)")

    static let operations: [APIOperation] = [
        .api("GET", "/v1/api_keys", id: "listApiKeys", summary: "The organization's API keys in the caller's mode", scope: .admin,
             responses: [APIResponses.ok("Every key, newest first; never a secret", APISchemas.list("ApiKeyList", of: APISchemas.apiKey),
                                         links: [APIResponses.get("getApiKey", id: "/data/0/id")])],
             .read { context in
                 let caller = try context.authenticated
                 let keys = try context.pool.withConnection {
                     try AccessStore.keys($0, organizationID: caller.organizationID, livemode: caller.livemode)
                 }
                 return .json(200, ["object": "list", "url": "/v1/api_keys", "has_more": false, "data": .array(keys.map(json))])
             }),

        .api("POST", "/v1/api_keys", id: "createApiKey", summary: "Create an API key", scope: .admin,
             body: .object([
                 .init("scopes", .array(of: APISchemas.scope, minItems: 1, maxItems: 3), required: true),
                 .init("description", .text(maxLength: 500)),
             ]),
             responses: [APIResponses.created("The key, with its secret (shown only here)", APISchemas.apiKeyWithSecret,
                                              links: [APIResponses.get("getApiKey"), .init("revokeApiKey", operationID: "revokeApiKey",
                                                                                           parameters: [("id", "$response.body#/id")])])],
             .command { context, tx in
                 let caller = try context.authenticated
                 let scopes = Set((context.body.stringList("scopes") ?? []).compactMap(Scope.init(rawValue:)))
                 let (record, secret) = try AccessStore.createKey(tx, organizationID: caller.organizationID, livemode: caller.livemode,
                                                                  scopes: scopes, description: context.body.string("description"))
                 var object = json(record)
                 if case var .object(members) = object {
                     members.append(("secret", .string(secret)))
                     object = .object(members)
                 }
                 return .json(201, object)
             }),

        .api("GET", "/v1/api_keys/{id}", id: "getApiKey", summary: "An API key", scope: .admin, parameters: [keyID],
             responses: [APIResponses.ok("The key; never its secret", APISchemas.apiKey)],
             .read { context in
                 let caller = try context.authenticated
                 let id = context.request.parameter("id")
                 guard let record = try context.pool.withConnection({ try AccessStore.key($0, organizationID: caller.organizationID, id: id) }),
                       record.livemode == caller.livemode else {
                     throw APIFailure.notFound("API key", id)
                 }
                 return .json(200, json(record))
             }),

        .api("POST", "/v1/api_keys/{id}/revoke", id: "revokeApiKey", summary: "Revoke an API key: requests with it get 401 from then on",
             scope: .admin, parameters: [keyID],
             body: .object([.init("reason", .text(minLength: 1, maxLength: 500), required: true)]),
             responses: [APIResponses.ok("The revoked key", APISchemas.apiKey)],
             .command { context, tx in
                 let caller = try context.authenticated
                 let id = context.request.parameter("id")
                 let reason = try context.body.requiredString("reason")
                 guard let existing = try AccessStore.key(tx, organizationID: caller.organizationID, id: id),
                       existing.livemode == caller.livemode,
                       let revoked = try AccessStore.revokeKey(tx, organizationID: caller.organizationID, id: id, reason: reason) else {
                     throw APIFailure.notFound("API key", id)
                 }
                 return .json(200, json(revoked))
             }),
    ]

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
