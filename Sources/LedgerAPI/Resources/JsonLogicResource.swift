import Foundation
import LedgerDomain
import LedgerHTTP

/// `/v1/jsonlogic/evaluate`: a rule tester for risk analysts, the evaluator rulesets run on, with its limits.
enum JsonLogicResource {
    /// The 400 of a rule that cannot be compiled or evaluated carries the conformance suites' error type
    /// (`NaN`, `Invalid Arguments`, …) as its type; other 400s keep the API's own.
    static let evaluationFailure = Response(400, "A parameter is invalid, or the rule cannot be compiled or evaluated "
        + "(code jsonlogic_error, type the error type: NaN, Invalid Arguments, Unknown Operator, …, param the rule's path)",
        .named("JsonLogicError", .object([
            .init("error", .object([
                .init("type", APISchemas.text, required: true), .init("code", APISchemas.text, required: true),
                .init("message", APISchemas.text, required: true), .init("param", APISchemas.optionalText, required: true),
            ]), required: true),
        ])))

    static let operations: [APIOperation] = [
        .api("POST", "/v1/jsonlogic/evaluate", id: "evaluateJsonLogic", summary: "Evaluate a JsonLogic rule against data",
             description: "Nothing is stored. The rule is limited as a ruleset's rules are: \(JsonLogicLimits.standard.maxDepth) levels, "
                + "\(JsonLogicLimits.standard.maxNodes) nodes, \(JsonLogicLimits.standard.maxSteps) steps.",
             scope: .read,
             body: .object([.init("rule", .any, required: true), .init("data", .any)]),
             responses: [APIResponses.ok("The rule's result", .named("JsonLogicResult", .object([.init("result", .any, required: true)]))),
                         evaluationFailure],
             .read { context in
            _ = try context.authenticated
            let rule = context.body.members.first { $0.0 == "rule" }?.1 ?? .null
            let data = context.body.members.first { $0.0 == "data" }?.1 ?? .null
            do throws(JsonLogicError) {
                return .json(200, ["result": try JsonLogicRule.apply(rule, to: data)])
            } catch {
                throw APIFailure(jsonLogic: error)
            }
        }),
    ]
}

extension APIFailure {
    /// A rule's failure, naming its path in the request (`rule.if[1]`, `rules.risk.var`).
    init(jsonLogic error: JsonLogicError) {
        self.init(status: 400, type: error.type, code: "jsonlogic_error", message: error.message, param: error.path)
    }
}
