import Foundation
import LedgerCrypto
import LedgerDomain
import LedgerStorage
import Synchronization

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

/// How far a replay got, as it tells its caller after every page.
public struct ReplayProgress: Sendable, Equatable {
    public enum Phase: String, Sendable {
        /// Folding every stream, in key order.
        case bulk
        /// Folding again the streams that changed since the bulk pass began, from the feed.
        case catchUp = "catch_up"
        /// Under the brief lock: the last events, the comparison, and the swap (for a rebuild).
        case swap
    }

    public var phase: Phase
    /// Events folded by the bulk pass so far, in this run and the runs it continues.
    public var events: Int64
    /// Events in the log when the replay began (for an ETA).
    public var totalEvents: Int64
    public var streams: Int64
    /// Events folded again by the catch-up.
    public var caughtUp: Int64
}

/// How many rows a replay found differing (and, for a rebuild, wrote), and in how many streams.
public struct ReplayTally: Sendable, Equatable {
    public let rows: Int
    public let streams: Int
}

/// The phases of a replay, in the order they happen, each summed over its pages (the bulk pass's writer runs beside
/// the folding, so the sum can exceed the time taken), told to the caller as one line when the replay ends.
enum ReplayPhase: String, CaseIterable, Sendable {
    case read, decode, evolve
    /// The folding waits for the page writer (at most two pages behind).
    case waitForWriter = "wait_for_writer"
    /// On the page writer's thread: the documents rendered and sealed, and their COPY.
    case rows, copy
    case catchUp = "catch_up"
    case indexes
    case foldBehind = "fold_behind"
    case compare, swap, report, drop
}

extension PhaseSeconds where Phase == ReplayPhase {
    /// "replay phases (s): read 1.23, decode 4.56, ..."
    var summary: String {
        "replay phases (s): " + named.map { "\($0.0) \(String(format: "%.2f", $0.1))" }.joined(separator: ", ")
    }
}

public enum ReplayError: Error, CustomStringConvertible {
    case alreadyRunning

    public var description: String {
        switch self {
        case .alreadyRunning: return "another ledger replay is running on this database; wait for it to finish"
        }
    }
}

/// The entities' data keys as a replay's bulk pass reads them: each read once per pass (a stream of it would
/// otherwise read it twice, to open its events and to seal its documents), and held until the pass ends.
///
/// Holding them is safe: a key destroyed after the replay began is destroyed by an erasure that appends to every
/// stream of the entity, after the feed cursor, so the catch-up (which reads keys afresh) folds those streams again.
final class ReplayKeys {
    let vault: PersonalDataVault
    private var read: [Holder: PersonalDataKey] = [:]
    private struct Holder: Hashable {
        let owner: DataKeyOwner
        let livemode: Bool
    }

    /// Entities' keys held at most (about a megabyte); past that, the held ones are dropped and read again as needed.
    static let capacity = 10_000

    init(_ vault: PersonalDataVault) { self.vault = vault }

    func key(_ connection: PostgresConnection, _ owner: DataKeyOwner, livemode: Bool) throws -> PersonalDataKey {
        let holder = Holder(owner: owner, livemode: livemode)
        if let held = read[holder] { return held }
        let key = try vault.key(connection, owner, livemode: livemode)
        if read.count >= Self.capacity { read.removeAll(keepingCapacity: true) }
        read[holder] = key
        return key
    }
}

/// The bulk pass's writes, on a thread and a connection of their own: the documents of one page's streams are
/// rendered and sealed (the page's two halves at once, one on each core), and PostgreSQL takes their rows in, while
/// the next page is read and folded. Pages are written in order, each with its checkpoint in one transaction (so a
/// run killed at any point continues from a page boundary), at most two pages behind the folding (memory stays flat:
/// one page's rows are held at a time, as one buffer per half and table).
final class ReplayPageWriter: @unchecked Sendable { // its connection is used on `queue` alone
    struct Page: Sendable {
        let streams: [StreamState]
        let versions: [(UUID, String, Int64)]
        let checkpoint: Replay.Checkpoint
    }

    private let connection: PostgresConnection
    private let tables: [Replay.ShadowTable]
    private let phases: PhaseTally<ReplayPhase>
    private let queue = DispatchQueue(label: "ledger.replay.writer")
    private let room = DispatchSemaphore(value: 2)
    private let failure = Mutex<(any Error)?>(nil)

    init(conninfo: String, tables: [Replay.ShadowTable], phases: PhaseTally<ReplayPhase>) throws {
        connection = try PostgresConnection(conninfo: conninfo)
        try connection.execute("SET TimeZone = 'UTC'; SET DateStyle = 'ISO'")
        self.tables = tables
        self.phases = phases
    }

