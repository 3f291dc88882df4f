import Foundation
import LedgerDomain
import LedgerEngine
import LedgerHTTP
import LedgerStorage

/// `/v1/rulesets`: versioned, immutable JsonLogic rulesets, each rule computing one custom score over an order
/// document. Posting a name again makes its next version, unless the content is the latest version's.
enum RulesetsResource {
    static let name = Parameter.path("name", .text(minLength: 1, maxLength: 64, pattern: Ruleset.namePattern),
                                     description: "A ruleset's name")
    /// Read as an id is: any short text, a version that names none (`0`, `x`) being 404.
    static let version = Parameter.path("version", .text(minLength: 1, maxLength: 10), description: "A version number, from 1")

    static let schema = Schema.named("Ruleset", .object([
        .init("object", .constant("ruleset"), required: true), .init("name", APISchemas.text, required: true),
        .init("version", .integer(minimum: 1), required: true), .init("description", APISchemas.optionalText, required: true),
        .init("rules", .map(values: .any), required: true, description: "Custom score name → JsonLogic rule"),
        .init("hash", APISchemas.text, required: true, description: "sha256: and the hex SHA-256 of the canonical content"),
        .init("evaluator_version", APISchemas.text, required: true), .init("created_at", APISchemas.time, required: true),
    ]))

    static func operations(clock: @escaping @Sendable () -> Date) -> [APIOperation] {
        [
        .api("POST", "/v1/rulesets", id: "createRuleset", summary: "Create a ruleset, or the next version of one",
             description: "201 with a new version; 200 with the latest version when its content is the same (same hash). "
                + "Rules are refused with 400 jsonlogic_error naming the rule's path.",
             scope: .write,
             body: .object([
                 .init("name", .text(minLength: 1, maxLength: 64, pattern: Ruleset.namePattern), required: true),
                 .init("description", .text(maxLength: 500)),
                 .init("rules", .map(values: .any, maxMembers: Ruleset.maxRules, maxKeyLength: CustomScore.maxNameLength), required: true),
             ]),
             responses: [APIResponses.created("The new version", schema),
                         APIResponses.ok("The latest version, whose content is the same", schema),
                         JsonLogicResource.evaluationFailure],
             .command { context, tx in
            let caller = try context.authenticated
            let body = context.body
            let name = try body.requiredString("name")
            let ruleset: Ruleset
            do throws(Ruleset.Problem) {
                ruleset = try RulesetStore.make(name: name, description: body.string("description"), rules: body.value("rules") ?? .null)
            } catch {
                throw error.jsonLogic.map { APIFailure(jsonLogic: $0) } ?? APIFailure.invalid(error.param, error.message)
            }
            let (stored, created) = try RulesetStore.create(tx, organizationID: caller.organizationID, livemode: caller.livemode,
                                                            ruleset, actor: caller.keyID, now: clock())
            return .json(created ? 201 : 200, stored.json)
        }),

        .api("GET", "/v1/rulesets", id: "listRulesets", summary: "The latest version of each ruleset, by name", scope: .read,
             parameters: [APIParameters.limit, .query("starting_after", .text(maxLength: 64), description: "The last name of the previous page")],
             responses: [APIResponses.ok("A page of rulesets", APISchemas.list("RulesetList", of: schema))],
             .read { context in
            let caller = try context.authenticated
            let query = ListQuery(context.request)
            let found = try context.pool.withConnection {
                try RulesetStore.latest($0, organizationID: caller.organizationID, livemode: caller.livemode,
                                        startingAfter: query.startingAfter, limit: query.limit + 1)
            }
            return query.page(found.map(\.json), url: "/v1/rulesets")
        }),

        .api("GET", "/v1/rulesets/{name}", id: "getRuleset", summary: "A ruleset's latest version, with the list of its versions",
             scope: .read, parameters: [name],
             responses: [APIResponses.ok("The latest version", .named("RulesetWithVersions", .extending(schema, [
                 .init("versions", .array(of: .object([.init("version", .integer(minimum: 1), required: true),
                                                       .init("hash", APISchemas.text, required: true),
                                                       .init("created_at", APISchemas.time, required: true)])), required: true),
             ])))],
             .read { context in
            let caller = try context.authenticated
            let name = context.request.parameter("name")
            let versions = try context.pool.withConnection {
                try RulesetStore.versions($0, organizationID: caller.organizationID, livemode: caller.livemode, name: name)
            }
            guard let latest = versions.first, case let .object(members) = latest.json else { throw APIFailure.notFound("ruleset", name, param: "name") }
            let list = JSONValue.array(versions.map { ["version": .int(Int64($0.version)), "hash": .string($0.ruleset.hash),
                                                       "created_at": ViewJSON.time($0.createdAt)] })
            return .json(200, .object(members + [("versions", list)]))
        }),

        .api("GET", "/v1/rulesets/{name}/versions/{version}", id: "getRulesetVersion", summary: "One version of a ruleset",
             scope: .read, parameters: [name, version],
             responses: [APIResponses.ok("The version", schema)],
             .read { context in
            let caller = try context.authenticated
            let name = context.request.parameter("name")
            let text = context.request.parameter("version")
            guard let number = Int32(text).map(Int.init), number >= 1, let stored = try context.pool.withConnection({
                try RulesetStore.load($0, organizationID: caller.organizationID, livemode: caller.livemode, name: name, version: number)
            }) else {
                // The values are not repeated: the name is in the path already, and a version is a short number.
                throw APIFailure(status: 404, type: "invalid_request_error", code: "resource_missing",
                                 message: "no such version of this ruleset", param: "version")
            }
            return .json(200, stored.json)
        }),
        ]
    }
}
