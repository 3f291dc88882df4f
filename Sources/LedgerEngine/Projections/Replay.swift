import Foundation
import LedgerCrypto
import LedgerDomain
import LedgerStorage

/// A live read-model row that is not what its projection makes of the log.
public struct ReplayDifference: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// Both exist; these columns differ.
        case fields([String])
        /// The log makes a row that the live table lacks.
        case missing
        /// The live table holds a row the log does not make.
        case unexpected
    }

    public let projection: String
    public let organizationID: UUID
    public let id: String
    public let kind: Kind

    public var description: String {
        let key = "\(projection) \(organizationID.uuidString.lowercased())/\(id)"
        switch kind {
        case let .fields(names): return "\(key): \(names.joined(separator: ", ")) differ"
        case .missing: return "\(key): missing (the log makes this row)"
        case .unexpected: return "\(key): unexpected (the log makes no such row)"
        }
    }
}

/// Read models from the log alone, with the projections' own `rows`: compared with the live tables, or
/// repaired in them. Neither appends to the log or queues a webhook (no reaction runs).
public enum Replay {
    /// Folds every stream and compares the rows its projections make with the live rows, in one
    /// repeatable-read snapshot (so commands committing meanwhile are in both or in neither). Changes nothing.
    /// `progress` is told how many streams were folded so far, after every page of them.
    public static func check(_ connection: PostgresConnection, projections: [any Projection] = Projections.inline,
                             vault: PersonalDataVault? = nil,
                             progress: (_ streams: Int) -> Void = { _ in }) throws -> [ReplayDifference] {
        try connection.transaction { tx in
            try tx.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            try tx.execute(sessionSettings)
            for projection in projections {
                try tx.execute("CREATE TEMP TABLE \(shadow(projection)) (LIKE ledger.\(projection.table.name)) ON COMMIT DROP")
            }
            try forEachStream(tx, vault: vault, progress: progress) { stream in
                let statements = projections.flatMap { projection in
                    projection.rows(stream).map { insert(into: shadow(projection), projection.table, $0) }
                }
                if !statements.isEmpty { _ = try tx.pipeline(statements) }
            }
            return try projections.flatMap { try differences(tx, projection: $0) }
        }
    }

    /// Checks, then rewrites the rows of every stream that differs, each in a short transaction that locks
    /// the stream first (as commands do), so `ledger serve` may keep taking commands; live rows the log
    /// makes no row for are deleted. Returns what it repaired.
    @discardableResult
    public static func repair(_ connection: PostgresConnection, projections: [any Projection] = Projections.inline,
                              vault: PersonalDataVault? = nil,
                              progress: (_ streams: Int) -> Void = { _ in }) throws -> [ReplayDifference] {
        let found = try check(connection, projections: projections, vault: vault, progress: progress)
        var seen = Set<String>()
        for difference in found where seen.insert("\(difference.organizationID)/\(difference.id)").inserted {
            try connection.transaction { tx in
                try tx.execute(sessionSettings)
                let organizationID = difference.organizationID, id = difference.id
                _ = try tx.query("SELECT 1 FROM ledger.streams WHERE organization_id = $1 AND stream_id = $2 FOR UPDATE",
                                 [organizationID, id])
                let loaded = try VerificationStore.load(tx, organizationID: organizationID, id: id, vault: vault)
                var statements: [PostgresStatement] = projections.map { Projections.deleteAll($0.table, organizationID: organizationID, id: id) }
                if let loaded {
                    let stream = StreamState(organizationID: organizationID, loaded,
                                             sealing: try StreamSealing.writing(tx, vault: vault, organizationID: organizationID, loaded.state))
                    statements += projections.flatMap { projection in
                        projection.rows(stream).map { insert(into: "ledger.\(projection.table.name)", projection.table, $0) }
                    }
                }
                _ = try tx.pipeline(statements)
            }
        }
        try record(connection, projections)
        return found
    }

    /// Rebuilds (`repair`) every projection whose code is at a newer version than the one its rows were
    /// written by, and records the new versions; returns their names (none when every one is current).
    @discardableResult
    public static func rebuildRaised(_ connection: PostgresConnection, projections: [any Projection] = Projections.inline,
                                     vault: PersonalDataVault? = nil) throws -> [String] {
        let rows = try connection.query("SELECT name, version FROM ledger.projection_versions")
        var stored: [String: Int] = [:]
        for row in 0..<rows.count {
            guard let name = rows.string(row, 0), let version = rows.int(row, 1) else {
                throw StorageError.unreadableRow(table: "projection_versions", key: rows.string(row, 0) ?? "?")
            }
            stored[name] = version
        }
        let raised = projections.filter { projection in stored[projection.name].map { $0 < projection.version } ?? true }
        guard !raised.isEmpty else { return [] }
        try repair(connection, projections: raised, vault: vault)
        return raised.map { $0.name }
    }