    /// Queues the page (waiting while two are queued); throws what an earlier page's write failed with.
    func write(_ page: Page) throws {
        if let failed = failure.withLock({ $0 }) { throw failed }
        phases.time(.waitForWriter) { room.wait() }
        queue.async { [self] in
            defer { room.signal() }
            guard failure.withLock({ $0 == nil }) else { return }
            do {
                let halves = phases.time(.rows) { Self.rows(tables, page.streams) }
                try phases.time(.copy) {
                  try connection.transaction { tx in
                    for (index, table) in tables.enumerated() {
                        for half in halves { try table.insert(tx, half[index]) }
                    }
                    _ = try tx.pipeline([Replay.recordVersions(page.versions), page.checkpoint.statement].compactMap { $0 })
                  }
                }
            } catch {
                failure.withLock { $0 = error }
            }
        }
    }

    /// The rows of each half of `streams` (in order), by table: the two halves rendered at once.
    static func rows(_ tables: [Replay.ShadowTable], _ streams: [StreamState]) -> [[PostgresCopyRows]] {
        let halves = [streams[..<(streams.count / 2)], streams[(streams.count / 2)...]]
        let rendered = Mutex<[[PostgresCopyRows]]>(Array(repeating: [], count: halves.count))
        DispatchQueue.concurrentPerform(iterations: halves.count) { half in
            let rows = tables.map { $0.rows(halves[half]) }
            rendered.withLock { $0[half] = rows }
        }
        return rendered.withLock { $0 }
    }

    /// Waits for every queued page; throws what a write failed with.
    func finish() throws {
        phases.time(.waitForWriter) { waitForWrites() }
        if let failed = failure.withLock({ $0 }) { throw failed }
    }

    func waitForWrites() { queue.sync {} }
}

/// Read models rebuilt from the log alone, with the projections' own `rows`, into shadow tables
/// (`ledger_replay.<table>`), then compared with the live tables and, for a rebuild, swapped in.
///
/// 1. Bulk pass: every event in stream key order (one stream's state in memory at a time), a page per
///    statement; each page's finished streams are written to the shadow tables together with the checkpoint
///    (`ledger.replay_checkpoint`), so a run killed mid-way is continued by the next.
/// 2. Catch-up: the streams that the gap-safe feed shows changed since the bulk pass began (its first
///    snapshot's xmin) are folded again, page by page, each page committed with the feed cursor.
/// 3. Swap, in one short transaction: lock the live tables against writers (`EXCLUSIVE`: reads go on),
///    fold again every stream whose committed version is not the one it was folded at (a join of
///    `ledger.streams` with `ledger_replay.stream_versions`: exact, whatever the feed still held back),
///    compare shadow with live, and for a rebuild rename the shadow tables in (under `ACCESS EXCLUSIVE`, for the
///    renames only). Commands that were waiting then write their rows on top, as they would have on the old
///    ones (PostgreSQL looks their tables up again by name once it grants the lock).
///
/// Why a rebuild renames its tables in rather than writing the differing rows into the live ones: every row is then
/// written once, and every index built once, in bulk; writing them again into the live tables (logged, indexed)
/// under the lock was most of a full rebuild's time. The shadow tables are made as the live ones are (`create`:
/// storage parameters, row-level security and policies, grants; `buildIndexes`: the indexes and constraints under their
/// names), so what the migrations gave the live tables stays (`ReplayTests` compares the catalog before and after).
///
/// Nothing here appends to the log or queues a webhook: no reaction runs.
public enum Replay {
    /// Builds the shadow tables and compares them with the live ones under the brief lock; changes no live
    /// row. Hands every difference to `found`, a page at a time after the lock is released (memory does not grow
    /// with their number).
    @discardableResult
    public static func check(_ connection: PostgresConnection, projections: [any Projection] = Projections.inline,
                             vault: PersonalDataVault? = nil, pageSize: Int = defaultPageSize,
                             progress: (ReplayProgress) -> Void = { _ in }, told: (String) -> Void = { _ in },
                             differences found: (ReplayDifference) throws -> Void) throws -> ReplayTally {
        try run(connection, projections: projections, vault: vault, swap: false, pageSize: pageSize, progress: progress, told: told, found: found)
    }

    /// `check`, returning every difference.
    public static func check(_ connection: PostgresConnection, projections: [any Projection] = Projections.inline,
                             vault: PersonalDataVault? = nil, pageSize: Int = defaultPageSize,
                             progress: (ReplayProgress) -> Void = { _ in }, told: (String) -> Void = { _ in }) throws -> [ReplayDifference] {
        var all: [ReplayDifference] = []
        try check(connection, projections: projections, vault: vault, pageSize: pageSize, progress: progress, told: told) { all.append($0) }
        return all
    }

    /// Builds the shadow tables, then writes every differing row into the live tables in one short
    /// transaction, and records the projections' versions. Hands what it repaired to `found` once that is
    /// committed, as `check` does.
    @discardableResult
    public static func repair(_ connection: PostgresConnection, projections: [any Projection] = Projections.inline,
                              vault: PersonalDataVault? = nil, pageSize: Int = defaultPageSize,
                              progress: (ReplayProgress) -> Void = { _ in }, told: (String) -> Void = { _ in },
                              differences found: (ReplayDifference) throws -> Void) throws -> ReplayTally {
        try run(connection, projections: projections, vault: vault, swap: true, pageSize: pageSize, progress: progress, told: told, found: found)
    }

