import Foundation
import LedgerCrypto

/// A response kept for an idempotency key.
public struct StoredResponse: Sendable, Equatable {
    public var status: Int
    public var body: [UInt8]

    public init(status: Int, body: [UInt8]) {
        self.status = status
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
        try pool.transaction { tx in
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
            SELECT request_hash, response_status, response_body FROM ledger.idempotency_keys
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
            return .replayed(StoredResponse(status: status, body: body))
        }
        let response = try command(tx)
        tx.sendWithNextRoundTrip([("""
            INSERT INTO ledger.idempotency_keys (organization_id, livemode, idempotency_key, request_hash, response_status,
                                                 response_body)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (organization_id, livemode, idempotency_key) DO UPDATE
            SET request_hash = excluded.request_hash, response_status = excluded.response_status,
                response_body = excluded.response_body, created_at = now()
            """, [organizationID, livemode, key, ByteA(requestHash), response.status, ByteA(response.body)])])
        return .executed(response)
    }

    /// Forgets keys older than `retention`; returns how many.
    @discardableResult
    public static func purge(_ connection: PostgresConnection, retention: TimeInterval = defaultRetention) throws -> Int {
        let rows = try connection.query(
            "WITH gone AS (DELETE FROM ledger.idempotency_keys WHERE created_at <= now() - make_interval(secs => $1) RETURNING 1) SELECT count(*) FROM gone",
            [retention])
        return rows.int(0, 0) ?? 0
    }
}
