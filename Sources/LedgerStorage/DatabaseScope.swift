import Foundation

/// Whose rows a transaction may see and write, enforced by row-level security (`Schema/019`) behind the
/// organization and mode filters of every query.
public enum DatabaseScope: Sendable, Equatable {
    /// One organization in one mode: everything a request with an API key does.
    case tenant(organizationID: UUID, livemode: Bool)
    /// One organization in both modes, for jobs that know the organization and not the mode (the expiry of one
    /// verification).
    case organization(UUID)
    /// Every tenant, for the few jobs that work across them and nothing else: authentication by key hash, the
    /// expiry scheduler's claim, the webhook dispatcher's claim, the idempotency purge.
    case system

    /// The statement that opens each of the scope's transactions: its settings last until the transaction ends,
    /// so several transactions' writes committed as one batch each run under their own.
    var statement: PostgresStatement {
        ("SELECT set_config('ledger.organization_id', $1, true), set_config('ledger.livemode', $2, true), "
            + "set_config('ledger.scope', $3, true)", settings.map { $0 as (any PostgresEncodable)? })
    }

    /// The same as SQL text, for transactions run as simple queries (`PostgresConnection.execute`).
    var literalStatement: String {
        let values = settings
        return "SELECT set_config('ledger.organization_id', '\(values[0])', true), set_config('ledger.livemode', '\(values[1])', true), "
            + "set_config('ledger.scope', '\(values[2])', true)"
    }

    /// Organization id, mode and scope name; uuid text, true/false and fixed words, so safe as literals too.
    private var settings: [String] {
        switch self {
        case let .tenant(organizationID, livemode): return [organizationID.postgresText, livemode ? "true" : "false", "tenant"]
        case let .organization(organizationID): return [organizationID.postgresText, "", "tenant"]
        case .system: return ["", "", "system"]
        }
    }
}

/// The pool as one scope sees it: what a request's handlers get, so that none of them can forget whose
/// request it is.
public struct ScopedPool: Sendable {
    public let pool: ConnectionPool
    public let scope: DatabaseScope?

    public init(_ pool: ConnectionPool, scope: DatabaseScope?) {
        self.pool = pool
        self.scope = scope
    }

    public func withConnection<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try pool.withConnection(scope: scope, body)
    }

    public func transaction<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try pool.transaction(scope: scope, body)
    }
}