    /// `repair`, returning what it repaired.
    @discardableResult
    public static func repair(_ connection: PostgresConnection, projections: [any Projection] = Projections.inline,
                              vault: PersonalDataVault? = nil, pageSize: Int = defaultPageSize,
                              progress: (ReplayProgress) -> Void = { _ in }, told: (String) -> Void = { _ in }) throws -> [ReplayDifference] {
        var all: [ReplayDifference] = []
        try repair(connection, projections: projections, vault: vault, pageSize: pageSize, progress: progress, told: told) { all.append($0) }
        return all
    }

    /// Rebuilds (`repair`) every projection whose code is at a newer version than the one its rows were
    /// written by, and records the new versions; returns their names (none when every one is current). Waits
    /// for a replay already running (another instance starting at the same time rebuilds them first).
    @discardableResult
    public static func rebuildRaised(_ connection: PostgresConnection, projections: [any Projection] = Projections.inline,
                                     vault: PersonalDataVault? = nil) throws -> [String] {
        func raised() throws -> [any Projection] {
            let rows = try connection.query("SELECT name, version FROM ledger.projection_versions")
            var stored: [String: Int] = [:]
            for row in 0..<rows.count {
                guard let name = rows.string(row, 0), let version = rows.int(row, 1) else {
                    throw StorageError.unreadableRow(table: "projection_versions", key: rows.string(row, 0) ?? "?")
                }
                stored[name] = version
            }
            return projections.filter { projection in stored[projection.name].map { $0 < projection.version } ?? true }
        }
        guard !(try raised()).isEmpty else { return [] }
        try connection.execute("SELECT pg_advisory_lock(\(lockKey))")
        defer { _ = try? connection.execute("SELECT pg_advisory_unlock(\(lockKey))") }
        let rebuilding = try raised()
        guard !rebuilding.isEmpty else { return [] }
        try build(connection, projections: rebuilding, vault: vault, swap: true, pageSize: defaultPageSize, progress: { _ in }, told: { _ in },
                  found: { _ in })
        return rebuilding.map { $0.name }
    }

    /// Events read per statement by the bulk pass and the catch-up; `LEDGER_REPLAY_PAGE_EVENTS` sets it.
    public static var defaultPageSize: Int {
        ProcessInfo.processInfo.environment["LEDGER_REPLAY_PAGE_EVENTS"].flatMap { Int($0) }.map { max(1, min($0, 100_000)) } ?? 5_000
    }

    /// "ledger-rp": one replay at a time per database.
    static let lockKey = 0x6c65_6467_6572_7270

    static func run(_ connection: PostgresConnection, projections: [any Projection], vault: PersonalDataVault?, swap: Bool, pageSize: Int,
                    progress: (ReplayProgress) -> Void, told: (String) -> Void, found: (ReplayDifference) throws -> Void) throws -> ReplayTally {
        guard try connection.query("SELECT pg_try_advisory_lock(\(lockKey))").bool(0, 0) == true else { throw ReplayError.alreadyRunning }
        defer { _ = try? connection.execute("SELECT pg_advisory_unlock(\(lockKey))") }
        return try build(connection, projections: projections, vault: vault, swap: swap, pageSize: pageSize, progress: progress, told: told,
                         found: found)
    }

    /// The three steps, continuing a checkpoint for the same projections if there is one.
    @discardableResult
    static func build(_ connection: PostgresConnection, projections: [any Projection], vault: PersonalDataVault?, swap: Bool, pageSize: Int,
                      progress: (ReplayProgress) -> Void, told: (String) -> Void,
                      found: (ReplayDifference) throws -> Void) throws -> ReplayTally {
        try connection.execute("SET TimeZone = 'UTC'; SET DateStyle = 'ISO'")
        let tables = projections.map(ShadowTable.init)
        let phases = PhaseTally<ReplayPhase>()
        // A repair seals the rows of entities whose events predate encryption too (a check only reads).
        if swap { try vault?.issueMissingKeys(connection) }
        var checkpoint = try start(connection, tables, told: told)
        try bulk(connection, tables, vault: vault, &checkpoint, pageSize: pageSize, phases: phases, progress: progress)
        // The primary keys, which the catch-up's deletes and the comparison look rows up by; a rebuild's tables
        // then get the rest of the live ones' indexes and their statistics, to be swapped in ready.
        try phases.time(.indexes) {
            try connection.transaction { tx in
                for table in tables { try table.buildIndexes(tx, all: false) }
            }
        }
        try phases.time(.catchUp) {
            try catchUp(connection, tables, vault: vault, &checkpoint, pageSize: pageSize, progress: progress)
        }
        if swap {
            try phases.time(.indexes) {
                try connection.transaction { tx in
                    for table in tables { try table.buildIndexes(tx, all: true) }
                }
                try connection.execute("ANALYZE \(tables.map { "ledger_replay.\($0.name)" }.joined(separator: ", "))")
            }
        }
        try retryingLockConflicts {
            try connection.transaction { tx in
                try tx.execute(sessionSettings)
                try tx.execute("SET LOCAL lock_timeout = '5s'")
                try tx.execute("LOCK TABLE \(tables.map { "ledger.\($0.name)" }.joined(separator: ", ")) IN EXCLUSIVE MODE")
                try phases.time(.foldBehind) { try foldBehindStreams(tx, tables, vault: vault, pageSize: pageSize) }
                progress(checkpoint.progress(.swap))
                try phases.time(.compare) { try recordDifferences(tx, tables) }
                if swap {
                    try phases.time(.swap) {
                        try tx.execute("LOCK TABLE \(tables.map { "ledger.\($0.name)" }.joined(separator: ", ")) IN ACCESS EXCLUSIVE MODE")
                        for table in tables { try table.swap(tx) }
                        try record(tx, projections)
                        // Nothing is left to continue: the shadow tables are live now.
                        try tx.execute("DELETE FROM ledger.replay_checkpoint")
                    }
                }
            }
        }
        let tally = try phases.time(.report) { try reportDifferences(connection, tables, pageSize: pageSize, found) }
        try phases.time(.drop) { try finish(connection, tables) }
        told(phases.current.summary)
        return tally
    }

