import Foundation
import LedgerAPI
import LedgerCrypto
import LedgerDomain
import LedgerHTTP
import LedgerWebhooks

/// Configuration from environment variables; the README lists them.
public struct Settings: Sendable {
    public var databaseURL: String?
    public var dataDirectory: URL
    public var listenHost: String
    public var listenPort: UInt16
    public var threads: Int
    public var databasePoolSize: Int
    /// Threads that commit many requests' writes as one transaction; 0 commits each request on its own.
    public var commitThreads: Int
    public var maxBodyBytes: Int
    public var connectionTimeout: Int
    public var requestTimeout: Int
    public var connectionLimit: Int
    public var api: APIConfiguration
    public var webhooks: WebhookDispatcher.Configuration
    /// Whether `ledger serve` runs a webhook dispatcher (instances that only serve the API can leave it off).
    public var dispatchInServe: Bool
    /// The key-encryption key of `LEDGER_KEK` or `LEDGER_KEK_FILE`; nil when neither is set.
    public var keyEncryptionKey: KeyEncryptionKey?
    /// The key `ledger keys rotate-kek` re-wraps to: `LEDGER_NEW_KEK` or `LEDGER_NEW_KEK_FILE`.
    public var newKeyEncryptionKey: KeyEncryptionKey?
    /// `LEDGER_PERSONAL_DATA_ENCRYPTION=0` stores personal data as given: only for the benchmark's reference run.
    public var personalDataEncryption: Bool

    public struct NewKeyInvalid: Error, CustomStringConvertible {
        public let description: String
    }
    /// Seconds between checkpoints of the audit log (made only when it grew).
    public var checkpointSeconds: Int
    /// The environment, for settings read where they are used (the checkpoint key).
    public var environment: [String: String]

    public struct Invalid: Error, CustomStringConvertible {
        public let variable: String
        public let value: String
        public let expected: String
        public var description: String { "\(variable)=\(value) is not valid: expected \(expected)" }
    }

