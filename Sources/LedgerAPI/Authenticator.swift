import Foundation
import LedgerCrypto
import LedgerDomain
import LedgerHTTP
import LedgerStorage
import Synchronization

/// Who is calling: the key's organization, mode and scopes.
public struct Caller: Sendable, Equatable {
    public var organizationID: UUID
    public var keyID: String
    public var livemode: Bool
    public var scopes: Set<Scope>
}

/// Turns `Authorization: Bearer <key>` (or HTTP Basic with the key as user name) into a caller.
///
/// Lookups are cached for `cacheSeconds`, keyed by the secret's SHA-256, so a revoked key stops working
/// within that time.
final class Authenticator: Sendable {
    private let pool: ConnectionPool
    private let cacheSeconds: Double
    private let cache = Mutex<[[UInt8]: (caller: Caller, expires: UInt64)]>([:])

    init(pool: ConnectionPool, cacheSeconds: Double) {
        self.pool = pool
        self.cacheSeconds = cacheSeconds
    }

    func authenticate(_ request: HTTPRequest) throws -> Caller {
        guard let header = request.header("Authorization"), !header.isEmpty else {
            throw APIFailure.unauthenticated("api_key_missing",
                                             "no API key: send Authorization: Bearer sk_test_… (or HTTP Basic with the key as user name)")
        }
        guard let secret = Self.secret(from: header), APIKeySecret.livemode(of: secret) != nil else {
            throw APIFailure.unauthenticated("api_key_invalid", "the Authorization header does not carry a valid API key")
        }
        let digest = Digest.sha256(secret)
        let now = DispatchTime.now().uptimeNanoseconds
        if let cached = cache.withLock({ $0[digest] }), cached.expires > now { return cached.caller }
        // Whose key it is is what this lookup finds out: it alone reads api_keys across organizations.
        guard let record = try pool.withConnection(scope: .system, { try AccessStore.authenticate($0, secret: secret) }) else {
            cache.withLock { _ = $0.removeValue(forKey: digest) }
            throw APIFailure.unauthenticated("api_key_invalid", "this API key does not exist or was revoked")
        }
        let caller = Caller(organizationID: record.organizationID, keyID: record.id, livemode: record.livemode, scopes: record.scopes)
        if cacheSeconds > 0 {
            let expires = now + UInt64(cacheSeconds * 1_000_000_000)
            cache.withLock { cache in
                if cache.count > 10_000 { cache.removeAll() }
                cache[digest] = (caller, expires)
            }
        }
        return caller
    }

    /// Works on the header's bytes: this runs on every request, and Character-level string handling (or
    /// Foundation's trimming, through NSString on Linux) costs more than the rest of authentication.
    static func secret(from header: String) -> String? {
        let bytes = Array(header.utf8)
        let blank = { (byte: UInt8) in byte == 0x20 || byte == 0x09 }
        guard let space = bytes.firstIndex(of: 0x20) else { return nil }
        var start = space + 1, end = bytes.count
        while start < end, blank(bytes[start]) { start += 1 }
        while end > start, blank(bytes[end - 1]) { end -= 1 }
        let credentials = String(decoding: bytes[start..<end], as: UTF8.self)
        switch String(decoding: bytes[..<space].map { $0 | 0x20 }, as: UTF8.self) {
        case "bearer":
            return credentials
        case "basic":
            guard let decoded = Data(base64Encoded: credentials), let text = String(data: decoded, encoding: .utf8) else { return nil }
            return String(text.prefix { $0 != ":" })
        default:
            return nil
        }
    }
}

/// A token bucket per API key: `burst` requests at once, refilled at `perSecond`.
final class RateLimiter: Sendable {
    private let perSecond: Double
    private let burst: Double
    private let buckets = Mutex<[String: (tokens: Double, updated: UInt64)]>([:])
    private let clock: @Sendable () -> UInt64

    init(perSecond: Double, burst: Int, clock: @escaping @Sendable () -> UInt64) {
        self.perSecond = perSecond
        self.burst = Double(max(1, burst))
        self.clock = clock
    }

    /// nil when the request may go ahead, else the seconds to wait.
    func check(_ key: String) -> Int? {
        guard perSecond > 0 else { return nil }
        let now = clock()
        return buckets.withLock { buckets in
            var bucket = buckets[key] ?? (burst, now)
            let elapsed = Double(now &- bucket.updated) / 1_000_000_000
            bucket.tokens = min(burst, bucket.tokens + elapsed * perSecond)
            bucket.updated = now
            defer { buckets[key] = bucket }
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                return nil
            }
            return max(1, Int(((1 - bucket.tokens) / perSecond).rounded(.up)))
        }
    }
}