    // MARK: - Checkpoint

    struct Checkpoint: Sendable {
        var phase: ReplayProgress.Phase
        var feedCursor: FeedCursor
        var bulkAfter: (organizationID: UUID, streamID: String)?
        var events: Int64
        var totalEvents: Int64
        var streams: Int64
        var caughtUp: Int64 = 0

        func progress(_ phase: ReplayProgress.Phase) -> ReplayProgress {
            ReplayProgress(phase: phase, events: events, totalEvents: totalEvents, streams: streams, caughtUp: caughtUp)
        }

        var statement: PostgresStatement {
            ("""
             UPDATE ledger.replay_checkpoint SET phase = $1, feed_transaction = $2::text::xid8, feed_position = $3,
                 bulk_after_organization = $4, bulk_after_stream = $5, events_folded = $6, streams_folded = $7,
                 updated_at = now()
             """, [phase == .bulk ? "bulk" : "catch_up", feedCursor.transactionID, feedCursor.position,
                   bulkAfter?.organizationID, bulkAfter?.streamID, events, streams])
        }
    }

    /// What a checkpoint's shadow tables are for: the projections and their versions.
    static func signature(_ tables: [ShadowTable]) -> String {
        tables.map { "\($0.projection.name):\($0.projection.version)" }.sorted().joined(separator: ",")
    }

    /// The checkpoint to continue, or a clean start (shadow tables empty, cursor at the present xmin).
    static func start(_ connection: PostgresConnection, _ tables: [ShadowTable], told: (String) -> Void) throws -> Checkpoint {
        let rows = try connection.query("""
            SELECT projections, phase, feed_transaction::text, feed_position, bulk_after_organization, bulk_after_stream,
                   events_folded, events_total, streams_folded, started_at
            FROM ledger.replay_checkpoint
            """)
        let existing = try connection.query("""
            SELECT count(*) FROM pg_tables WHERE schemaname = 'ledger_replay' AND tablename = ANY ($1::text[])
            """, [PostgresArray(tables.map(\.name) + ["stream_versions"])]).int(0, 0)
        if rows.count == 1, let kept = rows.string(0, 0), let phase = rows.string(0, 1), let transaction = rows.uint64(0, 2),
           let position = rows.int64(0, 3), let events = rows.int64(0, 6), let total = rows.int64(0, 7),
           let streams = rows.int64(0, 8) {
            if kept == signature(tables), existing == tables.count + 1 {
                let after = rows.uuid(0, 4).flatMap { organization in rows.string(0, 5).map { (organization, $0) } }
                told("continuing the replay begun at \(rows.string(0, 9) ?? "?"): \(events) events of \(total) folded"
                     + (phase == "bulk" ? "" : ", bulk pass done"))
                return Checkpoint(phase: phase == "bulk" ? .bulk : .catchUp, feedCursor: FeedCursor(transactionID: transaction, position: position),
                                  bulkAfter: after, events: events, totalEvents: total, streams: streams)
            }
            told("starting clean: the unfinished replay's checkpoint was for other projections (\(kept))")
        } else if rows.count == 1 {
            told("starting clean: the unfinished replay's checkpoint is unreadable")
        }
        try connection.transaction { tx in
            try tx.execute("DELETE FROM ledger.replay_checkpoint")
            try tx.execute("DROP TABLE IF EXISTS \(shadowNames(tables))")
            for table in tables { try table.create(tx) }
            try tx.execute("""
                CREATE UNLOGGED TABLE ledger_replay.stream_versions (
                    organization_id uuid NOT NULL, stream_id text NOT NULL, version bigint NOT NULL,
                    PRIMARY KEY (organization_id, stream_id))
                """)
            // The cursor is this snapshot's xmin: every event the bulk pass may not see is at or after it.
            try tx.query("""
                INSERT INTO ledger.replay_checkpoint (projections, phase, feed_transaction, feed_position, events_total)
                SELECT $1, 'bulk', pg_snapshot_xmin(pg_current_snapshot()), 0, (SELECT count(*) FROM ledger.events)
                """, [signature(tables)])
        }
        let fresh = try connection.query("SELECT feed_transaction::text, events_total FROM ledger.replay_checkpoint")
        guard let transaction = fresh.uint64(0, 0), let total = fresh.int64(0, 1) else {
            throw StorageError.unreadableRow(table: "replay_checkpoint", key: "singleton")
        }
        return Checkpoint(phase: .bulk, feedCursor: FeedCursor(transactionID: transaction, position: 0), bulkAfter: nil,
                          events: 0, totalEvents: total, streams: 0)
    }