    public init(environment: [String: String]) throws {
        func integer(_ name: String, _ fallback: Int, range: ClosedRange<Int>) throws -> Int {
            guard let text = environment[name], !text.isEmpty else { return fallback }
            guard let value = Int(text), range.contains(value) else {
                throw Invalid(variable: name, value: text, expected: "a whole number from \(range.lowerBound) to \(range.upperBound)")
            }
            return value
        }
        databaseURL = environment["DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
        let directory = environment["LEDGER_DATA_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? ".ledger"
        dataDirectory = URL(fileURLWithPath: directory, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
            .standardizedFileURL
        let listen = environment["LEDGER_LISTEN"].flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1:8080"
        guard let (host, port) = HTTPServer.Configuration.parseListen(listen) else {
            throw Invalid(variable: "LEDGER_LISTEN", value: listen, expected: "host:port, e.g. 127.0.0.1:8080")
        }
        listenHost = host
        listenPort = port
        // Handlers block on the database, and with commits batched each waits for its batch: many threads per core.
        threads = try integer("LEDGER_THREADS", min(512, max(8, 16 * ProcessInfo.processInfo.activeProcessorCount)), range: 1...512)
        // More connections than a few per core only make PostgreSQL's backends compete for the CPU; threads
        // beyond that wait for a connection, which costs less.
        databasePoolSize = try integer("LEDGER_DB_POOL", min(threads + 4, max(8, 4 * ProcessInfo.processInfo.activeProcessorCount)),
                                       range: 1...1000)
        // A committing thread per core, at least two: while one thread's batch waits for its WAL flush (its backend
        // idle), the next batch runs on another connection, where one thread left PostgreSQL a core's share or less.
        commitThreads = try integer("LEDGER_COMMIT_THREADS", max(2, ProcessInfo.processInfo.activeProcessorCount), range: 0...64)
        maxBodyBytes = try integer("LEDGER_MAX_BODY_BYTES", 1 << 20, range: 1024...(256 << 20))
        connectionTimeout = try integer("LEDGER_CONNECTION_TIMEOUT", 30, range: 1...3600)
        requestTimeout = try integer("LEDGER_REQUEST_TIMEOUT", 30, range: 1...3600)
        connectionLimit = try integer("LEDGER_CONNECTION_LIMIT", 4096, range: 16...1_000_000)
        let logRequests = environment["LEDGER_LOG_REQUESTS"] ?? "1"
        guard logRequests == "1" || logRequests == "0" else {
            throw Invalid(variable: "LEDGER_LOG_REQUESTS", value: logRequests, expected: "1 or 0")
        }
        let allowPrivate = environment["LEDGER_WEBHOOK_ALLOW_PRIVATE"] ?? "0"
        guard allowPrivate == "1" || allowPrivate == "0" else {
            throw Invalid(variable: "LEDGER_WEBHOOK_ALLOW_PRIVATE", value: allowPrivate, expected: "1 or 0")
        }
        let dispatch = environment["LEDGER_WEBHOOK_DISPATCH"] ?? "1"
        guard dispatch == "1" || dispatch == "0" else {
            throw Invalid(variable: "LEDGER_WEBHOOK_DISPATCH", value: dispatch, expected: "1 or 0")
        }
        dispatchInServe = dispatch == "1"
        let encryption = environment["LEDGER_PERSONAL_DATA_ENCRYPTION"] ?? "1"
        guard encryption == "1" || encryption == "0" else {
            throw Invalid(variable: "LEDGER_PERSONAL_DATA_ENCRYPTION", value: encryption, expected: "1 or 0")
        }
        personalDataEncryption = encryption == "1"
        keyEncryptionKey = try KeyEncryptionKey.load(environment: environment)
        do {
            newKeyEncryptionKey = try KeyEncryptionKey.load(environment: [
                KeyEncryptionKey.variable: environment["LEDGER_NEW_KEK"], KeyEncryptionKey.fileVariable: environment["LEDGER_NEW_KEK_FILE"],
            ].compactMapValues { $0 })
        } catch {
            // The same rules as LEDGER_KEK's, told with the variables that were actually set.
            throw NewKeyInvalid(description: error.description.replacingOccurrences(of: "LEDGER_KEK", with: "LEDGER_NEW_KEK"))
        }
        checkpointSeconds = try integer("LEDGER_CHECKPOINT_SECONDS", 10, range: 1...86_400)
        self.environment = environment
        let scheduleText = environment["LEDGER_WEBHOOK_RETRY_SCHEDULE"] ?? "0s,5s,5m,30m,2h,5h,10h,10h"
        let schedule: RetrySchedule
        do { schedule = try RetrySchedule(parsing: scheduleText) } catch {
            throw Invalid(variable: "LEDGER_WEBHOOK_RETRY_SCHEDULE", value: scheduleText, expected: "durations like 0s,5s,5m,30m,2h")
        }
        webhooks = WebhookDispatcher.Configuration(schedule: schedule,
                                                   concurrency: try integer("LEDGER_WEBHOOK_CONCURRENCY", 16, range: 1...256),
                                                   timeout: Double(try integer("LEDGER_WEBHOOK_TIMEOUT", 10, range: 1...60)),
                                                   policy: WebhookURLPolicy(allowPrivate: allowPrivate == "1"),
                                                   lease: Double(try integer("LEDGER_WEBHOOK_LEASE_SECONDS", 30, range: 2...3600)),
                                                   retention: Double(try integer("LEDGER_WEBHOOK_RETENTION_DAYS", 30, range: 1...3650)) * 86_400)
        api = APIConfiguration(rateLimitPerSecond: Double(try integer("LEDGER_RATE_LIMIT", 1000, range: 0...10_000_000)),
                               rateLimitBurst: try integer("LEDGER_RATE_LIMIT_BURST", 2000, range: 1...10_000_000),
                               authCacheSeconds: Double(try integer("LEDGER_AUTH_CACHE_SECONDS", 1, range: 0...3600)),
                               logRequests: logRequests == "1", allowPrivateWebhooks: allowPrivate == "1",
                               stateCacheSize: try integer("LEDGER_STATE_CACHE_SIZE", 10_000, range: 0...10_000_000),
                               webhookEndpointLimit: try integer("LEDGER_WEBHOOK_ENDPOINT_LIMIT", 16, range: 1...10_000),
                               providerStepDelay: Double(try integer("LEDGER_SANDBOX_STEP_DELAY_MS", 0, range: 0...60_000)) / 1000,
                               validity: ValidityPolicy(validity: Double(try integer("LEDGER_VALIDITY_DAYS", 365, range: 1...36_500)) * 86_400,
                                                        reverificationWindow: Double(try integer("LEDGER_REVERIFICATION_DAYS", 30,
                                                                                                 range: 0...36_500)) * 86_400),
                               retentionYears: try integer("LEDGER_RETENTION_YEARS", 5, range: 0...100),
                               timelineLinkKey: environment["LEDGER_UI_LINK_KEY"].flatMap { $0.isEmpty ? nil : Digest.sha256($0) })
    }

    public var httpConfiguration: HTTPServer.Configuration {
        HTTPServer.Configuration(host: listenHost, port: listenPort, threads: threads, connectionLimit: connectionLimit,
                                 connectionTimeout: connectionTimeout, requestTimeout: Double(requestTimeout),
                                 maxBodyBytes: maxBodyBytes)
    }
}
