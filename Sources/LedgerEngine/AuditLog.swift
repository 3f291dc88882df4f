import Foundation
import LedgerCrypto
import LedgerDomain
import LedgerLog
import LedgerStorage

/// The log's signing key and the one way a checkpoint is signed: the C2SP checkpoint of a tree size and root,
/// with the key's name as its origin line, as a signed note.
public struct CheckpointSigner: Sendable {
    public let key: NoteSignerKey
    let crypto = LibcryptoAudit()

    public init(key: NoteSignerKey) { self.key = key }

    public var verifierKey: NoteVerifierKey { key.verifierKey }
    public var hasher: MerkleHasher { crypto.merkleHasher }

    public func note(treeSize: UInt64, rootHash: [UInt8]) throws -> String {
        try Checkpoint(origin: key.name, treeSize: treeSize, rootHash: rootHash).signed(by: key, crypto: crypto).serialized
    }

    /// The stored checkpoint of `treeSize`, or a new one signed now; nil for a size beyond the tree.
    public func checkpoint(_ connection: PostgresConnection, treeSize: UInt64) throws -> StoredCheckpoint? {
        try MerkleLog.checkpoint(connection, treeSize: treeSize, hasher: hasher, sign: note)
    }

    /// The checkpoint of `treeSize` whose root the caller has just computed: signed now and stored, or the one
    /// stored already.
    public func checkpoint(_ connection: PostgresConnection, treeSize: UInt64, rootHash: [UInt8]) throws -> StoredCheckpoint {
        try MerkleLog.store(connection, treeSize: treeSize, rootHash: rootHash, note: try note(treeSize: treeSize, rootHash: rootHash))
    }
}

/// The background step of `ledger serve` that keeps the Merkle tree up with the feed and signs a checkpoint
/// every `checkpointInterval` seconds when the tree grew. Safe with several instances: appends queue on the
/// tree's state row, and a checkpoint of one size is stored once.
public final class AuditLogKeeper: Sendable {
    private let pool: ConnectionPool
    private let signer: CheckpointSigner?
    private let checkpointInterval: Double
    private let appendInterval: Double

    /// Without a signer the tree still grows, and no checkpoint is made.
    public init(pool: ConnectionPool, signer: CheckpointSigner?, checkpointInterval: Double = 10, appendInterval: Double = 0.2) {
        self.pool = pool
        self.signer = signer
        self.checkpointInterval = max(0.05, checkpointInterval)
        self.appendInterval = max(0.01, appendInterval)
    }

    /// Appends every event the feed hands out now; returns how many.
    @discardableResult
    public func appendOnce() throws -> Int {
        try MerkleLog.appendAll(pool, hasher: LibcryptoAudit().merkleHasher)
    }

    /// Signs and stores a checkpoint of the whole tree if it grew past the latest one; returns it, or nil.
    @discardableResult
    public func checkpointIfGrown() throws -> StoredCheckpoint? {
        guard let signer else { return nil }
        return try pool.transaction(scope: .system) { tx in
            let size = try StoredMerkleTree(tx).leafCount()
            let latest = try MerkleLog.latestCheckpoint(tx)
            guard size > 0, size > latest?.treeSize ?? 0 else { return nil }
            let made = try signer.checkpoint(tx, treeSize: size)
            if let made { try tx.query(Self.checkpointWebhooks, [made.treeSize, made.note, Timestamp.rfc3339(made.createdAt)]) }
            return made
        }
    }

    /// One message per enabled endpoint, of any organization and mode, subscribed to LEDGER_CHECKPOINT by name;
    /// numbered per endpoint like every other message (the pseudo-verification `ledger_checkpoints` keeps
    /// checkpoints in order per destination). The message id is the tree size's, so a second instance signing
    /// the same size queues nothing twice.
    static let checkpointWebhooks = """
        WITH targets AS (
            SELECT e.organization_id, e.livemode, e.id, e.url,
                   'msg_' || left(encode(sha256(convert_to(concat_ws('/', 'checkpoint', $1::bigint::text, e.id), 'UTF8')), 'hex'), 32) AS message_id
            FROM ledger.webhook_endpoints e
            WHERE e.deleted_at IS NULL AND e.enabled AND '\(WebhookEventType.ledgerCheckpoint.rawValue)' = ANY (e.events)),
        numbered AS (
            SELECT t.*, coalesce(s.last_sequence, 0) + 1 AS sequence, s.last_message_id AS previous_message_id
            FROM targets t
            LEFT JOIN ledger.outbox_sequences s
              ON s.organization_id = t.organization_id AND s.verification_id = 'ledger_checkpoints' AND s.destination = t.id),
        inserted AS (
            INSERT INTO ledger.outbox (message_id, organization_id, livemode, verification_id, endpoint_id, destination, url,
                                       event_type, sequence, previous_message_id, payload)
            SELECT n.message_id, n.organization_id, n.livemode, 'ledger_checkpoints', n.id, n.id, n.url,
                   '\(WebhookEventType.ledgerCheckpoint.rawValue)', n.sequence, n.previous_message_id,
                   jsonb_build_object('id', 'evt_' || left(encode(sha256(convert_to('checkpoint/' || $1::bigint::text, 'UTF8')), 'hex'), 32),
                                      'type', '\(WebhookEventType.ledgerCheckpoint.rawValue)', 'created_at', $3::text,
                                      'data', jsonb_build_object('object', 'checkpoint', 'tree_size', $1::bigint, 'checkpoint', $2::text),
                                      'sequence', n.sequence, 'previous_message_id', n.previous_message_id)
            FROM numbered n
            ON CONFLICT (message_id) DO NOTHING
            RETURNING id, organization_id, livemode, destination, sequence, message_id),
        queued AS (
            INSERT INTO ledger.outbox_queue (id, organization_id, livemode) SELECT i.id, i.organization_id, i.livemode FROM inserted i),
        heads AS (
            INSERT INTO ledger.outbox_sequences AS s (organization_id, verification_id, destination, last_sequence, last_message_id)
            SELECT i.organization_id, 'ledger_checkpoints', i.destination, i.sequence, i.message_id FROM inserted i
            ON CONFLICT (organization_id, verification_id, destination)
            DO UPDATE SET last_sequence = excluded.last_sequence, last_message_id = excluded.last_message_id
            RETURNING 1)
        SELECT pg_notify('\(Outbox.channel)', 'ledger_checkpoints') WHERE EXISTS (SELECT FROM heads)
        """

    /// Runs on a thread of its own until the process ends: appends every `appendInterval`, checkpoints every
    /// `checkpointInterval`. A failure is logged and tried again on the next round.
    public func start() {
        let thread = Thread { [self] in
            var nextCheckpoint = Date().addingTimeInterval(checkpointInterval)
            while true {
                do {
                    try appendOnce()
                    if Date() >= nextCheckpoint {
                        nextCheckpoint = Date().addingTimeInterval(checkpointInterval)
                        if let made = try checkpointIfGrown() {
                            Log.info("signed a checkpoint", ["tree_size": .int(Int(clamping: made.treeSize))])
                        }
                    }
                } catch {
                    Log.warning("the audit log step failed; it runs again shortly", ["error": .string(String(describing: type(of: error)))])
                }
                Thread.sleep(forTimeInterval: appendInterval)
            }
        }
        thread.name = "ledger-audit-log"
        thread.start()
    }
}
