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
    /// How a webhook or postback URL's host is resolved for its check; tests inject their own.
    public var webhookResolver: WebhookURLPolicy.Resolver
    /// How long `/metrics` reuses its counts of waiting webhook messages (counting reads every pending one).
    public var webhookMetricsMaxAge: TimeInterval
    /// How many verifications' latest states are kept in memory for commands to decide on; 0 reads every stream.
    public var stateCacheSize: Int
    /// Webhook endpoints an organization may have in each mode: each one adds outbox writes to every command.
    public var webhookEndpointLimit: Int
    /// Monotonic nanoseconds for the rate limiter's buckets; tests move their own.
    public var rateLimitClock: @Sendable () -> UInt64
    /// Signs the audit log's checkpoints; without one, checkpoints and proofs answer 503.
    public var checkpointSigner: CheckpointSigner?
    /// Signs the timeline pages' links (HMAC-SHA256); instances that share it accept each other's links.
    public var timelineLinkKey: [UInt8]
    /// Seconds between two steps the sandbox provider records (0: one after the other), so a flow can be watched.
    public var providerStepDelay: Double
    /// How long an approval counts (recorded with each new invite) and the window before its end in which the
    /// entity's KYC status asks for reverification.
    public var validity: ValidityPolicy
    /// Encrypts personal data under each entity's data key; nil stores it as given (benchmarks' reference only).
    public var personalDataVault: PersonalDataVault?
    /// Years after an entity's last verification ended before its personal data may be erased without an override.
    public var retentionYears: Int

    public init(rateLimitPerSecond: Double = 1000, rateLimitBurst: Int = 2000, authCacheSeconds: Double = 1,
                logRequests: Bool = true, clock: @escaping @Sendable () -> Date = { Date() },
                newID: @escaping @Sendable (String) -> String = APIConfiguration.randomID,
                captureBaseURL: String = "https://capture.sandbox.ledger.invalid/attempts/", allowPrivateWebhooks: Bool = false,
                stateCacheSize: Int = 10_000, webhookEndpointLimit: Int = 16,
                webhookResolver: @escaping WebhookURLPolicy.Resolver = WebhookURLPolicy.systemResolver,
                webhookMetricsMaxAge: TimeInterval = 5,
                rateLimitClock: @escaping @Sendable () -> UInt64 = { DispatchTime.now().uptimeNanoseconds },
                providerStepDelay: Double = 0, validity: ValidityPolicy = .standard,
                personalDataVault: PersonalDataVault? = nil, retentionYears: Int = 5,
                checkpointSigner: CheckpointSigner? = nil, timelineLinkKey: [UInt8]? = nil) {
        self.rateLimitPerSecond = rateLimitPerSecond
        self.rateLimitBurst = rateLimitBurst
        self.authCacheSeconds = authCacheSeconds
        self.logRequests = logRequests
        self.clock = clock
        self.newID = newID
        self.captureBaseURL = captureBaseURL
        self.allowPrivateWebhooks = allowPrivateWebhooks
        self.webhookResolver = webhookResolver
        self.webhookMetricsMaxAge = webhookMetricsMaxAge
        self.stateCacheSize = stateCacheSize
        self.webhookEndpointLimit = webhookEndpointLimit
        self.rateLimitClock = rateLimitClock
        self.checkpointSigner = checkpointSigner
        self.timelineLinkKey = timelineLinkKey ?? Digest.randomBytes(32) ?? Digest.sha256(UUID().uuidString + "\(DispatchTime.now().uptimeNanoseconds)")
        self.providerStepDelay = providerStepDelay
        self.validity = validity
        self.personalDataVault = personalDataVault
        self.retentionYears = retentionYears
    }

    /// Where webhook and postback URLs may point.
    var webhookPolicy: WebhookURLPolicy { WebhookURLPolicy(allowPrivate: allowPrivateWebhooks, resolver: webhookResolver) }

    /// `prefix_` and 24 random hex digits.
    public static func randomID(_ prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let high: UInt64 = generator.next(), low: UInt32 = generator.next()
        let text = String(high, radix: 16) + String(low, radix: 16)
        return prefix + "_" + String(repeating: "0", count: max(0, 24 - text.count)) + text
    }
}