    /// The shadow tables and `stream_versions`, the version of each stream they were folded at.
    static func shadowNames(_ tables: [ShadowTable]) -> String {
        (tables.flatMap { ["ledger_replay.\($0.name)", $0.replaced] } + ["ledger_replay.stream_versions", differencesTable]).joined(separator: ", ")
    }

    /// The rows that differ, as the swap's comparison found them (one row each: `recordDifferences`).
    static let differencesTable = "ledger_replay.differences"

    static func finish(_ connection: PostgresConnection, _ tables: [ShadowTable]) throws {
        try connection.transaction { tx in
            try tx.execute("DROP TABLE IF EXISTS \(shadowNames(tables))")
            try tx.execute("DELETE FROM ledger.replay_checkpoint")
        }
    }

    // MARK: - Folding

    /// Every event after the checkpoint's last stream, in (organization, stream, version) order, a page per
    /// statement; the streams a page finishes are written with the checkpoint in one transaction, by the page
    /// writer while the next page is read and folded.
    static func bulk(_ connection: PostgresConnection, _ tables: [ShadowTable], vault: PersonalDataVault?, _ checkpoint: inout Checkpoint,
                     pageSize page: Int, phases: PhaseTally<ReplayPhase>, progress: (ReplayProgress) -> Void) throws {
        guard checkpoint.phase == .bulk else { return }
        var key: (UUID, String, Int64)? = checkpoint.bulkAfter.map { ($0.organizationID, $0.streamID, Int64.max) }
        var open: (organizationID: UUID, id: String, state: VerificationState, version: Int64, events: Int64)?
        var opener: StreamOpener?
        let keys = vault.map(ReplayKeys.init)
        let writer = try ReplayPageWriter(conninfo: connection.conninfo, tables: tables, phases: phases)
        defer { writer.waitForWrites() }
        while true {
            // Two statements rather than one with "$1 IS NULL OR": each then walks the stream index as a range.
            let select = "SELECT organization_id, stream_id, version, type, schema_version, data, occurred_at, event_id FROM ledger.events"
            let order = "ORDER BY organization_id, stream_id, version LIMIT"
            let rows = try phases.time(.read) {
                try key.map { key in
                    try connection.query("\(select) WHERE (organization_id, stream_id, version) > ($1, $2, $3) \(order) $4",
                                         [key.0, key.1, key.2, page])
                } ?? connection.query("\(select) \(order) $1", [page])
            }
            var finished: [StreamState] = []
            var versions: [(UUID, String, Int64)] = []
            var finishedEvents: Int64 = 0
            let foldStarted = DispatchTime.now().uptimeNanoseconds
            var evolving: UInt64 = 0
            for row in 0..<rows.count {
                guard let organizationID = rows.uuid(row, 0), let id = rows.string(row, 1), let version = rows.int64(row, 2),
                      let type = rows.string(row, 3), let schemaVersion = rows.int(row, 4), let data = rows.json(row, 5),
                      let occurredAt = rows.date(row, 6), let eventID = rows.uuid(row, 7) else {
                    throw StorageError.unreadableRow(table: "events", key: "\(rows.string(row, 1) ?? "?")/\(rows.string(row, 2) ?? "?")")
                }
                if let current = open, current.organizationID != organizationID || current.id != id {
                    if let stream = try streamState(connection, current, opener, keys: keys) { finished.append(stream) }
                    versions.append((current.organizationID, current.id, current.version))
                    finishedEvents += current.events
                    checkpoint.bulkAfter = (current.organizationID, current.id)
                    open = nil
                    opener = nil
                }
                var current = open ?? (organizationID, id, VerificationDecider.initialState, 0, 0)
                var streamOpener = opener ?? StreamOpener(organizationID: organizationID, vault: vault, keys: keys)
                let opened = try streamOpener.open(connection, type: type, data: data, eventID: eventID, state: current.state)
                opener = streamOpener
                guard let event = try? VerificationEvent(type: type, schemaVersion: schemaVersion, data: opened) else {
                    throw StorageError.unreadableRow(table: "events", key: "\(id)/\(version)")
                }
                let evolveStarted = DispatchTime.now().uptimeNanoseconds
                current.state = VerificationDecider.evolve(current.state, event, at: occurredAt)
                evolving += DispatchTime.now().uptimeNanoseconds - evolveStarted
                current.version = version
                current.events += 1
                open = current
                key = (organizationID, id, version)
            }
            phases.add(.evolve, Double(evolving) / 1e9)
            phases.add(.decode, Double(DispatchTime.now().uptimeNanoseconds &- foldStarted &- evolving) / 1e9)
            let done = rows.count < page
            if done, let current = open {
                if let stream = try streamState(connection, current, opener, keys: keys) { finished.append(stream) }
                versions.append((current.organizationID, current.id, current.version))
                finishedEvents += current.events
                checkpoint.bulkAfter = (current.organizationID, current.id)
                open = nil
                opener = nil
            }
            checkpoint.events += finishedEvents
            checkpoint.streams += Int64(finished.count)
            if done { checkpoint.phase = .catchUp }
            try writer.write(ReplayPageWriter.Page(streams: finished, versions: versions, checkpoint: checkpoint))
            var shown = checkpoint.progress(.bulk)
            shown.events += open?.events ?? 0
            progress(shown)
            if done { return try writer.finish() }
        }
    }

