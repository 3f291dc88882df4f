import Foundation
import LedgerCrypto

/// Brings a database to this build's schema, as message-db's installer does: first the numbered SQL files of
/// `Schema/` (tables, indexes, grants; append-only history), in order, each in its own transaction and recorded
/// with the SHA-256 of its text so that a file changed after it was applied stops start-up; then every file of
/// `Schema/functions/`, one SQL function each written as `CREATE OR REPLACE`, all in one transaction, in every
/// run. So the current definition of a function is read in one file, and changing that file is how a function
/// changes (a migration is still needed to change its signature: drop the old one there, since `CREATE OR
/// REPLACE` with other parameters adds an overload). Both steps hold the migrator's advisory lock.
public struct Migrator: Sendable {
    public struct Migration: Sendable, Equatable {
        public let version: Int
        public let name: String
        public let sql: String
        public var checksum: String { Digest.sha256(sql).hexString }
    }

    /// One file of `Schema/functions/`: the current definition of one SQL function.
    public struct Function: Sendable, Equatable {
        /// The file's name without `.sql`, which is the function's.
        public let name: String
        public let sql: String
        public var checksum: String { Digest.sha256(sql).hexString }
    }

    public enum Failure: Error, CustomStringConvertible, Equatable {
        case schemaDirectoryNotFound
        case unreadable(String)
        case duplicateVersion(Int)
        case changedAfterApplied(version: Int, name: String, recorded: String, now: String)
        case unknownApplied(version: Int, name: String)
        case failed(version: Int, name: String, reason: String)
        case functionFailed(name: String, reason: String)

        public var description: String {
            switch self {
            case .schemaDirectoryNotFound:
                return "the Schema/ folder with the SQL migrations was not found: run from the project folder or set LEDGER_SCHEMA_DIR"
            case let .unreadable(file): return "cannot read migration \(file)"
            case let .duplicateVersion(version): return "two migrations are numbered \(version)"
            case let .changedAfterApplied(version, name, recorded, now):
                return "migration \(version) (\(name)) was changed after it was applied: recorded checksum \(recorded), file now \(now). Applied migrations must never change; add a new one instead."
            case let .unknownApplied(version, name):
                return "the database has migration \(version) (\(name)) which this build does not know: is it older than the database?"
            case let .failed(version, name, reason): return "migration \(version) (\(name)) failed: \(reason)"
            case let .functionFailed(name, reason):
                return "function file functions/\(name).sql failed (no function was changed): \(reason)"
            }
        }
    }

    public let migrations: [Migration]
    /// In name order.
    public let functions: [Function]

    public init(migrations: [Migration], functions: [Function] = []) {
        self.migrations = migrations.sorted { $0.version < $1.version }
        self.functions = functions.sorted { $0.name < $1.name }
    }

