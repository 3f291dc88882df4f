import Foundation
import LedgerDomain
import LedgerEngine
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
        case let error as CommandError: return from(error)
        default: return internalError
        }
    }

    static func from(_ error: CommandError) -> APIFailure {
        switch error {
        case let .streamNotFound(id): return notFound("verification", id)
        case let .expectedVersionMismatch(expected, current):
            return APIFailure(status: 409, type: "invalid_request_error", code: "version_conflict",
                              message: "the verification is at version \(current), not \(expected)", param: "If-Match")
        case let .changedMeanwhile(current):
            return APIFailure(status: 409, type: "invalid_request_error", code: "version_conflict",
                              message: "the verification changed meanwhile (now at version \(current)); read it and retry", param: nil)
        case let .refused(error): return from(error)
        }
    }

    static func from(_ error: VerificationError) -> APIFailure {
        switch error {
        case .notFound: return notFound("verification", "")
        case .alreadyExists:
            return APIFailure(status: 409, type: "invalid_request_error", code: "resource_exists", message: error.description, param: nil)
        case .invalidTransition:
            return APIFailure(status: 409, type: "invalid_request_error", code: "invalid_transition", message: error.description, param: nil)
        case let .invalidParameter(param, message): return invalid(param, message)
        case let .attemptNotFound(id): return notFound("attempt", id, param: "attempt_id")
        case let .disputeNotFound(id): return notFound("dispute", id, param: "dispute_id")
        }
    }
}