    static func streamState(_ connection: PostgresConnection,
                            _ folded: (organizationID: UUID, id: String, state: VerificationState, version: Int64, events: Int64),
                            _ opener: StreamOpener?, keys: ReplayKeys?) throws -> StreamState? {
        let state = opener?.finished(folded.state) ?? folded.state
        guard state.exists else { return nil }
        let loaded = LoadedVerification(id: folded.id, state: state, version: folded.version)
        return StreamState(organizationID: folded.organizationID, loaded,
                           sealing: try keys.flatMap { try sealing(connection, vault: $0.vault, folded.organizationID, state, keys: $0) })
    }

    /// How the stream's rows are sealed, read-only: an entity with no key yet (its events predate encryption)
    /// is rebuilt as it was written by a check; a repair has issued it one first.
    static func sealing(_ connection: PostgresConnection, vault: PersonalDataVault?, _ organizationID: UUID,
                        _ state: VerificationState, keys: ReplayKeys? = nil) throws -> StreamSealing? {
        guard let vault, let invitation = state.invitation else { return nil }
        let owner = DataKeyOwner(organizationID: organizationID, entityID: invitation.entityID)
        let key = try keys?.key(connection, owner, livemode: invitation.livemode) ?? vault.key(connection, owner, livemode: invitation.livemode)
        return StreamSealing(vault: vault, owner: owner, key: key)
    }

    /// Folds again, from the gap-safe feed, every stream changed since the cursor, a page at a time, each
    /// committed with the cursor after it. A pass goes to the end of the log as it was when the pass began;
    /// passes repeat while one took more than a page, at most `passes` times, so that writers faster than the
    /// catch-up cannot keep it going: what is left is folded under the swap's lock.
    static func catchUp(_ connection: PostgresConnection, _ tables: [ShadowTable], vault: PersonalDataVault?, _ checkpoint: inout Checkpoint,
                        pageSize: Int, passes: Int = 4, progress: (ReplayProgress) -> Void) throws {
        for _ in 0..<passes {
            let end = try connection.query("""
                SELECT transaction_id::text, position FROM ledger.events ORDER BY transaction_id DESC, position DESC LIMIT 1
                """)
            guard let transaction = end.uint64(0, 0), let position = end.int64(0, 1) else { return }
            let target = FeedCursor(transactionID: transaction, position: position)
            var pages = 0
            while checkpoint.feedCursor < target {
                let read = try connection.transaction { tx -> Int in
                    try tx.execute(sessionSettings)
                    let read = try foldSinceCursor(tx, tables, vault: vault, &checkpoint, pageSize: pageSize)
                    _ = try tx.pipeline([checkpoint.statement])
                    return read
                }
                pages += 1
                progress(checkpoint.progress(.catchUp))
                if read < pageSize { break }
            }
            if pages <= 1 { return }
        }
    }

    /// One page of events after the cursor that the gap-safe feed hands out: their streams folded again into
    /// the shadow tables; the cursor moves past them. Returns how many events it read.
    @discardableResult
    static func foldSinceCursor(_ tx: PostgresConnection, _ tables: [ShadowTable], vault: PersonalDataVault?, _ checkpoint: inout Checkpoint,
                                pageSize: Int) throws -> Int {
        let rows = try tx.query("""
            SELECT organization_id, stream_id, transaction_id::text, position FROM ledger.events
            WHERE (transaction_id, position) > ($1::text::xid8, $2) AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
            ORDER BY transaction_id, position LIMIT $3
            """, [checkpoint.feedCursor.transactionID, checkpoint.feedCursor.position, pageSize])
        var keys: [(UUID, String)] = []
        var seen = Set<String>()
        for row in 0..<rows.count {
            guard let organizationID = rows.uuid(row, 0), let id = rows.string(row, 1), let transaction = rows.uint64(row, 2),
                  let position = rows.int64(row, 3) else {
                throw StorageError.unreadableRow(table: "events", key: rows.string(row, 3) ?? "?")
            }
            if seen.insert("\(organizationID)/\(id)").inserted { keys.append((organizationID, id)) }
            checkpoint.feedCursor = FeedCursor(transactionID: transaction, position: position)
        }
        try refold(tx, tables, vault: vault, keys)
        checkpoint.caughtUp += Int64(rows.count)
        return rows.count
    }

