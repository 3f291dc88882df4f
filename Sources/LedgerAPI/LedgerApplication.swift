import Foundation
import LedgerCrypto
import LedgerDomain
import LedgerEngine
import LedgerHTTP
import LedgerLog
import LedgerStorage
import LedgerWebhooks

public struct APIConfiguration: Sendable {
    /// Requests per second per API key, refilled continuously; 0 turns the limit off.
    public var rateLimitPerSecond: Double
    public var rateLimitBurst: Int
    /// How long a key lookup is reused; a revoked key keeps working at most this long.
    public var authCacheSeconds: Double
    /// One JSON log line per request on standard error.
    public var logRequests: Bool
    /// The time commands are stamped with; tests inject their own.
    public var clock: @Sendable () -> Date
    /// New ids for verifications, attempts and disputes, given a prefix (`ver`, `att`, `dsp`).
    public var newID: @Sendable (String) -> String
    /// Where an attempt's capture flow is; the attempt id is appended.
    public var captureBaseURL: String
    /// Lets webhooks go to loopback and private addresses (tests, private networks).
    public var allowPrivateWebhooks: Bool
    /// How many verifications' latest states are kept in memory for commands to decide on; 0 reads every stream.
    public var stateCacheSize: Int
    /// Monotonic nanoseconds for the rate limiter's buckets; tests move their own.
    public var rateLimitClock: @Sendable () -> UInt64

    public init(rateLimitPerSecond: Double = 1000, rateLimitBurst: Int = 2000, authCacheSeconds: Double = 1,
                logRequests: Bool = true, clock: @escaping @Sendable () -> Date = { Date() },
                newID: @escaping @Sendable (String) -> String = APIConfiguration.randomID,
                captureBaseURL: String = "https://capture.sandbox.ledger.invalid/attempts/", allowPrivateWebhooks: Bool = false,
                stateCacheSize: Int = 10_000,
                rateLimitClock: @escaping @Sendable () -> UInt64 = { DispatchTime.now().uptimeNanoseconds }) {
        self.rateLimitPerSecond = rateLimitPerSecond
        self.rateLimitBurst = rateLimitBurst
        self.authCacheSeconds = authCacheSeconds
        self.logRequests = logRequests
        self.clock = clock
        self.newID = newID
        self.captureBaseURL = captureBaseURL
        self.allowPrivateWebhooks = allowPrivateWebhooks
        self.stateCacheSize = stateCacheSize
        self.rateLimitClock = rateLimitClock
    }

    /// `prefix_` and 24 random hex digits.
    public static func randomID(_ prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let high: UInt64 = generator.next(), low: UInt32 = generator.next()
        let text = String(high, radix: 16) + String(low, radix: 16)
        return prefix + "_" + String(repeating: "0", count: max(0, 24 - text.count)) + text
    }
}

/// What a route may be called with.
enum Access: Sendable {
    case everyone
    case scope(Scope)
}

/// One request on its way through a handler.
struct RequestContext: Sendable {
    let request: HTTPRequest
    let caller: Caller?
    /// The pool under the caller's organization and mode (row-level security); unscoped without a key.
    let pool: ScopedPool

    /// The caller of a route that requires a key (the pipeline guarantees one).
    var authenticated: Caller {
        get throws {
            guard let caller else { throw APIFailure.unauthenticated("api_key_missing", "this route needs an API key") }
            return caller
        }
    }

    func body(allowed: Set<String>) throws -> RequestBody { try RequestBody.parse(request, allowed: allowed) }
}

/// A read answers from a connection; a command runs in a transaction (with its Idempotency-Key, if any).
enum Endpoint: Sendable {
    case read(Access, @Sendable (RequestContext) throws -> HTTPResponse)
    case command(Access, @Sendable (RequestContext, PostgresConnection) throws -> HTTPResponse)
    /// A command run through the engine, which opens the transaction itself (so that it can run it again).
    case engineCommand(Access, @Sendable (RequestContext, CommandTransaction) throws -> HTTPResponse)

    var access: Access {
        switch self {
        case let .read(access, _), let .command(access, _), let .engineCommand(access, _): return access
        }
    }
}

