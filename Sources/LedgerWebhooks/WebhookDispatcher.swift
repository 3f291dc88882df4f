import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import LedgerCrypto
import LedgerLog
import LedgerStorage
import Synchronization

/// Sends the outbox's messages as signed webhooks.
///
/// Messages are claimed with `FOR UPDATE SKIP LOCKED` and leased (30 seconds by default), so several dispatchers (in
/// several service instances) share the work without sending a message twice at once, and a dispatcher that
/// dies mid-delivery only delays its messages. A message waits while an earlier one for the same verification
/// and destination is still pending, so each receiver sees a verification's messages in order.
public final class WebhookDispatcher: @unchecked Sendable {
    public struct Configuration: Sendable {
        public var schedule: RetrySchedule
        public var concurrency: Int
        public var timeout: TimeInterval
        public var policy: WebhookURLPolicy
        /// An endpoint failing without a success for this long is disabled.
        public var disableAfter: TimeInterval
        /// How long a claimed message is reserved for its dispatcher; longer than `timeout`, so only a
        /// dispatcher that died loses its claim.
        public var lease: TimeInterval

        public init(schedule: RetrySchedule = .standard, concurrency: Int = 16, timeout: TimeInterval = 10,
                    policy: WebhookURLPolicy = WebhookURLPolicy(allowPrivate: false), disableAfter: TimeInterval = 5 * 86_400,
                    lease: TimeInterval = 30) {
            self.schedule = schedule
            self.concurrency = concurrency
            self.timeout = timeout
            self.policy = policy
            self.disableAfter = disableAfter
            self.lease = max(lease, timeout + 1)
        }
    }

    struct Message {
        var id: Int64
        var messageID: String
        var url: String
        var endpointID: String?
        var organizationID: UUID
        var livemode: Bool
        var body: [UInt8]
        var attempts: Int
        /// The signing secrets, read with the claim; empty for a postback whose organization has none yet.
        var secrets: [WebhookSecret]
    }

    struct Outcome {
        var status: Int?
        var latency: Double
        var excerpt: String?
        var error: String?
        var succeeded: Bool { status.map { (200..<300).contains($0) } ?? false }
    }