    /// The streams' shadow rows replaced by those of their latest state, folded from the log alone.
    static func refold(_ tx: PostgresConnection, _ tables: [ShadowTable], vault: PersonalDataVault?, _ keys: [(UUID, String)]) throws {
        guard !keys.isEmpty else { return }
        var streams: [StreamState] = []
        var versions: [(UUID, String, Int64)] = []
        for (organizationID, id) in keys {
            if let loaded = try VerificationStore.load(tx, organizationID: organizationID, id: id, fromSnapshot: false, vault: vault) {
                streams.append(StreamState(organizationID: organizationID, loaded,
                                           sealing: try sealing(tx, vault: vault, organizationID, loaded.state)))
                versions.append((organizationID, id, loaded.version))
            }
        }
        let forget: PostgresStatement = ("""
            DELETE FROM ledger_replay.stream_versions
            WHERE (organization_id, stream_id) IN (SELECT * FROM unnest($1::uuid[], $2::text[]))
            """, [PostgresArray(keys.map { $0.0.postgresText }), PostgresArray(keys.map { $0.1 })])
        _ = try tx.pipeline(tables.map { $0.delete(keys) } + [forget] + [recordVersions(versions)].compactMap { $0 })
        for table in tables { try table.insert(tx, table.rows(streams)) }
    }

    static func recordVersions(_ versions: [(UUID, String, Int64)]) -> PostgresStatement? {
        guard !versions.isEmpty else { return nil }
        return ("""
            INSERT INTO ledger_replay.stream_versions (organization_id, stream_id, version)
            SELECT * FROM unnest($1::uuid[], $2::text[], $3::bigint[])
            """, [PostgresArray(versions.map { $0.0.postgresText }), PostgresArray(versions.map { $0.1 }),
                  PostgresArray(versions.map { String($0.2) })])
    }

    /// Under the swap's lock (no command can commit a change to the locked tables meanwhile): every stream
    /// whose committed version is not the one its shadow rows were folded at is folded again. Exact whatever
    /// the feed held back, at the price of one join of the streams with their folded versions.
    static func foldBehindStreams(_ tx: PostgresConnection, _ tables: [ShadowTable], vault: PersonalDataVault?, pageSize: Int) throws {
        let rows = try tx.query("""
            SELECT s.organization_id, s.stream_id FROM ledger.streams s
            LEFT JOIN ledger_replay.stream_versions v ON v.organization_id = s.organization_id AND v.stream_id = s.stream_id
            WHERE v.version IS DISTINCT FROM s.version
            """)
        var keys: [(UUID, String)] = []
        for row in 0..<rows.count {
            guard let organizationID = rows.uuid(row, 0), let id = rows.string(row, 1) else {
                throw StorageError.unreadableRow(table: "streams", key: rows.string(row, 1) ?? "?")
            }
            keys.append((organizationID, id))
        }
        for start in stride(from: 0, to: keys.count, by: max(1, pageSize)) {
            try refold(tx, tables, vault: vault, Array(keys[start..<min(keys.count, start + max(1, pageSize))]))
        }
    }

    // MARK: - Shadow tables

    /// A projection's table in `ledger_replay`, made like the live one.
    struct ShadowTable {
        let projection: any Projection

        var name: String { projection.table.name }
        var columns: [String] { projection.table.columns }
        /// Live row `l` and shadow row `r` have the same key.
        var sameRow: String { projection.table.key.map { "r.\($0) = l.\($0)" }.joined(separator: " AND ") }

        /// The live table's name once a rebuild has swapped it out (until the replay drops it).
        var replaced: String { "ledger_replay.\(name)_replaced" }

        /// Made as the live table is, to become it (Schema/functions/replay_create_shadow.sql).
        func create(_ tx: PostgresConnection) throws {
            _ = try tx.query("SELECT ledger.replay_create_shadow($1)", [name])
        }

        /// The live table's indexes (all of them, or its primary key alone) built on the shadow table
        /// (Schema/functions/replay_build_indexes.sql); those already built are left.
        func buildIndexes(_ tx: PostgresConnection, all: Bool) throws {
            _ = try tx.query("SELECT ledger.replay_build_indexes($1, $2)", [name, all])
        }

        /// The rebuilt table becomes the live one, the live one moved aside as `replaced`
        /// (Schema/functions/replay_swap.sql). Under the swap's lock.
        func swap(_ tx: PostgresConnection) throws {
            _ = try tx.query("SELECT ledger.replay_swap($1)", [name])
        }

