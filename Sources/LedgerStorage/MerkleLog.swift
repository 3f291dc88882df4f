import Foundation
import LedgerDomain

/// The log's Merkle tree as Schema/034 stores it, read over one connection: a proof is one query.
public struct StoredMerkleTree: MerkleHashStore {
    let connection: PostgresConnection
    let knownLeafCount: UInt64?

    /// `leafCount`: the tree's size as a query of the caller's just read it, so that a proof asks only for hashes.
    public init(_ connection: PostgresConnection, leafCount: UInt64? = nil) {
        self.connection = connection
        knownLeafCount = leafCount
    }

    public func leafCount() throws -> UInt64 {
        if let knownLeafCount { return knownLeafCount }
        guard let count = try connection.query("SELECT leaf_count FROM ledger.merkle_log").uint64(0, 0) else {
            throw StorageError.unreadableRow(table: "merkle_log", key: "leaf_count")
        }
        return count
    }

    public func hashes(of subtrees: Set<MerkleSubtree>) throws -> [MerkleSubtree: [UInt8]] {
        guard !subtrees.isEmpty else { return [:] }
        let wanted = Array(subtrees)
        let rows = try connection.query("""
            SELECT s.level, s.index, s.hash FROM ledger.merkle_subtrees s
            JOIN unnest($1::smallint[], $2::bigint[]) AS w(level, index) ON s.level = w.level AND s.index = w.index
            """, [PostgresArray(wanted.map { String($0.level) }), PostgresArray(wanted.map { String($0.index) })])
        var found: [MerkleSubtree: [UInt8]] = [:]
        for row in 0..<rows.count {
            guard let level = rows.int(row, 0), let index = rows.uint64(row, 1), let hash = rows.bytes(row, 2) else {
                throw StorageError.unreadableRow(table: "merkle_subtrees", key: rows.string(row, 1) ?? "?")
            }
            found[MerkleSubtree(level: level, index: index)] = hash
        }
        return found
    }
}

/// A signed tree head as stored: its size, root and signed note.
public struct StoredCheckpoint: Sendable, Equatable {
    public var treeSize: UInt64
    public var rootHash: [UInt8]
    public var note: String
    public var createdAt: Date
}

/// Appends committed events to the tree and keeps its checkpoints.
public enum MerkleLog {
    /// Appends the next events of the gap-safe feed, at most `batchSize`, as leaves; returns how many.
    ///
    /// One transaction locks the tree's state row, so instances appending at once queue there and each event is
    /// appended once, in feed order. The feed hands out only events of transactions older than every running
    /// one, so a leaf index, once given, never has an earlier event put before it.
    public static func appendPending(_ pool: ConnectionPool, hasher: MerkleHasher, batchSize: Int = 5_000) throws -> Int {
        try pool.transaction(scope: .system) { tx in
            let state = try tx.query("SELECT leaf_count, feed_transaction::text, feed_position FROM ledger.merkle_log FOR UPDATE")
            guard let leafCount = state.uint64(0, 0), let feedTransaction = state.uint64(0, 1), let feedPosition = state.int64(0, 2) else {
                throw StorageError.unreadableRow(table: "merkle_log", key: "state")
            }
            let events = try tx.query("""
                SELECT position, transaction_id::text, hash FROM ledger.read_feed($1::text::xid8, $2, $3)
                """, [feedTransaction, feedPosition, max(1, batchSize)])
            guard events.count > 0 else { return 0 }
            var positions: [Int64] = [], leafHashes: [[UInt8]] = []
            var last = FeedCursor(transactionID: feedTransaction, position: feedPosition)
            for row in 0..<events.count {
                guard let position = events.int64(row, 0), let transaction = events.uint64(row, 1), let hash = events.bytes(row, 2),
                      let leaf = LedgerLeaf.bytes(position: position, chainHash: hash) else {
                    throw StorageError.unreadableRow(table: "events", key: events.string(row, 0) ?? "?")
                }
                positions.append(position)
                leafHashes.append(hasher.leafHash(leaf))
                last = FeedCursor(transactionID: transaction, position: position)
            }
            let edge = try StoredMerkleTree(tx).hashes(of: Set(MerkleSubtree.frontier(ofTreeSize: leafCount)))
            guard var frontier = MerkleFrontier(hasher: hasher, treeSize: leafCount, hashes: edge) else {
                throw StorageError.unreadableRow(table: "merkle_subtrees", key: "frontier of \(leafCount)")
            }
            let completed = leafHashes.flatMap { frontier.append(leafHash: $0) }
            try tx.pipeline([
                // The latest time so far is kept in SQL, at PostgreSQL's precision (Schema/052).
                ("""
                 INSERT INTO ledger.merkle_leaves (leaf_index, position, transaction_id, latest_occurred_at)
                 SELECT $1::bigint + u.i - 1, u.p, e.transaction_id,
                        greatest(max(e.occurred_at) OVER (ORDER BY u.i),
                                 (SELECT latest_occurred_at FROM ledger.merkle_leaves WHERE leaf_index = $1::bigint - 1))
                 FROM unnest($2::bigint[]) WITH ORDINALITY AS u(p, i) JOIN ledger.events e ON e.position = u.p
                 """,
                 [leafCount, PostgresArray(positions.map { String($0) })]),
                ("INSERT INTO ledger.merkle_subtrees (level, index, hash) SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[])",
                 [PostgresArray(completed.map { String($0.0.level) }), PostgresArray(completed.map { String($0.0.index) }),
                  PostgresArray(completed.map { ByteA($0.1).postgresText })]),
                ("UPDATE ledger.merkle_log SET leaf_count = $1, feed_transaction = $2::text::xid8, feed_position = $3",
                 [leafCount + UInt64(positions.count), last.transactionID, last.position]),
            ])
            return positions.count
        }
    }