/// The pipeline's command transaction, for the engine to open: with the request's Idempotency-Key, the
/// transaction that keeps its response (or the replay of the response kept before, without running anything).
struct CommandTransaction {
    let run: ((PostgresConnection) throws -> HTTPResponse) throws -> HTTPResponse
}

/// The REST service: authentication, scopes, rate limits, idempotency, logs and metrics around every resource.
public final class LedgerApplication: Sendable {
    public let pool: ConnectionPool
    /// The newest migration this build knows; `/readyz` wants the database at it.
    public let schemaVersion: Int
    let configuration: APIConfiguration
    let router: Router<Endpoint>
    let authenticator: Authenticator
    let rateLimiter: RateLimiter
    let metrics: Metrics
    /// The one command path; the expiry scheduler of `ledger serve` shares it (and so its state cache).
    public let engine: CommandEngine

    public init(pool: ConnectionPool, schemaVersion: Int, configuration: APIConfiguration = APIConfiguration()) {
        self.pool = pool
        self.schemaVersion = schemaVersion
        self.configuration = configuration
        authenticator = Authenticator(pool: pool, cacheSeconds: configuration.authCacheSeconds)
        rateLimiter = RateLimiter(perSecond: configuration.rateLimitPerSecond, burst: configuration.rateLimitBurst,
                                  clock: configuration.rateLimitClock)
        let metrics = Metrics()
        self.metrics = metrics
        let engine = CommandEngine(pool: pool, stateCacheSize: configuration.stateCacheSize)
        self.engine = engine
        var router = Router<Endpoint>()
        HealthResource.register(on: &router, pool: pool, schemaVersion: schemaVersion)
        MetricsResource.register(on: &router, metrics: metrics, pool: pool)
        OpenAPIResource.register(on: &router)
        OrganizationResource.register(on: &router)
        APIKeysResource.register(on: &router)
        VerificationsResource.register(on: &router, configuration: configuration, engine: engine)
        OrdersResource.register(on: &router)
        WebhookEndpointsResource.register(on: &router, policy: WebhookURLPolicy(allowPrivate: configuration.allowPrivateWebhooks),
                                          clock: configuration.clock)
        WebhookDeliveriesResource.register(on: &router)
        self.router = router
    }

    /// Every route as (method, template), for the OpenAPI consistency test.
    public var routes: [(method: String, template: String)] { router.routes.map { ($0.method, $0.template) } }

    /// Every route with the scope a key needs for it (nil: no key needed), for the isolation matrix.
    public var routeScopes: [(method: String, template: String, scope: Scope?)] {
        router.routes.map { route in
            guard case let .scope(scope) = route.handler.access else { return (route.method, route.template, nil) }
            return (route.method, route.template, scope)
        }
    }

