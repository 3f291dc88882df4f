import Foundation
import LedgerDomain
import LedgerStorage
import Synchronization

/// One stream as the projections and reactions see it: whose it is, its state and version, and its views,
/// rendered once when first asked for (the read models and the webhooks carry the same bytes; the state a
/// command started from is never rendered).
public struct StreamState: Sendable {
    public let organizationID: UUID
    public let verification: LoadedVerification
    private let rendered = RenderedOnce()

    public init(organizationID: UUID, _ verification: LoadedVerification) {
        self.organizationID = organizationID
        self.verification = verification
    }

    public var views: RenderedViews { rendered.views(of: verification) }

    public var id: String { verification.id }
    public var state: VerificationState { verification.state }
    public var version: Int64 { verification.version }
}

/// The verification and order objects as JSON text.
public struct RenderedViews: Sendable {
    public let verification: String
    public let order: String?

    public init(_ loaded: LoadedVerification) {
        verification = VerificationView.object(id: loaded.id, state: loaded.state, version: loaded.version).jsonString
        order = OrderView.object(id: loaded.id, state: loaded.state)?.jsonString
    }
}

private final class RenderedOnce: Sendable {
    private let rendered = Mutex<RenderedViews?>(nil)

    func views(of loaded: LoadedVerification) -> RenderedViews {
        rendered.withLock { rendered in
            if let rendered { return rendered }
            let views = RenderedViews(loaded)
            rendered = views
            return views
        }
    }
}

/// A read-model table: every row belongs to one stream, named by its first two columns, `organization_id`
/// and `id`; a stream with several rows tells them apart by the columns after those (`keyLength`).
public struct ProjectionTable: Sendable {
    public let name: String
    /// Every column, `organization_id` and `id` first.
    public let columns: [String]
    /// How many of the first columns are the table's primary key: 2, or more when a stream has several rows.
    public let keyLength: Int
    /// When set, a stored row is replaced only by one of a newer stream version (commits may land out of order).
    public let versionColumn: String?
    /// Whether a stream's row can go away as its state moves on (the service may delete from this table).
    public let rowsCanDisappear: Bool

    public init(name: String, columns: [String], keyLength: Int = 2, versionColumn: String?, rowsCanDisappear: Bool) {
        self.name = name
        self.columns = columns
        self.keyLength = keyLength
        self.versionColumn = versionColumn
        self.rowsCanDisappear = rowsCanDisappear
    }

    /// The primary key's columns.
    public var key: [String] { Array(columns.prefix(keyLength)) }
}

/// One row, its values in the table's column order.
public struct ProjectionRow {
    public let values: [(any PostgresEncodable)?]

    public init(_ values: [(any PostgresEncodable)?]) { self.values = values }

    /// What the row holds, as PostgreSQL is sent it: rows with the same text are the same row.
    var text: [String?] { values.map { $0?.postgresText } }
}

/// A read model: named and versioned, with rows that are a pure function of one stream's state. The inline
/// writer (in the command's transaction) and a rebuild call the same `rows`.
public protocol Projection: Sendable {
    var name: String { get }
    /// Raised when `rows` changes what it makes of a state, so that stored rows are known to be out of date.
    var version: Int { get }
    var table: ProjectionTable { get }
    func rows(_ stream: StreamState) -> [ProjectionRow]
}

/// The read models written inline with every command.
public enum Projections {
    public static let inline: [any Projection] = [VerificationsProjection(), OrdersProjection(), DeadlinesProjection(),
                                                  CustomerVerificationsProjection(), ValidationsProjection(), VerificationReportsProjection(),
                                                  SnapshotsProjection()]

    /// The statements that bring the rows of `after`'s stream up to date. With `before` (the state the
    /// command decided on, whose rows are stored), only rows that differ are written and rows that went away
    /// are deleted; without it (the stored rows are unknown, as in a rebuild), every row is written and, where
    /// rows can disappear, the stream's others are deleted.
    public static func statements(_ projections: [any Projection] = inline, before: StreamState?,
                                  after: StreamState) -> [PostgresStatement] {
        projections.flatMap { projection -> [PostgresStatement] in
            let table = projection.table
            let rows = projection.rows(after)
            guard let before else {
                if rows.isEmpty && table.rowsCanDisappear { return [deleteAll(table, after)] }
                return rows.map { upsert(table, $0) }
            }
            // A row carrying the stream version differs from the stored one after every append, and never
            // goes away: no need to render the state before to know it is to be written.
            if table.versionColumn != nil, !table.rowsCanDisappear, before.version != after.version {
                return rows.map { upsert(table, $0) }
            }
            let stored = projection.rows(before)
            let storedText = stored.map(\.text)
            var statements = rows.filter { !storedText.contains($0.text) }.map { upsert(table, $0) }
            let keys = rows.map { Array($0.text.prefix(table.keyLength)) }
            if table.rowsCanDisappear, stored.contains(where: { !keys.contains(Array($0.text.prefix(table.keyLength))) }) {
                statements.append(deleteAll(table, after))
            }
            return statements
        }
    }

    static func upsert(_ table: ProjectionTable, _ row: ProjectionRow) -> PostgresStatement {
        let columns = table.columns
        let updates = columns.dropFirst(table.keyLength).map { "\($0) = excluded.\($0)" }.joined(separator: ", ")
        let guardVersion = table.versionColumn.map { " WHERE ledger.\(table.name).\($0) < excluded.\($0)" } ?? ""
        return ("""
            INSERT INTO ledger.\(table.name) (\(columns.joined(separator: ", ")))
            VALUES (\(columns.indices.map { "$\($0 + 1)" }.joined(separator: ", ")))
            ON CONFLICT (\(table.key.joined(separator: ", "))) DO UPDATE SET \(updates)\(guardVersion)
            """, row.values)
    }

    static func deleteAll(_ table: ProjectionTable, _ stream: StreamState) -> PostgresStatement {
        deleteAll(table, organizationID: stream.organizationID, id: stream.id)
    }

    static func deleteAll(_ table: ProjectionTable, organizationID: UUID, id: String) -> PostgresStatement {
        ("DELETE FROM ledger.\(table.name) WHERE organization_id = $1 AND id = $2", [organizationID, id])
    }
}
