import Foundation
import LedgerHTTP
import LedgerStorage

/// `GET /healthz` (the process is up) and `GET /readyz` (the database answers and has every migration).
enum HealthResource {
    static func register(on router: inout Router, pool: ConnectionPool, schemaVersion: Int) {
        router.add("GET", "/healthz") { _ in
            .json(200, ["status": "ok"])
        }
        router.add("GET", "/readyz") { _ in
            do {
                let applied = try pool.withConnection { connection in
                    try connection.query("SELECT coalesce(max(version), 0) FROM ledger.schema_migrations").int(0, 0) ?? 0
                }
                guard applied >= schemaVersion else {
                    return .error(503, type: "api_error", code: "migrations_pending",
                                  message: "the database is at migration \(applied), this build needs \(schemaVersion): run `ledger migrate`")
                }
                return .json(200, ["status": "ready", "schema_version": .int(Int64(applied))])
            } catch let error as PostgresError where error.sqlState == "42P01" || error.sqlState == "3F000" {
                return .error(503, type: "api_error", code: "migrations_pending",
                              message: "the database has no ledger schema yet: run `ledger migrate`")
            } catch {
                return APIError.response(for: error)
            }
        }
    }
}