    private let pool: ConnectionPool
    private let conninfo: String
    private let configuration: Configuration
    private let session: URLSession
    private let running = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)

    /// - Parameter conninfo: for the LISTEN connection that wakes the dispatcher when a command commits.
    public init(pool: ConnectionPool, conninfo: String, configuration: Configuration) {
        self.pool = pool
        self.conninfo = conninfo
        self.configuration = configuration
        let sessionConfiguration = URLSessionConfiguration.ephemeral
        sessionConfiguration.timeoutIntervalForRequest = configuration.timeout
        sessionConfiguration.timeoutIntervalForResource = configuration.timeout
        sessionConfiguration.httpMaximumConnectionsPerHost = configuration.concurrency
        session = URLSession(configuration: sessionConfiguration)
    }

    /// Claims what is due and delivers it; returns how many messages were attempted.
    @discardableResult
    public func runOnce(batch: Int = 100) throws -> Int {
        let messages = try claim(batch)
        guard !messages.isEmpty else { return 0 }
        let group = DispatchGroup()
        let slots = DispatchSemaphore(value: max(1, configuration.concurrency))
        let failures = Mutex<[Error]>([])
        for message in messages {
            slots.wait()
            group.enter()
            Thread { [self] in
                defer { slots.signal(); group.leave() }
                do { try deliver(message) } catch { failures.withLock { $0.append(error) } }
            }.start()
        }
        group.wait()
        if let failure = failures.withLock({ $0.first }) { throw failure }
        return messages.count
    }

    /// Runs on a thread of its own: woken by NOTIFY on the outbox channel, polling every second anyway.
    public func start(channel: String = "ledger_outbox") {
        guard !running.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let thread = Thread { [self] in
            var listener: PostgresConnection?
            while running.load(ordering: .acquiring) {
                do {
                    while try runOnce() > 0 && running.load(ordering: .acquiring) {}
                    if listener == nil || listener?.isBroken == true {
                        listener = try PostgresConnection(conninfo: conninfo)
                        try listener?.execute("LISTEN \(channel)")
                    }
                    _ = try listener?.waitForNotification(timeout: 1)
                } catch {
                    listener = nil
                    Log.warning("webhook dispatch pass failed", ["error": .string("\(error)")])
                    Thread.sleep(forTimeInterval: 1) // the database is away; try again in a second
                }
            }
            finished.signal()
        }
        thread.name = "ledger-dispatch"
        thread.start()
    }

    /// Stops after the pass in progress.
    public func stop() {
        guard running.exchange(false, ordering: .acquiringAndReleasing) else { return }
        finished.wait()
    }

    func claim(_ batch: Int) throws -> [Message] {
        try pool.withConnection { connection in
            let rows = try connection.query("""
                WITH due AS (
                    SELECT o.id FROM ledger.outbox o
                    WHERE o.status = 'pending' AND o.next_attempt_at <= now()
                      AND (o.leased_until IS NULL OR o.leased_until < now())
                      AND (o.endpoint_id IS NULL OR EXISTS (
                          SELECT FROM ledger.webhook_endpoints e WHERE e.id = o.endpoint_id AND e.enabled AND e.deleted_at IS NULL))
                      AND NOT EXISTS (
                          SELECT FROM ledger.outbox p
                          WHERE p.organization_id = o.organization_id AND p.verification_id = o.verification_id
                            AND p.url = o.url AND p.status = 'pending' AND p.id < o.id)
                    ORDER BY o.id
                    LIMIT $1
                    FOR UPDATE OF o SKIP LOCKED)
                UPDATE ledger.outbox o SET leased_until = now() + make_interval(secs => $2)
                FROM due WHERE o.id = due.id
                RETURNING o.id, o.message_id, o.url, o.endpoint_id, o.organization_id, o.livemode, o.payload::text, o.attempts,
                    coalesce(
                        (SELECT e.secret FROM ledger.webhook_endpoints e WHERE e.id = o.endpoint_id),
                        (SELECT p.secret FROM ledger.postback_secrets p
                         WHERE o.endpoint_id IS NULL AND p.organization_id = o.organization_id AND p.livemode = o.livemode)),
                    coalesce(
                        (SELECT e.previous_secret FROM ledger.webhook_endpoints e
                         WHERE e.id = o.endpoint_id AND e.previous_secret_expires_at > now()),
                        (SELECT p.previous_secret FROM ledger.postback_secrets p
                         WHERE o.endpoint_id IS NULL AND p.organization_id = o.organization_id AND p.livemode = o.livemode
                           AND p.previous_secret_expires_at > now()))
                """, [batch, configuration.lease])
            return try (0..<rows.count).map { row in
                guard let id = rows.int64(row, 0), let messageID = rows.string(row, 1), let url = rows.string(row, 2),
                      let organization = rows.uuid(row, 4), let livemode = rows.bool(row, 5), let body = rows.string(row, 6),
                      let attempts = rows.int(row, 7) else {
                    throw StorageError.unreadableRow(table: "outbox", key: rows.string(row, 0) ?? "?")
                }
                return Message(id: id, messageID: messageID, url: url, endpointID: rows.string(row, 3), organizationID: organization,
                               livemode: livemode, body: Array(body.utf8), attempts: attempts,
                               secrets: [rows.string(row, 8), rows.string(row, 9)].compactMap { $0.flatMap(WebhookSecret.init) })
            }.sorted { $0.id < $1.id }
        }
    }

    func deliver(_ message: Message) throws {
        let secrets = message.secrets.isEmpty ? try postbackSecrets(message) : message.secrets
        let outcome: Outcome
        if let problem = configuration.policy.problem(message.url, livemode: message.livemode) {
            outcome = Outcome(status: nil, latency: 0, excerpt: nil, error: "destination refused: the URL \(problem)")
        } else {
            outcome = send(message, secrets: secrets)
        }
        try record(message, outcome)
    }

    /// The organization's postback secrets, made on first use if nobody has read them yet.
    func postbackSecrets(_ message: Message) throws -> [WebhookSecret] {
        try pool.withConnection {
            try PostbackSecrets.current($0, organizationID: message.organizationID, livemode: message.livemode).signing
        }
    }

    func send(_ message: Message, secrets: [WebhookSecret]) -> Outcome {
        guard let url = URL(string: message.url) else { return Outcome(status: nil, latency: 0, excerpt: nil, error: "not a URL") }
        var request = URLRequest(url: url, timeoutInterval: configuration.timeout)
        request.httpMethod = "POST"
        request.httpBody = Data(message.body)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue("ledger-webhooks/1", forHTTPHeaderField: "User-Agent")
        let timestamp = Int64(Date().timeIntervalSince1970)
        for (name, value) in StandardWebhooks.headers(id: message.messageID, timestamp: timestamp, body: message.body, secrets: secrets) {
            request.setValue(value, forHTTPHeaderField: name)
        }
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<Outcome?>(nil)
        let started = DispatchTime.now().uptimeNanoseconds
        session.dataTask(with: request) { data, response, error in
            let latency = Double(DispatchTime.now().uptimeNanoseconds - started) / 1_000_000
            let excerpt = data.map { String(decoding: $0.prefix(1024), as: UTF8.self) }
            result.withLock {
                $0 = Outcome(status: (response as? HTTPURLResponse)?.statusCode, latency: latency, excerpt: excerpt,
                             error: error.map { String(describing: $0.localizedDescription.prefix(300)) })
            }
            done.signal()
        }.resume()
        done.wait()
        return result.withLock { $0 } ?? Outcome(status: nil, latency: 0, excerpt: nil, error: "no answer")
    }

    func record(_ message: Message, _ outcome: Outcome) throws {
        let attempted = message.attempts + 1
        let nextDelay = outcome.succeeded ? nil : configuration.schedule.delay(beforeAttempt: attempted)
        var statements: [PostgresStatement] = [
            ("""
            INSERT INTO ledger.webhook_delivery_attempts (outbox_id, organization_id, response_status, latency_ms, response_excerpt, error)
            VALUES ($1, $2, $3, $4, $5, $6)
            """, [message.id, message.organizationID, outcome.status, outcome.latency, outcome.excerpt, outcome.error]),
            ("""
            UPDATE ledger.outbox
            SET attempts = $2, leased_until = NULL, last_attempt_at = now(), last_response_status = $3,
                status = CASE WHEN $4 THEN 'delivered' WHEN $5::double precision IS NULL THEN 'dead' ELSE 'pending' END,
                delivered_at = CASE WHEN $4 THEN now() END,
                next_attempt_at = CASE WHEN $4 OR $5::double precision IS NULL THEN next_attempt_at
                                       ELSE now() + make_interval(secs => $5::double precision) END
            WHERE id = $1
            """, [message.id, attempted, outcome.status, outcome.succeeded, nextDelay]),
        ]
        if let endpoint = message.endpointID {
            if outcome.succeeded {
                statements.append(("UPDATE ledger.webhook_endpoints SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL", [endpoint]))
            } else {
                statements.append(("""
                    UPDATE ledger.webhook_endpoints
                    SET failing_since = coalesce(failing_since, now()),
                        enabled = enabled AND NOT ($2 OR coalesce(failing_since, now()) < now() - make_interval(secs => $3)),
                        disabled_reason = CASE WHEN $2 THEN 'the endpoint answered 410 Gone'
                                               WHEN coalesce(failing_since, now()) < now() - make_interval(secs => $3)
                                               THEN 'every delivery failed for \(Int(configuration.disableAfter / 86_400)) days'
                                               ELSE disabled_reason END,
                        updated_at = now()
                    WHERE id = $1
                    """, [endpoint, outcome.status == 410, configuration.disableAfter]))
            }
        }
        try pool.transaction { tx in _ = try tx.pipeline(statements) }
    }
}
