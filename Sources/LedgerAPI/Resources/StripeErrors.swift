import Foundation
import LedgerHTTP

/// Refusals in Stripe's words, for the routes that are wire-compatible with Stripe's API: its error codes
/// (docs.stripe.com/error-codes) and the sentences its API answers with, which its client libraries surface as
/// `InvalidRequestError` with `code`, `param` and the message.
enum StripeErrors {
    /// A refused query parameter as Stripe words it. Stripe has no code for a value outside an enumeration, so
    /// that one keeps this API's `parameter_invalid` under Stripe's sentence; a repeated parameter and the checks
    /// Stripe has no word for (length, NUL) stay as the rest of the API words them.
    @Sendable static func worded(_ violation: SchemaViolation) -> SchemaViolation {
        guard let param = violation.param else { return violation }
        func refusal(_ code: String, _ message: String) -> SchemaViolation {
            SchemaViolation(param: param, code: code, message: message, fault: violation.fault)
        }
        switch violation.fault {
        case .unknown:
            return refusal("parameter_unknown", "Received unknown parameter: \(param)")
        case .empty:
            return refusal("parameter_invalid_empty", "You passed an empty string for '\(param)'. We assume empty values are an attempt to "
                + "unset a parameter; however '\(param)' cannot be unset. You should remove '\(param)' from your request or supply a "
                + "non-empty value.")
        case let .notAnInteger(text):
            return refusal("parameter_invalid_integer", "Invalid integer: \(text.prefix(100))")
        case let .belowMinimum(minimum):
            return refusal("parameter_invalid_integer", "This value must be greater than or equal to \(minimum).")
        case let .aboveMaximum(maximum):
            return refusal("parameter_invalid_integer", "This value must be less than or equal to \(maximum).")
        case let .notOneOf(choices):
            return refusal(violation.code, "Invalid \(param): must be one of \(listed(choices))")
        case .missing:
            return refusal("parameter_missing", "Missing required param: \(param).")
        case .duplicate, .other:
            return violation
        }
    }

    /// 404 `resource_missing` for an id that names no object of the caller's, with the parameter that gave it.
    static func missing(_ object: String, _ id: String, param: String) -> APIFailure {
        APIFailure(status: 404, type: "invalid_request_error", code: "resource_missing", message: "No such \(object): '\(id)'", param: param)
    }

    /// 400 `parameters_exclusive`: parameters that cannot be given together, named in the order Stripe names them.
    static func exclusive(_ params: [String]) -> APIFailure {
        APIFailure(status: 400, type: "invalid_request_error", code: "parameters_exclusive",
                   message: "You may only specify one of these parameters: \(params.joined(separator: ", ")).", param: params.first)
    }

    /// `a, b, or c`, as Stripe lists the values an enumeration takes.
    static func listed(_ values: [String]) -> String {
        guard values.count > 2, let last = values.last else { return values.joined(separator: " or ") }
        return values.dropLast().joined(separator: ", ") + ", or " + last
    }
}
