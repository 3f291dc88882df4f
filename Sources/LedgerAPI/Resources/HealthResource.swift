import Foundation
import LedgerHTTP
import LedgerStorage

/// `GET /healthz` (the process is up) and `GET /readyz` (the database answers and has every migration).
enum HealthResource {
    static func operations(schemaVersion: Int) -> [APIOperation] {
        [
            .api("GET", "/healthz", id: "health", summary: "The process is up", scope: nil,
                 responses: [APIResponses.ok("Up", APISchemas.status)],
                 .read { _ in .json(200, ["status": "ok"]) }),

            .api("GET", "/readyz", id: "ready", summary: "The database is reachable and migrated", scope: nil,
                 responses: [APIResponses.ok("Ready", APISchemas.ready), APIResponses.unavailable],
                 .read { context in
                     let applied: Int
                     do {
                         applied = try context.pool.withConnection { connection in
                             try connection.query("SELECT coalesce(max(version), 0) FROM ledger.schema_migrations").int(0, 0) ?? 0
                         }
                     } catch let error as PostgresError where error.sqlState == "42P01" || error.sqlState == "3F000" {
                         throw APIFailure(status: 503, type: "api_error", code: "migrations_pending",
                                          message: "the database has no ledger schema yet: run `ledger migrate`", param: nil)
                     }
                     guard applied >= schemaVersion else {
                         throw APIFailure(status: 503, type: "api_error", code: "migrations_pending",
                                          message: "the database is at migration \(applied), this build needs \(schemaVersion): run `ledger migrate`",
                                          param: nil)
                     }
                     return .json(200, ["status": "ready", "schema_version": .int(Int64(applied))])
                 }),
        ]
    }
}
