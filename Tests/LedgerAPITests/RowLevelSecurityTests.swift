import Foundation
import LedgerAPI
import LedgerDomain
import LedgerStorage
import LedgerTestSupport
import XCTest

/// Row-level security, the second wall: a query of the service role that forgot its organization filter still
/// sees only the tenant its transaction is scoped to.
final class RowLevelSecurityTests: XCTestCase, ServiceTestCase {
    var service: ServiceFixture!
    var globex: TestOrganization!

    override func setUpWithError() throws {
        try startService(api: APIConfiguration(authCacheSeconds: 0, logRequests: false, allowPrivateWebhooks: true))
        globex = try TestOrganization(database: database, name: "Globex")
        _ = try TenantData(client: client, adminKey: acme.adminKey, label: "acme")
        _ = try TenantData(client: client, adminKey: acme.liveAdminKey, label: "acme-live")
        _ = try TenantData(client: client, adminKey: globex.adminKey, label: "globex")
    }

    struct TenantTable {
        let name: String
        let organizationColumn: String
        let hasMode: Bool
    }

    /// Every table of the ledger schema that holds an organization's rows.
    func tenantTables() throws -> [TenantTable] {
        let rows = try database.ownerConnection().query("""
            SELECT c.relname,
                   CASE WHEN c.relname = 'organizations' THEN 'id' ELSE 'organization_id' END,
                   EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'livemode' AND NOT a.attisdropped)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'ledger' AND c.relkind = 'r'
              AND (c.relname = 'organizations' OR EXISTS (
                  SELECT FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'organization_id' AND NOT a.attisdropped))
            ORDER BY 1
            """)
        return (0..<rows.count).compactMap { row in
            guard let name = rows.string(row, 0), let column = rows.string(row, 1), let hasMode = rows.bool(row, 2) else { return nil }
            return TenantTable(name: name, organizationColumn: column, hasMode: hasMode)
        }
    }

    /// Rows of `table` outside acme's test mode, counted with no filter at all, as the service sees them under `scope`.
    func foreignRows(_ table: TenantTable, scope: DatabaseScope?) throws -> (foreign: Int, all: Int) {
        let mode = table.hasMode ? " OR livemode" : ""
        let rows = try database.pool(size: 1).withConnection(scope: scope) {
            try $0.query("SELECT count(*) FILTER (WHERE \(table.organizationColumn) <> $1\(mode)), count(*) FROM ledger.\(table.name)", [acme.id])
        }
        return (rows.int(0, 0) ?? -1, rows.int(0, 1) ?? -1)
    }

    func testAQueryWithoutItsOrganizationFilterSeesOnlyTheScopedTenant() throws {
        let tables = try tenantTables()
        let owner = try database.ownerConnection()
        var elsewhere: Set<String> = []
        for table in tables {
            let mode = table.hasMode ? " OR livemode" : ""
            let others = try owner.query("SELECT count(*) FROM ledger.\(table.name) WHERE \(table.organizationColumn) <> $1\(mode)", [acme.id])
            if (others.int(0, 0) ?? 0) > 0 { elsewhere.insert(table.name) }

            let seen = try foreignRows(table, scope: .tenant(organizationID: acme.id, livemode: false))
            XCTAssertEqual(seen.foreign, 0, "\(table.name): another tenant's rows are visible")
            let unscoped = try foreignRows(table, scope: nil)
            XCTAssertEqual(unscoped.all, 0, "\(table.name): a transaction that names no tenant sees rows")
        }
        XCTAssertTrue(elsewhere.isSuperset(of: ["api_keys", "events", "idempotency_keys", "orders", "organizations", "outbox",
                                                "postback_secrets", "streams", "verifications",
                                                "webhook_endpoints"]),
                      "the other tenants' rows the test hides exist: \(elsewhere.sorted())")
        let verifications = try XCTUnwrap(tables.first { $0.name == "verifications" })
        XCTAssertEqual(try foreignRows(verifications, scope: .tenant(organizationID: acme.id, livemode: false)).all, 1,
                       "the scoped tenant sees its own rows")
    }

    func testOneOrganizationInBothModesAndTheSystemScope() throws {
        guard let verifications = try tenantTables().first(where: { $0.name == "verifications" }) else { return XCTFail("no verifications table") }
        let bothModes = try foreignRows(verifications, scope: .organization(acme.id))
        XCTAssertEqual(bothModes.all, 2, "acme's test and live verifications")
        XCTAssertEqual(bothModes.foreign, 1, "its live one")
        XCTAssertEqual(try foreignRows(verifications, scope: .system).all, 3)
    }