        /// All the rows of `streams`, as one COPY takes them (rendering and sealing their documents).
        func rows(_ streams: some Collection<StreamState>) -> PostgresCopyRows {
            var rows = PostgresCopyRows()
            for stream in streams {
                for row in projection.rows(stream) { rows.append(row.values) }
            }
            return rows
        }

        func insert(_ tx: PostgresConnection, _ rows: PostgresCopyRows) throws {
            guard rows.count > 0 else { return }
            try tx.copyIn("COPY ledger_replay.\(name) (\(columns.joined(separator: ", "))) FROM STDIN", rows)
        }

        func delete(_ keys: [(UUID, String)]) -> PostgresStatement {
            ("""
             DELETE FROM ledger_replay.\(name)
             WHERE (organization_id, id) IN (SELECT * FROM unnest($1::uuid[], $2::text[]))
             """, [PostgresArray(keys.map { $0.0.postgresText }), PostgresArray(keys.map { $0.1 })])
        }
    }

    /// Shadow against live, row by row, into `differencesTable`: the keys of the differing rows and the names of
    /// their differing columns (in column order), set-based, so that nothing of their number is held by this
    /// process. Rows are the same when their values are (to_jsonb of each: whatever the bytes); a row on one side
    /// only differs, and rows whose text is the same are the same, both without building any jsonb (most of a
    /// comparison's cost).
    static func recordDifferences(_ tx: PostgresConnection, _ tables: [ShadowTable]) throws {
        try tx.execute("""
            DROP TABLE IF EXISTS \(differencesTable);
            CREATE UNLOGGED TABLE \(differencesTable) (
                n bigserial PRIMARY KEY, projection integer NOT NULL, organization_id uuid NOT NULL, id text NOT NULL,
                kind text NOT NULL, fields text NOT NULL)
            """)
        for (index, table) in tables.enumerated() {
            try tx.execute("""
                INSERT INTO \(differencesTable) (projection, organization_id, id, kind, fields)
                SELECT \(index), coalesce(l.organization_id, r.organization_id), coalesce(l.id, r.id),
                       CASE WHEN l.id IS NULL THEN 'missing' WHEN r.id IS NULL THEN 'unexpected' ELSE 'fields' END,
                       CASE WHEN l.id IS NULL OR r.id IS NULL THEN '' ELSE
                           (SELECT coalesce(string_agg(e.key, ',' ORDER BY e.n), '')
                            FROM json_each(row_to_json(l)) WITH ORDINALITY AS e(key, value, n)
                            WHERE to_jsonb(r) -> e.key IS DISTINCT FROM e.value::jsonb) END
                FROM ledger.\(table.name) l
                FULL JOIN ledger_replay.\(table.name) r ON \(table.sameRow)
                WHERE CASE WHEN l.id IS NULL OR r.id IS NULL THEN true WHEN l::text = r::text THEN false
                           ELSE to_jsonb(l) IS DISTINCT FROM to_jsonb(r) END
                ORDER BY 2, 3
                """)
        }
    }

    /// The differences recorded under the swap's lock, a page at a time, in projection and key order.
    static func reportDifferences(_ connection: PostgresConnection, _ tables: [ShadowTable], pageSize: Int,
                                  _ found: (ReplayDifference) throws -> Void) throws -> ReplayTally {
        let counts = try connection.query("SELECT count(*), count(DISTINCT (organization_id, id)) FROM \(differencesTable)")
        var after: Int64 = 0
        while true {
            let rows = try connection.query("""
                SELECT n, projection, organization_id, id, kind, fields FROM \(differencesTable) WHERE n > $1 ORDER BY n LIMIT $2
                """, [after, max(1, pageSize)])
            for row in 0..<rows.count {
                guard let n = rows.int64(row, 0), let projection = rows.int(row, 1), tables.indices.contains(projection),
                      let organizationID = rows.uuid(row, 2), let id = rows.string(row, 3), let what = rows.string(row, 4) else {
                    throw StorageError.unreadableRow(table: "replay differences", key: rows.string(row, 0) ?? "?")
                }
                let kind: ReplayDifference.Kind
                switch what {
                case "missing": kind = .missing
                case "unexpected": kind = .unexpected
                default: kind = .fields((rows.string(row, 5) ?? "").split(separator: ",").map(String.init))
                }
                try found(ReplayDifference(projection: tables[projection].projection.name, organizationID: organizationID, id: id, kind: kind))
                after = n
            }
            if rows.count < max(1, pageSize) { break }
        }
        return ReplayTally(rows: counts.int(0, 0) ?? 0, streams: counts.int(0, 1) ?? 0)
    }

    /// Deadlock or lock timeout while taking the swap's lock (a writer locked the tables in another order):
    /// the transaction is rolled back whole, so the swap is tried again.
    static func retryingLockConflicts(_ body: () throws -> Void) throws {
        var attempt = 0
        while true {
            do { return try body() } catch let error as PostgresError where ["40P01", "55P03"].contains(error.sqlState) && attempt < 5 {
                attempt += 1
            }
        }
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
}