    /// Appends until the feed has nothing more to hand out; returns how many leaves were added.
    @discardableResult
    public static func appendAll(_ pool: ConnectionPool, hasher: MerkleHasher, batchSize: Int = 5_000) throws -> Int {
        var total = 0
        while true {
            let appended = try appendPending(pool, hasher: hasher, batchSize: batchSize)
            total += appended
            if appended < batchSize { return total }
        }
    }

    /// The checkpoint of `treeSize`: the stored one, or a new one signed by `sign` and stored (Ed25519 is
    /// deterministic, so two instances signing one size store the same note). Nil for a size beyond the tree.
    public static func checkpoint(_ connection: PostgresConnection, treeSize: UInt64, hasher: MerkleHasher,
                                  sign: (UInt64, [UInt8]) throws -> String) throws -> StoredCheckpoint? {
        if let stored = try storedCheckpoint(connection, treeSize: treeSize) { return stored }
        let tree = MerkleTree(hasher: hasher, store: StoredMerkleTree(connection))
        guard treeSize <= (try tree.store.leafCount()) else { return nil }
        let root = try tree.rootHash(treeSize: treeSize)
        return try store(connection, treeSize: treeSize, rootHash: root, note: try sign(treeSize, root))
    }

    /// Stores `note`, the signed checkpoint of `treeSize` and `rootHash`, unless one is stored already, and
    /// returns the stored one, in one statement. Its commit does not wait for the disk: a checkpoint is a
    /// deterministic function of the tree, so one lost in a crash (with whatever its transaction queued) is
    /// signed again, the same, the next time it is asked for or the tree grows.
    public static func store(_ connection: PostgresConnection, treeSize: UInt64, rootHash: [UInt8], note: String) throws -> StoredCheckpoint {
        let rows = try connection.query("""
            WITH relaxed AS (SELECT set_config('synchronous_commit', 'off', true)),
                 inserted AS (INSERT INTO ledger.checkpoints (tree_size, root_hash, note) SELECT $1, $2, $3 FROM relaxed
                              ON CONFLICT (tree_size) DO NOTHING RETURNING tree_size, root_hash, note, created_at)
            SELECT tree_size, root_hash, note, created_at FROM inserted
            UNION ALL SELECT tree_size, root_hash, note, created_at FROM ledger.checkpoints WHERE tree_size = $1
            """, [treeSize, ByteA(rootHash), note])
        // Nothing when another instance's insert of the size committed during the statement, after its snapshot.
        guard let stored = try decodeCheckpoint(rows) ?? storedCheckpoint(connection, treeSize: treeSize) else {
            throw StorageError.unreadableRow(table: "checkpoints", key: String(treeSize))
        }
        return stored
    }

    /// The tree's size and the stored checkpoints of `treeSizes` (those that have one), in one query.
    public static func checkpoints(_ connection: PostgresConnection, treeSizes: [UInt64]) throws -> (leafCount: UInt64, stored: [UInt64: StoredCheckpoint]) {
        let rows = try connection.query("""
            SELECT m.leaf_count, c.tree_size, c.root_hash, c.note, c.created_at FROM ledger.merkle_log m
            LEFT JOIN ledger.checkpoints c ON c.tree_size = ANY ($1::bigint[])
            """, [PostgresArray(treeSizes.map { String($0) })])
        guard let leafCount = rows.uint64(0, 0) else { throw StorageError.unreadableRow(table: "merkle_log", key: "leaf_count") }
        var stored: [UInt64: StoredCheckpoint] = [:]
        for row in 0..<rows.count {
            if let checkpoint = try decodeCheckpoint(rows, row: row, first: 1) { stored[checkpoint.treeSize] = checkpoint }
        }
        return (leafCount, stored)
    }

