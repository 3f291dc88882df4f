import Foundation
import LedgerCrypto
import LedgerDomain
import LedgerLog

/// A response kept for an idempotency key: what a replay answers with.
public struct StoredResponse: Sendable, Equatable {
    public var status: Int
    /// The headers a replay repeats, by name as the command wrote it.
    public var headers: [String: String]
    public var body: [UInt8]

    public init(status: Int, headers: [String: String] = [:], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

public enum IdempotencyError: Error, Equatable, CustomStringConvertible {
    /// The key was first used with a different request.
    case keyReusedWithDifferentRequest(key: String)
    /// Another request with this key is running right now.
    case keyInUse(key: String)

    public var description: String {
        switch self {
        case let .keyReusedWithDifferentRequest(key):
            return "Idempotency-Key \(key) was already used with a different request"
        case let .keyInUse(key): return "a request with Idempotency-Key \(key) is still being processed"
        }
    }
}

/// Idempotency keys, kept in the transaction of the command they answer.
public enum IdempotencyStore {
    /// How long a key is remembered; the product promises at least 24 hours.
    public static let defaultRetention: TimeInterval = 24 * 3600

    public enum Outcome: Sendable, Equatable {
        case executed(StoredResponse)
        case replayed(StoredResponse)

        public var response: StoredResponse {
            switch self {
            case let .executed(r), let .replayed(r): return r
            }
        }
    }

    /// Runs `command` once per (organization, key) in one transaction with the key's record; a repeat of the
    /// same request replays the first response without running anything.
    ///
    /// `command` returns the response to keep. If it throws, the transaction is rolled back and nothing is
    /// kept, so the key stays free for a retry.
    public static func run(_ pool: ConnectionPool, organizationID: UUID, livemode: Bool = false, key: String, requestHash: [UInt8],
                           retention: TimeInterval = defaultRetention,
                           command: (PostgresConnection) throws -> StoredResponse) throws -> Outcome {
        try pool.transaction(scope: .tenant(organizationID: organizationID, livemode: livemode)) { tx in
            try run(tx, organizationID: organizationID, livemode: livemode, key: key, requestHash: requestHash, retention: retention,
                    command: command)
        }
    }

    /// The same, inside a transaction the caller already opened.
    public static func run(_ tx: PostgresConnection, organizationID: UUID, livemode: Bool = false, key: String, requestHash: [UInt8],
                           retention: TimeInterval = defaultRetention,
                           command: (PostgresConnection) throws -> StoredResponse) throws -> Outcome {
        // A transaction-scoped advisory lock on the key: a concurrent twin is told at once rather than queued.
        let locked = try tx.query("SELECT pg_try_advisory_xact_lock(hashtextextended($1 || '/' || $2 || '/' || $3, 0))",
                                  [organizationID, livemode, key])
        guard locked.bool(0, 0) == true else { throw IdempotencyError.keyInUse(key: key) }
        let existing = try tx.query("""
            SELECT request_hash, response_status, response_body, response_headers FROM ledger.idempotency_keys
            WHERE organization_id = $1 AND livemode = $2 AND idempotency_key = $3
              AND created_at > now() - make_interval(secs => $4)
            """, [organizationID, livemode, key, retention])
        if existing.count > 0 {
            guard let storedHash = existing.bytes(0, 0), let status = existing.int(0, 1),
                  let body = existing.bytes(0, 2) else {
                throw StorageError.unreadableRow(table: "idempotency_keys", key: key)
            }
            guard Digest.constantTimeEqual(storedHash, requestHash) else {
                throw IdempotencyError.keyReusedWithDifferentRequest(key: key)
            }
            var headers: [String: String] = [:]
            for (name, value) in existing.json(0, 3)?.objectValue ?? [] {
                guard let text = value.stringValue else { throw StorageError.unreadableRow(table: "idempotency_keys", key: key) }
                headers[name] = text
            }
            return .replayed(StoredResponse(status: status, headers: headers, body: body))
        }
        let response = try command(tx)
        tx.sendWithNextRoundTrip([("""
            INSERT INTO ledger.idempotency_keys (organization_id, livemode, idempotency_key, request_hash, response_status,
                                                 response_body, response_headers)
            VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)
            ON CONFLICT (organization_id, livemode, idempotency_key) DO UPDATE
            SET request_hash = excluded.request_hash, response_status = excluded.response_status,
                response_body = excluded.response_body, response_headers = excluded.response_headers, created_at = now()
            """, [organizationID, livemode, key, ByteA(requestHash), response.status, ByteA(response.body),
                  JSONValue.object(response.headers.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })])])
        return .executed(response)
    }

    /// Forgets up to `limit` keys created at or before `cutoff`, oldest first; returns how many. One short
    /// statement per batch on 008's created_at index, so a large backlog never holds locks for long; rows a
    /// concurrent reuse of an expired key has locked are left for the next batch.
    @discardableResult
    public static func purge(_ connection: PostgresConnection, createdAtOrBefore cutoff: Date, limit: Int = 1000) throws -> Int {
        try connection.query(purgeStatement, [cutoff, max(1, limit)]).int(0, 0) ?? 0
    }

    /// Finds the oldest rows by index and deletes them by their physical address.
    static let purgeStatement = """
        WITH gone AS (
            DELETE FROM ledger.idempotency_keys
            WHERE ctid = ANY (ARRAY(
                SELECT ctid FROM ledger.idempotency_keys WHERE created_at <= $1
                ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED))
            RETURNING 1)
        SELECT count(*) FROM gone
        """
}

/// The background job that forgets idempotency keys past their retention, in bounded batches.
public final class IdempotencyPurger: Sendable {
    private let pool: ConnectionPool
    private let retention: TimeInterval
    private let batchSize: Int
    private let clock: @Sendable () -> Date

    public init(pool: ConnectionPool, retention: TimeInterval = IdempotencyStore.defaultRetention, batchSize: Int = 1000,
                clock: @escaping @Sendable () -> Date = { Date() }) {
        self.pool = pool
        self.retention = retention
        self.batchSize = max(1, batchSize)
        self.clock = clock
    }

    /// Purges every key expired by now, a batch per statement; returns how many.
    @discardableResult
    public func runOnce() throws -> Int {
        let cutoff = clock().addingTimeInterval(-retention)
        var purged = 0
        while true {
            // Expired keys of every tenant: one of the few cross-tenant jobs (see DatabaseScope.system).
            let batch = try pool.withConnection(scope: .system) { try IdempotencyStore.purge($0, createdAtOrBefore: cutoff, limit: batchSize) }
            purged += batch
            if batch < batchSize { return purged }
        }
    }

    /// Runs `runOnce` every `interval` seconds on a thread of its own until the process ends.
    public func start(interval: Double) {
        let thread = Thread { [self] in
            while true {
                do {
                    let purged = try runOnce()
                    if purged > 0 { Log.info("purged idempotency keys", ["count": .int(purged)]) }
                } catch {
                    Log.warning("idempotency purge failed", ["error": .string("\(error)")])
                }
                Thread.sleep(forTimeInterval: interval)
            }
        }
        thread.name = "ledger-idempotency-purge"
        thread.start()
    }
}