    public func handle(_ request: HTTPRequest) -> HTTPResponse {
        let started = DispatchTime.now().uptimeNanoseconds
        var caller: Caller?
        let route: String
        var response: HTTPResponse
        var requiresKey = false
        switch router.resolve(request) {
        case let .matched(matched, routed):
            route = matched.template
            if case .scope = matched.handler.access { requiresKey = true }
            do {
                if case let .scope(scope) = matched.handler.access {
                    let authenticated = try authenticator.authenticate(routed)
                    caller = authenticated
                    guard authenticated.scopes.contains(scope) else { throw APIFailure.forbidden(needs: scope.rawValue) }
                    if let wait = rateLimiter.check(authenticated.keyID) {
                        throw APIFailure(status: 429, type: "rate_limit_error", code: "rate_limited",
                                         message: "too many requests for this API key; retry in \(wait) s", param: nil,
                                         headers: [("Retry-After", String(wait))])
                    }
                }
                let scoped = ScopedPool(pool, scope: caller.map { .tenant(organizationID: $0.organizationID, livemode: $0.livemode) })
                response = try run(matched.handler, RequestContext(request: routed, caller: caller, pool: scoped))
            } catch {
                let failure = APIFailure.from(error)
                if failure.status >= 500 && failure.code == "internal_error" {
                    Log.error("request failed", ["request_id": .string(request.requestID), "route": .string(route),
                                                 "error": .string(String(describing: type(of: error)))])
                }
                response = failure.response
            }
        case let .methodNotAllowed(allowed):
            route = "unmatched"
            response = .methodNotAllowed(request, allowed: allowed)
        case .notFound:
            route = "unmatched"
            response = .notFound(request)
        }
        if requiresKey {
            // An answer to a key holder is theirs alone: no shared or browser cache may keep it.
            response.headers.append(("Cache-Control", "no-store"))
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1_000_000_000
        metrics.record(method: request.method, route: route, status: response.status, seconds: seconds)
        if configuration.logRequests {
            var fields: [(String, LogValue)] = [
                ("request_id", .string(request.requestID)), ("method", .string(request.method)), ("route", .string(route)),
                ("status", .int(response.status)), ("duration_ms", .double(seconds * 1000)),
            ]
            if let caller {
                fields.append(("org_id", .string(caller.organizationID.uuidString.lowercased())))
                fields.append(("key_id", .string(caller.keyID)))
            }
            Log.emit(.info, "request", fields)
        }
        return response
    }

    private func run(_ endpoint: Endpoint, _ context: RequestContext) throws -> HTTPResponse {
        switch endpoint {
        case let .read(_, handler):
            return try handler(context)
        case let .command(_, handler):
            return try inCommandTransaction(context) { try handler(context, $0) }
        case let .engineCommand(_, handler):
            return try handler(context, CommandTransaction { [self] in try inCommandTransaction(context, $0) })
        }
    }

    /// A response that must not be kept: the command's transaction is rolled back and it is returned as is.
    private struct Refused: Error { let response: HTTPResponse }

    private func inCommandTransaction(_ context: RequestContext,
                                      _ handler: (PostgresConnection) throws -> HTTPResponse) throws -> HTTPResponse {
        let request = context.request
        func execute(_ tx: PostgresConnection) throws -> HTTPResponse {
            let response = try handler(tx)
            guard (200..<300).contains(response.status) else { throw Refused(response: response) }
            return response
        }
        do {
            guard let key = request.header("Idempotency-Key"), let caller = context.caller else {
                return try context.pool.transaction(execute)
            }
            guard (1...255).contains(key.count), key.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value < 0x7f }) else {
                throw APIFailure.invalid("Idempotency-Key", "Idempotency-Key must be 1 to 255 printable ASCII characters")
            }
            // The same key and the same request: method, path, query and body.
            let requestHash = Digest.sha256(Array("\(request.method) \(request.path)?\(request.query.map { "\($0.name)=\($0.value)" }.joined(separator: "&"))\n".utf8) + request.body)
            var executed: HTTPResponse?
            let outcome = try IdempotencyStore.run(pool, organizationID: caller.organizationID, livemode: caller.livemode,
                                                   key: key, requestHash: requestHash) { tx in
                let response = try execute(tx)
                executed = response
                return Self.storedResponse(response)
            }
            switch outcome {
            case let .executed(stored):
                // As the handler made it, with every header, not only those kept for a replay.
                return executed ?? HTTPResponse(status: stored.status, headers: stored.headers.map { ($0.key, $0.value) }, body: stored.body)
            case let .replayed(stored):
                return Self.replay(stored)
            }
        } catch let refused as Refused {
            return refused.response
        }
    }

    /// The headers a replay repeats: the stream version, where a created object lives, and the body's type.
    static let replayedHeaders: Set<String> = ["etag", "location", "content-type"]

    static func storedResponse(_ response: HTTPResponse) -> StoredResponse {
        var headers: [String: String] = [:]
        for (name, value) in response.headers where replayedHeaders.contains(name.lowercased()) { headers[name] = value }
        guard let redacted = ReplayRedaction.withoutSecret(response.body) else {
            return StoredResponse(status: response.status, headers: headers, body: response.body)
        }
        headers[ReplayRedaction.header.0] = ReplayRedaction.header.1
        return StoredResponse(status: response.status, headers: headers, body: redacted)
    }

    /// A kept response as first sent, marked as a replay; records kept before headers were stored are JSON.
    static func replay(_ stored: StoredResponse) -> HTTPResponse {
        var headers = stored.headers.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        if !headers.contains(where: { $0.0.lowercased() == "content-type" }) { headers.insert(("Content-Type", "application/json"), at: 0) }
        return HTTPResponse(status: stored.status, headers: headers + [("Idempotent-Replayed", "true")], body: stored.body)
    }
}