    public init(directory: URL) throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        var found: [Migration] = []
        for file in files where file.hasSuffix(".sql") {
            let digits = file.prefix { $0.isNumber }
            guard let version = Int(digits), !digits.isEmpty else { continue }
            guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent(file).path) else {
                throw Failure.unreadable(file)
            }
            let name = String(file.dropLast(4).dropFirst(digits.count).drop { $0 == "_" })
            if found.contains(where: { $0.version == version }) { throw Failure.duplicateVersion(version) }
            found.append(Migration(version: version, name: name, sql: String(decoding: data, as: UTF8.self)))
        }
        self.init(migrations: found, functions: try Self.functions(in: directory.appendingPathComponent("functions")))
    }

    /// The `.sql` files of `directory` (none when it does not exist).
    static func functions(in directory: URL) throws -> [Function] {
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return [] }
        return try files.filter { $0.hasSuffix(".sql") }.map { file in
            guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent(file).path) else {
                throw Failure.unreadable("functions/\(file)")
            }
            return Function(name: String(file.dropLast(4)), sql: String(decoding: data, as: UTF8.self))
        }
    }

    /// `LEDGER_SCHEMA_DIR`, else a `Schema/` folder in the working directory or beside/above the executable.
    public static func locateSchemaDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> URL {
        if let explicit = environment["LEDGER_SCHEMA_DIR"] { return URL(fileURLWithPath: explicit) }
        var candidates = [URL(fileURLWithPath: FileManager.default.currentDirectoryPath)]
        var executable = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath()
        for _ in 0..<6 {
            executable = executable.deletingLastPathComponent()
            candidates.append(executable)
        }
        for candidate in candidates {
            let schema = candidate.appendingPathComponent("Schema")
            if FileManager.default.fileExists(atPath: schema.appendingPathComponent("001_schema.sql").path) { return schema }
        }
        throw Failure.schemaDirectoryNotFound
    }

    private static let lockKey = 0x6c6564676572 // "ledger": one migrator at a time, whichever instance starts first

    /// Applies the pending migrations, then every function file; returns the migrations applied by this call.
    /// A run with nothing pending and no function file changed changes nothing (each function is replaced by
    /// its own definition); `ledger.schema_functions` keeps each file's checksum and when it last changed.
    @discardableResult
    public func migrate(_ connection: PostgresConnection) throws -> [Migration] {
        try connection.execute("SELECT pg_advisory_lock(\(Migrator.lockKey))")
        defer { _ = try? connection.execute("SELECT pg_advisory_unlock(\(Migrator.lockKey))") }
        try connection.execute("""
            CREATE SCHEMA IF NOT EXISTS ledger;
            CREATE TABLE IF NOT EXISTS ledger.schema_migrations (
                version integer PRIMARY KEY,
                name text NOT NULL,
                checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            );
            CREATE TABLE IF NOT EXISTS ledger.schema_functions (
                name text PRIMARY KEY,
                checksum text NOT NULL,
                changed_at timestamptz NOT NULL DEFAULT now()
            );
            """)
        let pending = try pendingMigrations(connection)
        for migration in pending {
            do {
                try connection.transaction { tx in
                    try tx.execute(migration.sql)
                    try tx.query("INSERT INTO ledger.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                                 [migration.version, migration.name, migration.checksum])
                }
            } catch {
                throw Failure.failed(version: migration.version, name: migration.name, reason: "\(error)")
            }
        }
        try applyFunctions(connection)
        return pending
    }

    /// Every function file, in one transaction: all of them or none. Bodies are checked when called, not when
    /// created (as pg_dump restores them), so the files need no order among themselves.
    private func applyFunctions(_ connection: PostgresConnection) throws {
        guard !functions.isEmpty else { return }
        var current = ""
        do {
            try connection.transaction { tx in
                try tx.execute("SET LOCAL check_function_bodies = off")
                for function in functions {
                    current = function.name
                    try tx.execute(function.sql)
                }
                current = ""
                _ = try tx.pipeline(functions.map { function in
                    ("""
                     INSERT INTO ledger.schema_functions (name, checksum) VALUES ($1, $2)
                     ON CONFLICT (name) DO UPDATE SET checksum = excluded.checksum, changed_at = now()
                     WHERE ledger.schema_functions.checksum <> excluded.checksum
                     """, [function.name, function.checksum])
                })
            }
        } catch {
            throw Failure.functionFailed(name: current.isEmpty ? "(recording checksums)" : current, reason: "\(error)")
        }
    }

    /// Migrations not yet applied; throws if an applied one changed or is unknown to this build.
    public func pendingMigrations(_ connection: PostgresConnection) throws -> [Migration] {
        let exists = try connection.query("SELECT to_regclass('ledger.schema_migrations') IS NOT NULL")
        guard exists.bool(0, 0) == true else { return migrations }
        let rows = try connection.query("SELECT version, name, checksum FROM ledger.schema_migrations ORDER BY version")
        var applied: [Int: String] = [:]
        for row in 0..<rows.count {
            guard let version = rows.int(row, 0), let checksum = rows.string(row, 2) else { continue }
            guard let migration = migrations.first(where: { $0.version == version }) else {
                throw Failure.unknownApplied(version: version, name: rows.string(row, 1) ?? "?")
            }
            if migration.checksum != checksum {
                throw Failure.changedAfterApplied(version: version, name: migration.name, recorded: checksum,
                                                  now: migration.checksum)
            }
            applied[version] = checksum
        }
        return migrations.filter { applied[$0.version] == nil }
    }
}