/// One request on its way through a handler, its parameters and body already checked by its operation.
struct RequestContext: Sendable {
    let request: HTTPRequest
    let caller: Caller?
    /// The pool under the caller's organization and mode (row-level security); unscoped without a key.
    let pool: ScopedPool
    /// The one command path, which runs the verification commands.
    let engine: CommandEngine
    /// Runs verifications through their providers' steps, on that path.
    let providers: ProviderRunner
    /// The body its operation's schema accepted (empty for an operation without one).
    let body: RequestBody

    /// The caller of a route that requires a key (the pipeline guarantees one).
    var authenticated: Caller {
        get throws {
            guard let caller else { throw APIFailure.unauthenticated("api_key_missing", "this route needs an API key") }
            return caller
        }
    }
}

/// The REST service: authentication, scopes, rate limits, idempotency, logs and metrics around every resource.
public final class LedgerApplication: Sendable {
    public let pool: ConnectionPool
    /// The newest migration this build knows; `/readyz` wants the database at it.
    public let schemaVersion: Int
    let configuration: APIConfiguration
    let router: Router<APIOperation>
    let authenticator: Authenticator
    let rateLimiter: RateLimiter
    let metrics: Metrics
    /// The one command path; the expiry scheduler of `ledger serve` shares it (and so its state cache).
    public let engine: CommandEngine
    /// The providers (the sandbox) that the seed-003 create and the seed-004 sync run, through `engine`.
    public let providers: ProviderRunner

    public init(pool: ConnectionPool, schemaVersion: Int, configuration: APIConfiguration = APIConfiguration()) {
        self.pool = pool
        self.schemaVersion = schemaVersion
        self.configuration = configuration
        authenticator = Authenticator(pool: pool, cacheSeconds: configuration.authCacheSeconds)
        rateLimiter = RateLimiter(perSecond: configuration.rateLimitPerSecond, burst: configuration.rateLimitBurst,
                                  clock: configuration.rateLimitClock)
        let metrics = Metrics()
        self.metrics = metrics
        engine = CommandEngine(pool: pool, stateCacheSize: configuration.stateCacheSize, vault: configuration.personalDataVault)
        providers = ProviderRunner(engine: engine, providers: [SandboxProvider(captureBaseURL: configuration.captureBaseURL)],
                                   clock: configuration.clock, stepDelay: configuration.providerStepDelay)
        var router = Router<APIOperation>()
        for operation in Self.operations(configuration: configuration, metrics: metrics, schemaVersion: schemaVersion) {
            router.add(operation.method, operation.path, operation)
        }
        self.router = router
    }

    /// Every operation of the API, in the order of the document.
    static func operations(configuration: APIConfiguration, metrics: Metrics, schemaVersion: Int) -> [APIOperation] {
        let resources: [[APIOperation]] = [
            HealthResource.operations(schemaVersion: schemaVersion),
            MetricsResource.operations(metrics: metrics, webhooks: WebhookMetrics(maxAge: configuration.webhookMetricsMaxAge)),
            OpenAPIResource.operations,
            OrganizationResource.operations,
            APIKeysResource.operations,
            VerificationsResource.operations(configuration: configuration),
            OrdersResource.operations,
            CustomerVerificationsResource.operations(configuration: configuration),
            ValidationsResource.operations(configuration: configuration),
            VerificationReportsResource.operations,
            WebhookEndpointsResource.operations(policy: configuration.webhookPolicy,
                                                limit: configuration.webhookEndpointLimit, clock: configuration.clock),
            WebhookDeliveriesResource.operations,
            EntitiesResource.operations(configuration: configuration),
            JsonLogicResource.operations,
            RulesetsResource.operations(clock: configuration.clock),
            RescoringRunsResource.operations(clock: configuration.clock),
            AuditResource.operations(signer: configuration.checkpointSigner),
            TimelineResource.operations(key: configuration.timelineLinkKey, clock: configuration.clock),
        ]
        return resources.flatMap { $0 }
    }

