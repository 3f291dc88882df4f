import Foundation
import LedgerCrypto
import LedgerDomain
import LedgerLog
import LedgerStorage
import Synchronization

/// Sends the outbox's messages as signed webhooks.
///
/// Messages are claimed with `FOR UPDATE SKIP LOCKED` and leased (30 seconds by default), no more at once than
/// there are delivery slots, so several dispatchers (in several service instances) share the work without
/// sending a message twice at once, and a dispatcher that dies mid-delivery only delays its messages. Outcomes
/// are recorded only under the claim's lease token. For an endpoint in `ordered` mode (the default) and for
/// postbacks, a message waits while an earlier one for the same verification and destination is pending, so
/// each receiver sees a verification's messages in order; `concurrent` endpoints get them as they come.
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
        /// Delivered messages and their attempts are deleted this long after their delivery.
        public var retention: TimeInterval
        /// Opens the personal data sealed in queued payloads just before they are sent; nil: encryption off.
        public var personalDataVault: PersonalDataVault?

        public init(schedule: RetrySchedule = .standard, concurrency: Int = 16, timeout: TimeInterval = 10,
                    policy: WebhookURLPolicy = WebhookURLPolicy(allowPrivate: false), disableAfter: TimeInterval = 5 * 86_400,
                    lease: TimeInterval = 30, retention: TimeInterval = 30 * 86_400) {
            self.schedule = schedule
            self.concurrency = concurrency
            self.timeout = timeout
            self.policy = policy
            self.disableAfter = disableAfter
            self.lease = max(lease, timeout + 1)
            self.retention = retention
        }
    }

    struct Message: Sendable {
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

    struct Outcome: Sendable {
        var status: Int?
        var latency: Double
        var excerpt: String?
        var error: String?
        var succeeded: Bool { status.map { (200..<300).contains($0) } ?? false }
    }

    private let pool: ConnectionPool
    private let conninfo: String
    private let configuration: Configuration
    private let client = CurlClient()
    private let running = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)

    /// - Parameter conninfo: for the LISTEN connection that wakes the dispatcher when a command commits.
    public init(pool: ConnectionPool, conninfo: String, configuration: Configuration) {
        self.pool = pool
        self.conninfo = conninfo
        self.configuration = configuration
    }

    /// One claim: what is due, at most one message per free slot (and at most `batch`), delivered and recorded;
    /// returns how many messages were attempted.
    @discardableResult
    public func runOnce(batch: Int = 100) throws -> Int {
        try deliver(claimingAgain: false, batch: batch) { true }
    }

    /// A claimed message with the moment its lease runs out.
    struct Claimed: Sendable {
        var message: Message
        var lease: UUID
        var leasedUntil: DispatchTime
    }

    /// The delivery slots, shared by the claiming loop and the HTTP client's completions. A completion hands its slot
    /// straight to the next claimed message waiting in `ready`, so no slot waits for PostgreSQL; the loop records
    /// the finished deliveries and tops `ready` up, both in one transaction, while the slots stay busy.
    private final class Slots: @unchecked Sendable {
        private struct State {
            var inFlight = 0
            var ready: [Claimed] = []
            var finished: [(Message, Outcome, UUID)] = []
        }
        private let state = Mutex(State())
        private let signal = DispatchSemaphore(value: 0)
        let capacity: Int
        /// A ready message is sent only if its lease still covers a whole delivery from now.
        let timeout: TimeInterval

        init(capacity: Int, timeout: TimeInterval) {
            self.capacity = capacity
            self.timeout = timeout
        }

        var counts: (inFlight: Int, ready: Int) { state.withLock { ($0.inFlight, $0.ready.count) } }

        /// Takes free slots for `claimed` in order; returns those to send now, and keeps the rest ready.
        func admit(_ claimed: [Claimed]) -> [Claimed] {
            state.withLock { state in
                let now = claimed.prefix(max(0, capacity - state.inFlight))
                state.inFlight += now.count
                state.ready += claimed.dropFirst(now.count)
                return Array(now)
            }
        }

        /// Records a finished delivery and gives its slot to the next ready message whose lease still covers a
        /// delivery (returned, to be sent); one whose lease no longer does is dropped unsent, to be claimed again.
        func finish(_ message: Message, _ outcome: Outcome, lease: UUID) -> Claimed? {
            let next = state.withLock { state -> Claimed? in
                state.finished.append((message, outcome, lease))
                let latestStart = DispatchTime.now() + timeout + 1
                while !state.ready.isEmpty {
                    let candidate = state.ready.removeFirst()
                    if candidate.leasedUntil > latestStart { return candidate }
                }
                state.inFlight -= 1
                return nil
            }
            signal.signal()
            return next
        }

        /// Waits until a delivery finished (or `timeout` passed), then takes every finished one.
        func takeFinished(waitingUpTo timeout: TimeInterval) -> [(Message, Outcome, UUID)] {
            _ = signal.wait(timeout: .now() + timeout)
            while signal.wait(timeout: .now()) == .success {} // one pass takes them all
            return state.withLock { state in defer { state.finished = [] }; return state.finished }
        }

        /// Every finished delivery not taken yet, without waiting.
        func takeFinished() -> [(Message, Outcome, UUID)] {
            state.withLock { state in defer { state.finished = [] }; return state.finished }
        }
    }

    /// Keeps up to `concurrency` deliveries in flight. With `claimingAgain`, it also keeps up to `concurrency`
    /// claimed messages ready behind them (claimed under a lease longer by one timeout, since a ready message
    /// waits at most one delivery for its slot), so a finished delivery's slot goes to the next message at once.
    /// The loop itself only talks to PostgreSQL: it records the finished deliveries under their claims' leases and
    /// tops the ready messages up, in one transaction, while the slots stay busy; it claims again after an empty
    /// claim only once something finished (which may have unblocked the next message of its destination). With
    /// `claimingAgain` false it claims once, no more than the free slots. Stops claiming once `keepClaiming` says
    /// no; returns once nothing is in flight or ready and all is recorded, with how many messages were attempted.
    func deliver(claimingAgain: Bool, batch: Int, keepClaiming: () -> Bool) throws -> Int {
        let capacity = min(batch, configuration.concurrency)
        let slots = Slots(capacity: capacity, timeout: configuration.timeout)
        let ahead = claimingAgain ? capacity : 0
        let leaseSeconds = configuration.lease + (claimingAgain ? configuration.timeout : 0)
        var attempted = 0, mayClaim = true, toRecord: [(Message, Outcome, UUID)] = [], failure: Error?
        while true {
            let (inFlight, ready) = slots.counts
            let wanted = capacity + ahead - inFlight - ready
            let claiming = mayClaim && failure == nil && wanted > 0
                && (inFlight + ready == 0 || wanted * 4 >= capacity) && keepClaiming()
            toRecord += slots.takeFinished()
            if failure == nil && (claiming || !toRecord.isEmpty) {
                do {
                    // Counted from before the claim, so never later than PostgreSQL's own expiry.
                    let leasedUntil = DispatchTime.now() + leaseSeconds
                    let exchanged = try exchange(recording: toRecord, claimingUpTo: claiming ? wanted : 0, leaseSeconds: leaseSeconds)
                    if claiming {
                        mayClaim = claimingAgain && !exchanged.claimed.isEmpty
                        attempted += exchanged.claimed.count
                        let now = slots.admit(exchanged.claimed.map { Claimed(message: $0, lease: exchanged.lease, leasedUntil: leasedUntil) })
                        for claimed in now { start(claimed, slots: slots) }
                    }
                } catch {
                    failure = error
                }
                toRecord = []
            }
            let counts = slots.counts
            if counts.inFlight == 0 && counts.ready == 0 {
                toRecord += slots.takeFinished()
                if toRecord.isEmpty || failure != nil { break }
                continue
            }
            let done = slots.takeFinished(waitingUpTo: configuration.timeout + 1)
            guard !done.isEmpty else { continue }
            toRecord += done
            if claimingAgain { mayClaim = true }
        }
        if let failure { throw failure }
        return attempted
    }

    /// Sends claimed messages one after the other on one slot: each completion records its outcome and sends the
    /// next ready message, if any.
    private func start(_ claimed: Claimed, slots: Slots) {
        let message = claimed.message
        let finish: @Sendable (Outcome) -> Void = { [self] outcome in
            if let next = slots.finish(message, outcome, lease: claimed.lease) { start(next, slots: slots) }
        }
        if let problem = configuration.policy.problem(message.url, livemode: message.livemode) {
            return finish(Outcome(status: nil, latency: 0, excerpt: nil, error: "destination refused: the URL \(problem)"))
        }
        let secrets: [WebhookSecret]
        do {
            secrets = message.secrets.isEmpty ? try postbackSecrets(message) : message.secrets
        } catch {
            return finish(Outcome(status: nil, latency: 0, excerpt: nil, error: "no postback secret: \(error)"))
        }
        send(message, secrets: secrets, completion: finish)
    }

    /// Runs on a thread of its own: woken by NOTIFY on the outbox channel, polling every second anyway.
    /// Every `purgeInterval` seconds it also deletes delivered messages past their retention, in batches.
    public func start(channel: String = "ledger_outbox", purgeInterval: TimeInterval = 60) {
        guard !running.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let thread = Thread { [self] in
            var listener: PostgresConnection?
            var nextPurge = Date()
            while running.load(ordering: .acquiring) {
                do {
                    let keepClaiming = { self.running.load(ordering: .acquiring) && Date() < nextPurge }
                    while try deliver(claimingAgain: true, batch: configuration.concurrency, keepClaiming: keepClaiming) > 0
                            && keepClaiming() {}
                    if Date() >= nextPurge {
                        nextPurge = Date().addingTimeInterval(purgeInterval)
                        // One bounded batch per pass, between claims, so purging never holds deliveries back for long.
                        if try purgeDelivered(now: Date()) > 0 { nextPurge = Date() }
                    }
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

    /// The claim's statement: pending messages that are due, not leased, whose endpoint is enabled, and (for an
    /// ordered destination) with no earlier message pending for the same verification and destination.
    /// It walks the pending rows in id order (`outbox_pending`) and stops at the limit: every other condition is
    /// a per-row subquery (the ORs keep them so), since a join with the endpoints made the planner read and sort
    /// the whole backlog (46 ms per claim at 10,000 pending). The earlier-message check reaches a destination's
    /// few rows by equality on `outbox_destination`, and says `NOT IN ('delivered', 'dead')` rather than
    /// `= 'pending'` so that the partial pending index can never serve it: with that index's statistics still
    /// saying "empty", the planner scanned every pending row for every candidate, and a fresh dispatcher took
    /// 42 s to claim from a 13,000-message backlog.
    public static let claimStatement = """
        WITH due AS (
            SELECT o.id FROM ledger.outbox o
            WHERE o.status = 'pending' AND o.next_attempt_at <= now()
              AND (o.leased_until IS NULL OR o.leased_until < now())
              AND (o.endpoint_id IS NULL OR EXISTS (
                  SELECT FROM ledger.webhook_endpoints e WHERE e.id = o.endpoint_id AND e.enabled AND e.deleted_at IS NULL))
              AND (EXISTS (SELECT FROM ledger.webhook_endpoints e WHERE e.id = o.endpoint_id AND e.delivery_mode = 'concurrent')
                   OR NOT EXISTS (
                       SELECT FROM ledger.outbox p
                       WHERE p.organization_id = o.organization_id AND p.verification_id = o.verification_id
                         AND p.destination = o.destination AND p.id < o.id AND p.status NOT IN ('delivered', 'dead')))
            ORDER BY o.id
            LIMIT $1
            FOR UPDATE OF o SKIP LOCKED)
        UPDATE ledger.outbox o SET leased_until = now() + make_interval(secs => $2), lease_token = $3
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
                   AND p.previous_secret_expires_at > now())),
            o.verification_id, o.event_type,
            (SELECT v.entity_id FROM ledger.verifications v WHERE v.organization_id = o.organization_id AND v.id = o.verification_id),
            (SELECT k.wrapped_key FROM ledger.verifications v JOIN ledger.data_keys k ON k.organization_id = v.organization_id AND k.livemode = v.livemode AND k.entity_id = v.entity_id
             WHERE v.organization_id = o.organization_id AND v.id = o.verification_id),
            (SELECT k.erased_at IS NOT NULL FROM ledger.verifications v JOIN ledger.data_keys k ON k.organization_id = v.organization_id AND k.livemode = v.livemode AND k.entity_id = v.entity_id
             WHERE v.organization_id = o.organization_id AND v.id = o.verification_id)
        """

    /// Claims and outcomes commit without waiting for their WAL flush: a claim or an outcome lost in a crash
    /// of PostgreSQL only means the message is sent again, which at-least-once delivery allows, and waiting
    /// for the disk after every few deliveries bounded the dispatcher to about one flush per delivery.
    static var asynchronousCommit: PostgresStatement { ("SET LOCAL synchronous_commit = off", []) }

    /// Leases at most `min(batch, concurrency)` messages, all under one new lease token: no more than can be
    /// sent at once, so no claimed message waits for a slot while its lease runs out.
    func claim(_ batch: Int) throws -> (messages: [Message], lease: UUID) {
        let exchanged = try exchange(recording: [], claimingUpTo: min(batch, configuration.concurrency))
        return (exchanged.claimed, exchanged.lease)
    }

    /// Records finished deliveries (each under its own claim's lease) and claims up to `limit` more (none for
    /// 0) under a new lease, in one transaction: one round trip and its COMMIT, so the slots freed by the
    /// recorded deliveries fill again without waiting for another.
    func exchange(recording outcomes: [(Message, Outcome, UUID)], claimingUpTo limit: Int, leaseSeconds: TimeInterval? = nil) throws
        -> (recorded: Int, claimed: [Message], lease: UUID) {
        let lease = UUID()
        let claimLimit = min(limit, 2 * configuration.concurrency)
        var statements = [Self.asynchronousCommit]
        if !outcomes.isEmpty { statements.append(recordStatement(outcomes)) }
        if claimLimit > 0 { statements.append((Self.claimStatement, [claimLimit, leaseSeconds ?? configuration.lease, lease])) }
        let results = try pool.transaction(scope: .system) { tx in try tx.pipeline(statements) }
        let recorded = outcomes.isEmpty ? 0 : results.dropFirst().first?.int(0, 0) ?? 0
        if recorded < outcomes.count {
            Log.warning("webhook outcomes not recorded: the lease was lost, another dispatcher will send again",
                        ["count": .int(outcomes.count - recorded)])
        }
        guard claimLimit > 0, let rows = results.last else { return (recorded, [], lease) }
        let claimed = try (0..<rows.count).map { row in
            guard let id = rows.int64(row, 0), let messageID = rows.string(row, 1), let url = rows.string(row, 2),
                  let organization = rows.uuid(row, 4), let livemode = rows.bool(row, 5), let body = rows.string(row, 6),
                  let attempts = rows.int(row, 7) else {
                throw StorageError.unreadableRow(table: "outbox", key: rows.string(row, 0) ?? "?")
            }
            let shown = openPersonalData(body, organizationID: organization, verificationID: rows.string(row, 10), eventType: rows.string(row, 11),
                                         entityID: rows.string(row, 12), wrappedKey: rows.bytes(row, 13), erased: rows.bool(row, 14) ?? false)
            return Message(id: id, messageID: messageID, url: url, endpointID: rows.string(row, 3), organizationID: organization,
                           livemode: livemode, body: Array(shown.utf8), attempts: attempts,
                           secrets: [rows.string(row, 8), rows.string(row, 9)].compactMap { $0.flatMap(WebhookSecret.init) })
        }.sorted { $0.id < $1.id }
        return (recorded, claimed, lease)
    }

    /// The payload as it is sent: its object's personal data decrypted under the entity's key as it is now, or left
    /// out (and the object marked erased) once that key is destroyed. A payload that does not open is sent without
    /// its personal data rather than not at all.
    func openPersonalData(_ body: String, organizationID: UUID, verificationID: String?, eventType: String?, entityID: String?,
                          wrappedKey: [UInt8]?, erased: Bool) -> String {
        guard body.contains(PersonalDataEnvelope.member), let vault = configuration.personalDataVault,
              let verificationID, let entityID, case var .object(payload)? = try? JSONValue.parse(Array(body.utf8), maxDepth: 512),
              let dataIndex = payload.firstIndex(where: { $0.0 == "data" }), case var .object(data) = payload[dataIndex].1,
              let objectIndex = data.firstIndex(where: { $0.0 == "object" }) else { return body }
        let owner = DataKeyOwner(organizationID: organizationID, entityID: entityID)
        let kind = eventType?.hasPrefix("ORDER_") == true ? "order" : "verification"
        let stored = data[objectIndex].1.jsonString
        let opened: String
        do {
            opened = try vault.openDocument(stored, documentID: PersonalDataVault.documentID(kind: kind, streamID: verificationID), owner: owner,
                                            key: try vault.key(owner, wrapped: wrappedKey, erased: erased))
        } catch {
            Log.warning("a queued webhook's personal data does not open; sent without it", ["error": .string("\(error)")])
            opened = (try? vault.openDocument(stored, documentID: "", owner: owner, key: .erased)) ?? stored
        }
        guard let object = try? JSONValue.parse(Array(opened.utf8), maxDepth: 512) else { return body }
        data[objectIndex].1 = object
        payload[dataIndex].1 = .object(data)
        return JSONValue.object(payload).jsonString
    }

    /// The organization's postback secrets, made on first use if nobody has read them yet.
    func postbackSecrets(_ message: Message) throws -> [WebhookSecret] {
        try pool.withConnection(scope: .tenant(organizationID: message.organizationID, livemode: message.livemode)) {
            try PostbackSecrets.current($0, organizationID: message.organizationID, livemode: message.livemode).signing
        }
    }

    /// Sends one message; `completion` runs once with its outcome, on the HTTP client's thread.
    func send(_ message: Message, secrets: [WebhookSecret], completion: @escaping @Sendable (Outcome) -> Void) {
        let timestamp = Int64(Date().timeIntervalSince1970)
        let headers = [("Content-Type", "application/json"), ("User-Agent", "ledger-webhooks/1")]
            + StandardWebhooks.headers(id: message.messageID, timestamp: timestamp, body: message.body, secrets: secrets)
        client.post(message.url, headers: headers, body: message.body, timeout: configuration.timeout) { response in
            completion(Outcome(status: response.status, latency: response.latencyMilliseconds, excerpt: response.excerpt,
                               error: response.error))
        }
    }

    /// Records the outcomes of one claim. Each is written only if the message is still held by that claim's
    /// lease: a dispatcher that lost it (it took too long, another one claimed the message) must not turn a
    /// delivered message back to pending. Returns how many were recorded.
    @discardableResult
    func record(_ outcomes: [(Message, Outcome)], lease: UUID) throws -> Int {
        try exchange(recording: outcomes.map { ($0.0, $0.1, lease) }, claimingUpTo: 0).recorded
    }

    /// One statement recording every outcome, each only under its own claim's lease (one set of arrays,
    /// `unnest`, so a batch of finished deliveries costs one statement); it answers how many it recorded. An
    /// endpoint is judged once per batch: it answered if any delivery to it succeeded and none said 410 Gone.
    func recordStatement(_ outcomes: [(Message, Outcome, UUID)]) -> PostgresStatement {
        func array<T>(_ value: ((Message, Outcome, UUID)) -> T?) -> PostgresArray where T: PostgresEncodable {
            PostgresArray(nullable: outcomes.map { value($0)?.postgresText })
        }
        return ("""
            WITH finished AS (
                SELECT * FROM unnest($1::bigint[], $2::integer[], $3::integer[], $4::boolean[], $5::double precision[],
                                     $6::uuid[], $7::double precision[], $8::text[], $9::text[])
                    AS f(id, attempts, status, succeeded, next_delay, lease, latency_ms, excerpt, error)),
            recorded AS (
                UPDATE ledger.outbox o
                SET attempts = f.attempts, leased_until = NULL, lease_token = NULL, last_attempt_at = now(),
                    last_response_status = f.status,
                    status = CASE WHEN f.succeeded THEN 'delivered' WHEN f.next_delay IS NULL THEN 'dead' ELSE 'pending' END,
                    dead_reason = CASE WHEN NOT f.succeeded AND f.next_delay IS NULL THEN 'every attempt of the retry schedule failed' END,
                    delivered_at = CASE WHEN f.succeeded THEN now() END,
                    next_attempt_at = CASE WHEN f.succeeded OR f.next_delay IS NULL THEN o.next_attempt_at
                                           ELSE now() + make_interval(secs => f.next_delay) END
                FROM finished f
                WHERE o.id = f.id AND o.lease_token = f.lease
                RETURNING o.id, o.organization_id, o.endpoint_id, f.status, f.succeeded, f.latency_ms, f.excerpt, f.error),
            attempt AS (
                INSERT INTO ledger.webhook_delivery_attempts (outbox_id, organization_id, response_status, latency_ms, response_excerpt, error)
                SELECT id, organization_id, status, latency_ms, excerpt, error FROM recorded),
            verdict AS (
                SELECT endpoint_id, bool_or(succeeded) AND NOT bool_or(status IS NOT DISTINCT FROM 410) AS answered,
                       bool_or(status IS NOT DISTINCT FROM 410) AS gone
                FROM recorded WHERE endpoint_id IS NOT NULL GROUP BY endpoint_id),
            endpoint AS (
                UPDATE ledger.webhook_endpoints e
                SET failing_since = CASE WHEN v.answered THEN NULL ELSE coalesce(e.failing_since, now()) END,
                    enabled = e.enabled AND (v.answered OR NOT (v.gone OR coalesce(e.failing_since, now()) < now() - make_interval(secs => $10))),
                    disabled_reason = CASE WHEN v.answered THEN e.disabled_reason
                                           WHEN v.gone THEN 'the endpoint answered 410 Gone'
                                           WHEN coalesce(e.failing_since, now()) < now() - make_interval(secs => $10)
                                           THEN 'every delivery failed for \(Int(configuration.disableAfter / 86_400)) days'
                                           ELSE e.disabled_reason END,
                    updated_at = CASE WHEN v.answered THEN e.updated_at ELSE now() END
                FROM verdict v
                WHERE e.id = v.endpoint_id AND (NOT v.answered OR e.failing_since IS NOT NULL))
            SELECT count(*) FROM recorded
            """, [array { $0.0.id }, array { $0.0.attempts + 1 }, array { $0.1.status }, array { $0.1.succeeded },
                  array { $0.1.succeeded ? nil : configuration.schedule.delay(beforeAttempt: $0.0.attempts + 1) },
                  array { $0.2 }, array { $0.1.latency }, array { $0.1.excerpt.map(withoutNUL) }, array { $0.1.error.map(withoutNUL) },
                  configuration.disableAfter])
    }

    /// A NUL byte (a receiver may answer with one) would end the whole array parameter in libpq's C string.
    private func withoutNUL(_ text: String) -> String {
        text.contains("\u{0}") ? String(text.unicodeScalars.filter { $0 != "\u{0}" }) : text
    }

    /// Deletes delivered messages (and their attempts) delivered before `now - retention`, at most `limit` per
    /// call; returns how many messages went. The dispatcher calls it in the background, batch after batch.
    @discardableResult
    public func purgeDelivered(now: Date, limit: Int = 1000) throws -> Int {
        let cutoff = now.addingTimeInterval(-configuration.retention)
        let rows = try pool.transaction(scope: .system) { tx in
            try tx.query("""
                WITH doomed AS (
                    SELECT id FROM ledger.outbox
                    WHERE status = 'delivered' AND delivered_at < $1
                    ORDER BY delivered_at
                    LIMIT $2
                    FOR UPDATE SKIP LOCKED),
                attempts AS (
                    DELETE FROM ledger.webhook_delivery_attempts a USING doomed WHERE a.outbox_id = doomed.id)
                DELETE FROM ledger.outbox o USING doomed WHERE o.id = doomed.id
                RETURNING 1
                """, [cutoff, limit])
        }
        return rows.count
    }
}