    /// The newest stored checkpoint, if any.
    public static func latestCheckpoint(_ connection: PostgresConnection) throws -> StoredCheckpoint? {
        try decodeCheckpoint(try connection.query(
            "SELECT tree_size, root_hash, note, created_at FROM ledger.checkpoints ORDER BY tree_size DESC LIMIT 1"))
    }

    public static func storedCheckpoint(_ connection: PostgresConnection, treeSize: UInt64) throws -> StoredCheckpoint? {
        try decodeCheckpoint(try connection.query(
            "SELECT tree_size, root_hash, note, created_at FROM ledger.checkpoints WHERE tree_size = $1", [treeSize]))
    }

    /// The checkpoint in columns `first..<first + 4` of a row (tree size, root, note, created at); nil when they are null.
    private static func decodeCheckpoint(_ rows: PostgresRows, row: Int = 0, first: Int = 0) throws -> StoredCheckpoint? {
        guard rows.count > row, rows.string(row, first) != nil else { return nil }
        guard let size = rows.uint64(row, first), let root = rows.bytes(row, first + 1), let note = rows.string(row, first + 2),
              let created = rows.date(row, first + 3) else {
            throw StorageError.unreadableRow(table: "checkpoints", key: rows.string(row, first) ?? "?")
        }
        return StoredCheckpoint(treeSize: size, rootHash: root, note: note, createdAt: created)
    }

    /// What an inclusion proof of one event starts from, read in one query.
    public struct ProofStart: Sendable {
        /// The event as the log holds it now.
        public var position: Int64
        public var hash: [UInt8]
        /// Nil until the background step has appended the event.
        public var leafIndex: UInt64?
        public var leafCount: UInt64
        /// The stored checkpoint of the tree size asked for or, without one, the newest.
        public var checkpoint: StoredCheckpoint?
    }

    /// The event `eventID` of the organization's mode with its leaf, the tree's size and the checkpoint of
    /// `treeSize` (the newest without it); nil when the caller has no such event.
    public static func proofStart(_ connection: PostgresConnection, organizationID: UUID, livemode: Bool, eventID: UUID,
                                  treeSize: UInt64?) throws -> ProofStart? {
        let rows = try connection.query("""
            SELECT e.position, e.hash, l.leaf_index, m.leaf_count, c.tree_size, c.root_hash, c.note, c.created_at
            FROM ledger.events e
            JOIN ledger.verifications v ON v.organization_id = e.organization_id AND v.id = e.stream_id
            CROSS JOIN ledger.merkle_log m
            LEFT JOIN ledger.merkle_leaves l ON l.position = e.position
            LEFT JOIN LATERAL (SELECT tree_size, root_hash, note, created_at FROM ledger.checkpoints
                               WHERE $4::bigint IS NULL OR tree_size = $4::bigint ORDER BY tree_size DESC LIMIT 1) c ON true
            WHERE e.organization_id = $1 AND v.livemode = $2 AND e.event_id = $3
            """, [organizationID, livemode, eventID, treeSize])
        guard rows.count > 0 else { return nil }
        guard let position = rows.int64(0, 0), let hash = rows.bytes(0, 1), let leafCount = rows.uint64(0, 3) else {
            throw StorageError.unreadableRow(table: "events", key: eventID.uuidString)
        }
        return ProofStart(position: position, hash: hash, leafIndex: rows.uint64(0, 2), leafCount: leafCount,
                          checkpoint: try decodeCheckpoint(rows, first: 4))
    }
}

/// The first place where the Merkle tree stops vouching for the log as it is now.
public struct TreeBreak: Sendable, Equatable, CustomStringConvertible {
    public enum Reason: String, Sendable, Equatable {
        /// A leaf stands for a position the log no longer has.
        case eventMissing = "leaf_event_missing"
        /// The event at a leaf's position no longer makes that leaf: it was rewritten (even with its chain).
        case leafMismatch = "leaf_mismatch"
        /// The root of a signed checkpoint's size, rebuilt from the events, is not the root it signed.
        case checkpointRootMismatch = "checkpoint_root_mismatch"
        /// A stored subtree hash, which proofs are made of, is not the hash of the leaves below it.
        case storedTreeMismatch = "stored_tree_mismatch"
        /// A stored checkpoint's note is not signed by the log's key, or is for another tree than its row.
        case checkpointNotSigned = "checkpoint_not_signed"
    }

    public var reason: Reason
    public var leafIndex: UInt64?
    public var position: Int64?
    public var treeSize: UInt64?