    func testTheServiceCannotWriteAnotherTenantsRows() throws {
        let pool = database.pool(size: 1)
        XCTAssertThrowsError(try pool.transaction(scope: .tenant(organizationID: acme.id, livemode: false)) { tx in
            try tx.query("INSERT INTO ledger.verification_deadlines (organization_id, id, due_at) VALUES ($1, 'ver_x', now())", [globex.id])
        }) { error in XCTAssertEqual((error as? PostgresError)?.sqlState, "42501", "\(error)") }
        let moved = try pool.withConnection(scope: .tenant(organizationID: acme.id, livemode: false)) {
            try $0.query("UPDATE ledger.verifications SET status = 'hijacked' WHERE organization_id = $1 RETURNING id", [globex.id])
        }
        XCTAssertEqual(moved.count, 0)
    }

    /// A scoped statement outside a transaction runs in one of its own; when it fails, that one is ended too.
    func testAFailedStatementOutsideATransactionLeavesTheConnectionScopedAndUsable() throws {
        let pool = database.pool(size: 1)
        let rows = try pool.withConnection(scope: .tenant(organizationID: acme.id, livemode: false)) { connection in
            XCTAssertThrowsError(try connection.query("SELECT 1 / 0"))
            XCTAssertFalse(connection.isInTransaction)
            XCTAssertThrowsError(try connection.execute("SELECT 1 / 0; SELECT 2"))
            XCTAssertFalse(connection.isInTransaction)
            return try connection.query("SELECT count(*), current_setting('ledger.organization_id') FROM ledger.organizations")
        }
        XCTAssertEqual(rows.int(0, 0), 1)
        XCTAssertEqual(rows.string(0, 1), acme.id.postgresText)
        let after = try pool.withConnection { try $0.query("SELECT current_setting('ledger.organization_id', true)") }
        XCTAssertEqual(after.string(0, 0) ?? "", "", "the setting ended with its transaction; the next holder of the connection has none")
    }

    /// The commit thread sends several requests' writes as one transaction: each runs under its own scope.
    func testWritesOfSeveralTenantsCommittedAsOneBatchEachRunUnderTheirOwn() throws {
        let connection = try PostgresConnection(conninfo: database.conninfo)
        try connection.execute("SET search_path = ledger, public; SET ROLE ledger_service")
        func handOver(_ scope: DatabaseScope, inserting organization: UUID, id: String) throws -> HandedOverWrites {
            connection.scope = scope
            defer { connection.scope = nil }
            let (_, writes) = try connection.transaction({ tx in
                tx.sendWithNextRoundTrip([("INSERT INTO ledger.verification_deadlines (organization_id, id, due_at) VALUES ($1, $2, now())",
                                           [organization, id])])
            }, handingOverWrites: true)
            return try XCTUnwrap(writes)
        }
        let acmeWrites = try handOver(.tenant(organizationID: acme.id, livemode: false), inserting: acme.id, id: "ver_a")
        let globexWrites = try handOver(.tenant(organizationID: globex.id, livemode: false), inserting: globex.id, id: "ver_g")
        try connection.commit([acmeWrites, globexWrites])

        let stray = try handOver(.tenant(organizationID: acme.id, livemode: false), inserting: globex.id, id: "ver_stray")
        let fine = try handOver(.tenant(organizationID: globex.id, livemode: false), inserting: globex.id, id: "ver_fine")
        XCTAssertThrowsError(try connection.commit([fine, stray])) { error in
            XCTAssertEqual((error as? PostgresError)?.sqlState, "42501", "\(error)")
        }
        let kept = try database.ownerConnection().query(
            "SELECT id FROM ledger.verification_deadlines WHERE id IN ('ver_a', 'ver_g', 'ver_stray', 'ver_fine') ORDER BY id")
        XCTAssertEqual((0..<kept.count).compactMap { kept.string($0, 0) }, ["ver_a", "ver_g"])
    }

    func testEveryTenantTableHasAPolicyAndTheServiceRoleCannotBypassIt() throws {
        let owner = try database.ownerConnection()
        let role = try owner.query("SELECT rolbypassrls, rolsuper FROM pg_roles WHERE rolname = 'ledger_service'")
        XCTAssertEqual(role.bool(0, 0), false, "ledger_service has BYPASSRLS")
        XCTAssertEqual(role.bool(0, 1), false)
        for table in try tenantTables() {
            let rows = try owner.query("""
                SELECT c.relrowsecurity, (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid)
                FROM pg_class c WHERE c.oid = ('ledger.' || $1)::regclass
                """, [table.name])
            XCTAssertEqual(rows.bool(0, 0), true, "\(table.name) has no row-level security: add it in a migration")
            XCTAssertGreaterThan(rows.int(0, 1) ?? 0, 0, "\(table.name) has no policy")
        }
    }
}