    /// Every operation with the scope a key needs for it (nil: no key needed), for the isolation matrix.
    public var routeScopes: [(method: String, template: String, scope: Scope?)] {
        router.routes.map { ($0.method, $0.template, $0.handler.scope.flatMap(Scope.init(rawValue:))) }
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
            if matched.handler.scope != nil { requiresKey = true }
            do {
                let operation = matched.handler
                if let scope = operation.scope {
                    let authenticated = try authenticator.authenticate(routed)
                    caller = authenticated
                    guard authenticated.scopes.contains(where: { $0.rawValue == scope }) else { throw APIFailure.forbidden(needs: scope) }
                    if let wait = rateLimiter.check(authenticated.keyID) {
                        throw APIFailure(status: 429, type: "rate_limit_error", code: "rate_limited",
                                         message: "too many requests for this API key; retry in \(wait) s", param: nil,
                                         headers: [("Retry-After", String(wait))])
                    }
                }
                let scoped = ScopedPool(pool, scope: caller.map { .tenant(organizationID: $0.organizationID, livemode: $0.livemode) })
                let body = try Self.validate(routed, against: operation)
                response = try run(operation, RequestContext(request: routed, caller: caller, pool: scoped, engine: engine,
                                                                providers: providers, body: body))
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
        // An invented method is routed (405, with Allow) like any other, but counted as "other": a client cannot
        // add a series to the metrics for each method it makes up.
        let method = HTTPRequest.standardMethods.contains(request.method) ? request.method : "other"
        metrics.record(method: method, route: route, status: response.status, seconds: seconds)
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

    /// Checks every parameter, header and the body against the operation's declaration, before its handler runs.
    static func validate(_ request: HTTPRequest, against operation: APIOperation) throws -> RequestBody {
        do {
            try operation.validateParameters(request)
            guard let schema = operation.body else { return RequestBody(.object([])) }
            let value = try RequestBody.parse(request)
            try schema.validate(value, at: "")
            return RequestBody(value)
        } catch let violation as SchemaViolation {
            throw APIFailure.invalid(violation.param, code: violation.code, violation.message)
        }
    }

    private func run(_ operation: APIOperation, _ context: RequestContext) throws -> HTTPResponse {
        switch operation.handler {
        case let .read(handler):
            return try handler(context)
        case let .command(handler):
            return try inCommandTransaction(context, idempotent: idempotent(operation)) { try handler(context, $0) }
        case let .preparedCommand(prepare):
            let body = try prepare(context)
            return try inCommandTransaction(context, idempotent: idempotent(operation), body)
        case let .engineCommand(handler):
            let idempotent = idempotent(operation)
            return try handler(context, CommandTransaction { [self] in try inCommandTransaction(context, idempotent: idempotent, $0) })
        }
    }

    private func idempotent(_ operation: APIOperation) -> Bool {
        operation.parameters.contains { $0.name == APIParameters.idempotencyKey.name }
    }

    /// A response that must not be kept: the command's transaction is rolled back and it is returned as is.
    private struct Refused: Error { let response: HTTPResponse }

    private func inCommandTransaction(_ context: RequestContext, idempotent: Bool,
                                      _ handler: (PostgresConnection) throws -> HTTPResponse) throws -> HTTPResponse {
        let request = context.request
        func execute(_ tx: PostgresConnection) throws -> HTTPResponse {
            let response = try handler(tx)
            guard (200..<300).contains(response.status) else { throw Refused(response: response) }
            return response
        }
        do {
            // The key's form was checked with the operation's other headers.
            guard idempotent, let key = request.header("Idempotency-Key"), let caller = context.caller else {
                return try context.pool.transaction(execute)
            }
            // The same key and the same request: method, path, query and body.
            let requestHash = Digest.sha256(Array("\(request.method) \(request.path)?\(request.query.map { "\($0.name)=\($0.value)" }.joined(separator: "&"))\n".utf8) + request.body)
            var executed: HTTPResponse?
            let outcome = try IdempotencyStore.run(pool, organizationID: caller.organizationID, livemode: caller.livemode,
                                                   key: key, requestHash: requestHash) { tx in
                let response = try execute(tx)
                executed = response
                var stored = Self.storedResponse(response)
                stored.body = try ReplayPersonalData.sealed(stored.body, tx, caller, vault: engine.vault)
                return stored
            }
            switch outcome {
            case let .executed(stored):
                // As the handler made it, with every header, not only those kept for a replay.
                return executed ?? HTTPResponse(status: stored.status, headers: stored.headers.map { ($0.key, $0.value) }, body: stored.body)
            case var .replayed(stored):
                stored.body = try context.pool.withConnection { try ReplayPersonalData.opened(stored.body, $0, caller, vault: engine.vault) }
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