    public var description: String {
        switch reason {
        case .eventMissing: return "leaf \(leafIndex ?? 0): the event at position \(position ?? 0) is missing from the log"
        case .leafMismatch: return "leaf \(leafIndex ?? 0): the event at position \(position ?? 0) no longer makes this leaf (it was rewritten)"
        case .checkpointRootMismatch: return "checkpoint of tree size \(treeSize ?? 0): the events make another root than the one signed"
        case .storedTreeMismatch: return "the stored subtree from leaf \(leafIndex ?? 0) on is not the hash of the leaves below it"
        case .checkpointNotSigned: return "checkpoint of tree size \(treeSize ?? 0): its note does not verify with the log's key, or is of another tree"
        }
    }
}

public struct TreeReport: Sendable, Equatable {
    public var leavesChecked: UInt64
    public var checkpointsChecked: Int
    public var firstBreak: TreeBreak?
}

extension MerkleLog {
    /// Rebuilds the tree from the events themselves, in leaf order, in constant memory: each leaf against its
    /// event, the root at every checkpoint's size against the signed one, and the stored subtrees against the
    /// rebuilt subtrees. With `openNote` (which verifies a note's signature and returns its tree size and root, or
    /// nil), each checkpoint's note must be signed and name the rebuilt tree. `progress` hears of each batch.
    public static func verifyTree(_ connection: PostgresConnection, hasher: MerkleHasher, batchSize: Int = 5_000,
                                  openNote: ((String) -> (UInt64, [UInt8])?)? = nil,
                                  progress: (TreeReport) -> Void = { _ in }) throws -> TreeReport {
        let batchSize = max(1, batchSize)
        var report = TreeReport(leavesChecked: 0, checkpointsChecked: 0, firstBreak: nil)
        var frontier = MerkleFrontier(hasher: hasher)
        let leafCount = try StoredMerkleTree(connection).leafCount()
        while frontier.treeSize < leafCount {
            let rows = try connection.query("""
                SELECT l.leaf_index, l.position, e.hash, s.hash FROM ledger.merkle_leaves l
                LEFT JOIN ledger.events e ON e.position = l.position
                LEFT JOIN ledger.merkle_subtrees s ON s.level = 0 AND s.index = l.leaf_index
                WHERE l.leaf_index >= $1 AND l.leaf_index < $2 ORDER BY l.leaf_index LIMIT $3
                """, [frontier.treeSize, leafCount, batchSize])
            guard rows.count > 0 else { break }
            let checkpoints = try connection.query("""
                SELECT tree_size, root_hash, note FROM ledger.checkpoints WHERE tree_size > $1 AND tree_size <= $2 ORDER BY tree_size
                """, [frontier.treeSize, frontier.treeSize + UInt64(rows.count)])
            var nextCheckpoint = 0
            var rebuilt: [(MerkleSubtree, [UInt8])] = []
            for row in 0..<rows.count {
                guard let index = rows.uint64(row, 0), let position = rows.int64(row, 1), index == frontier.treeSize else {
                    throw StorageError.unreadableRow(table: "merkle_leaves", key: rows.string(row, 0) ?? "?")
                }
                guard let hash = rows.bytes(row, 2) else {
                    report.firstBreak = TreeBreak(reason: .eventMissing, leafIndex: index, position: position)
                    return report
                }
                let leafHash = hasher.leafHash(LedgerLeaf.bytes(position: position, chainHash: hash) ?? [])
                guard rows.bytes(row, 3) == leafHash else {
                    report.firstBreak = TreeBreak(reason: .leafMismatch, leafIndex: index, position: position)
                    return report
                }
                rebuilt += frontier.append(leafHash: leafHash).dropFirst()
                report.leavesChecked += 1
                while nextCheckpoint < checkpoints.count, checkpoints.uint64(nextCheckpoint, 0) == frontier.treeSize {
                    guard checkpoints.bytes(nextCheckpoint, 1) == frontier.rootHash else {
                        report.firstBreak = TreeBreak(reason: .checkpointRootMismatch, treeSize: frontier.treeSize)
                        return report
                    }
                    if let openNote {
                        guard let note = checkpoints.string(nextCheckpoint, 2), let opened = openNote(note),
                              opened.0 == frontier.treeSize, opened.1 == frontier.rootHash else {
                            report.firstBreak = TreeBreak(reason: .checkpointNotSigned, treeSize: frontier.treeSize)
                            return report
                        }
                    }
                    report.checkpointsChecked += 1
                    nextCheckpoint += 1
                }
            }
            let stored = try StoredMerkleTree(connection).hashes(of: Set(rebuilt.map(\.0)))
            if let wrong = rebuilt.first(where: { stored[$0.0] != $0.1 }) {
                report.firstBreak = TreeBreak(reason: .storedTreeMismatch, leafIndex: wrong.0.index << UInt64(wrong.0.level),
                                              treeSize: frontier.treeSize)
                return report
            }
            progress(report)
        }
        return report
    }
}
