import Foundation
import LedgerDomain
import LedgerHTTP
import LedgerStorage

/// The REST service: every resource's routes over one connection pool.
public final class LedgerApplication: Sendable {
    public let pool: ConnectionPool
    /// The newest migration this build knows; `/readyz` wants the database at it.
    public let schemaVersion: Int
    public let router: Router

    public init(pool: ConnectionPool, schemaVersion: Int) {
        self.pool = pool
        self.schemaVersion = schemaVersion
        var router = Router()
        HealthResource.register(on: &router, pool: pool, schemaVersion: schemaVersion)
        self.router = router
    }

    public func handle(_ request: HTTPRequest) -> HTTPResponse {
        router.handle(request)
    }
}

/// Answers for failures no resource handles itself.
enum APIError {
    static func databaseUnavailable(_ error: Error) -> HTTPResponse {
        .error(503, type: "api_error", code: "database_unavailable",
               message: "the database is not reachable; retry later", headers: [("Retry-After", "1")])
    }

    static func internalError() -> HTTPResponse {
        .error(500, type: "api_error", code: "internal_error", message: "an unexpected error occurred")
    }

    /// 503 for an unreachable database, 500 for anything else; never a stack trace.
    static func response(for error: Error) -> HTTPResponse {
        if let error = error as? PostgresError, error.isUnavailable { return databaseUnavailable(error) }
        return internalError()
    }
}