    /// Notes that the rows of `projections` are those of their code's version.
    static func record(_ connection: PostgresConnection, _ projections: [any Projection]) throws {
        _ = try connection.pipeline(projections.map { projection in
            ("""
             INSERT INTO ledger.projection_versions (name, version) VALUES ($1, $2)
             ON CONFLICT (name) DO UPDATE SET version = excluded.version, rebuilt_at = now()
             """, [projection.name, projection.version])
        })
    }

    /// Times read and written in UTC and ISO format, as the service's connections have them.
    static let sessionSettings = "SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO'"

    static func shadow(_ projection: any Projection) -> String { "pg_temp.replay_\(projection.table.name)" }

    static func insert(into table: String, _ definition: ProjectionTable, _ row: ProjectionRow) -> PostgresStatement {
        ("INSERT INTO \(table) (\(definition.columns.joined(separator: ", "))) VALUES (\(definition.columns.indices.map { "$\($0 + 1)" }.joined(separator: ", ")))",
         row.values)
    }

    /// Every stream's latest state, streams a page at a time in key order.
    static func forEachStream(_ tx: PostgresConnection, vault: PersonalDataVault?, progress: (Int) -> Void,
                              _ body: (StreamState) throws -> Void) throws {
        var after: (UUID, String)?
        var folded = 0
        while true {
            let page = try tx.query("""
                SELECT organization_id, stream_id FROM ledger.streams
                WHERE $1::uuid IS NULL OR (organization_id, stream_id) > ($1, $2)
                ORDER BY organization_id, stream_id LIMIT 1000
                """, [after?.0, after?.1])
            for row in 0..<page.count {
                guard let organizationID = page.uuid(row, 0), let id = page.string(row, 1) else {
                    throw StorageError.unreadableRow(table: "streams", key: page.string(row, 1) ?? "?")
                }
                after = (organizationID, id)
                if let loaded = try VerificationStore.load(tx, organizationID: organizationID, id: id, vault: vault) {
                    // Read-only: an entity with no key yet (its events predate encryption) is compared as it was written.
                    let sealing = try loaded.state.invitation.flatMap { invitation in
                        try vault.map { vault in
                            let owner = DataKeyOwner(organizationID: organizationID, entityID: invitation.entityID)
                            return StreamSealing(vault: vault, owner: owner, key: try vault.key(tx, owner, livemode: invitation.livemode))
                        }
                    }
                    try body(StreamState(organizationID: organizationID, loaded, sealing: sealing))
                }
            }
            folded += page.count
            progress(folded)
            guard page.count == 1000 else { return }
        }
    }

    static func differences(_ tx: PostgresConnection, projection: any Projection) throws -> [ReplayDifference] {
        let rows = try tx.query("""
            SELECT coalesce(l.organization_id, r.organization_id), coalesce(l.id, r.id), to_jsonb(l)::text, to_jsonb(r)::text
            FROM ledger.\(projection.table.name) l
            FULL JOIN \(shadow(projection)) r ON r.organization_id = l.organization_id AND r.id = l.id
            WHERE to_jsonb(l) IS DISTINCT FROM to_jsonb(r)
            ORDER BY 1, 2
            """)
        return try (0..<rows.count).map { row in
            guard let organizationID = rows.uuid(row, 0), let id = rows.string(row, 1) else {
                throw StorageError.unreadableRow(table: projection.table.name, key: rows.string(row, 1) ?? "?")
            }
            let live = rows.json(row, 2)?.objectValue, rebuilt = rows.json(row, 3)?.objectValue
            let kind: ReplayDifference.Kind
            switch (live, rebuilt) {
            case (nil, _): kind = .missing
            case (_, nil): kind = .unexpected
            case let (live?, rebuilt?):
                let rebuiltValues = Dictionary(rebuilt, uniquingKeysWith: { $1 })
                kind = .fields(live.filter { rebuiltValues[$0.0] != $0.1 }.map(\.0))
            }
            return ReplayDifference(projection: projection.name, organizationID: organizationID, id: id, kind: kind)
        }
    }
}
