import Foundation
import LedgerHTTP
import LedgerStorage

/// A refusal in the API's one error shape. Handlers throw it; the pipeline turns it into the response.
public struct APIFailure: Error, Equatable, Sendable {
    public var status: Int
    public var type: String
    public var code: String
    public var message: String
    public var param: String?
    public var headers: [(String, String)] = []

    public static func == (lhs: APIFailure, rhs: APIFailure) -> Bool {
        lhs.status == rhs.status && lhs.type == rhs.type && lhs.code == rhs.code && lhs.param == rhs.param
    }

    public var response: HTTPResponse {
        .error(status, type: type, code: code, message: message, param: param, headers: headers)
    }

    static func invalid(_ param: String?, code: String = "parameter_invalid", _ message: String) -> APIFailure {
        APIFailure(status: 400, type: "invalid_request_error", code: code, message: message, param: param)
    }

    static func missing(_ param: String) -> APIFailure {
        invalid(param, code: "parameter_missing", "\(param) is required")
    }

    static func notFound(_ what: String, _ id: String, param: String = "id") -> APIFailure {
        APIFailure(status: 404, type: "invalid_request_error", code: "resource_missing", message: "no \(what) \(id)", param: param)
    }

    static func unauthenticated(_ code: String, _ message: String) -> APIFailure {
        APIFailure(status: 401, type: "authentication_error", code: code, message: message, param: nil,
                   headers: [("WWW-Authenticate", "Bearer realm=\"ledger\"")])
    }

    static func forbidden(needs scope: String) -> APIFailure {
        APIFailure(status: 403, type: "permission_error", code: "insufficient_scope",
                   message: "this API key lacks the '\(scope)' scope this request needs", param: nil)
    }

    static let databaseUnavailable = APIFailure(status: 503, type: "api_error", code: "database_unavailable",
                                                message: "the database is not reachable; retry later", param: nil,
                                                headers: [("Retry-After", "1")])

    static let internalError = APIFailure(status: 500, type: "api_error", code: "internal_error",
                                          message: "an unexpected error occurred", param: nil)

    /// The failure an error stands for: itself, 503 for an unreachable database, 500 for anything else.
    static func from(_ error: Error) -> APIFailure {
        switch error {
        case let failure as APIFailure: return failure
        case let error as PostgresError where error.isUnavailable: return databaseUnavailable
        case let error as IdempotencyError:
            switch error {
            case .keyInUse:
                return APIFailure(status: 409, type: "idempotency_error", code: "idempotency_key_in_use",
                                  message: error.description, param: "Idempotency-Key")
            case .keyReusedWithDifferentRequest:
                return APIFailure(status: 422, type: "idempotency_error", code: "idempotency_key_reused",
                                  message: error.description, param: "Idempotency-Key")
            }
        default: return internalError
        }
    }
}
