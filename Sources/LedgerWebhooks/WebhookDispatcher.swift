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
        let leasedUntil = DispatchTime.now() + configuration.lease
        let claimed = try claim(batch)
        let slots = Slots(capacity: min(batch, configuration.concurrency), timeout: configuration.timeout)
        for next in slots.admit(prepare(claimed.messages, lease: claimed.lease, leasedUntil: leasedUntil)) { start(next, slots: slots) }
        var outcomes: [Finished] = []
        while outcomes.count < claimed.messages.count {
            outcomes += slots.takeRecords(waitingUpTo: configuration.timeout + 1).finished
        }
        try exchange(recording: outcomes, claimingUpTo: 0)
        return claimed.messages.count
    }

    /// A claimed message with the moment its lease runs out, and what to do with it.
    struct Claimed: Sendable {
        var message: Message
        var lease: UUID
        var leasedUntil: DispatchTime
        var delivery: Delivery
    }

    /// Decided after the claim's transaction, since resolving a host may take long: where the message goes and
    /// what signs it, or why it is not sent.
    enum Delivery: Sendable {
        case send(WebhookURLPolicy.Destination, secrets: [WebhookSecret])
        case refuse(String)
    }

    typealias Finished = (Message, Outcome, UUID)

    /// A claimed message given back unsent, so that any dispatcher may claim it again at once.
    struct Released: Sendable {
        var id: Int64
        var lease: UUID
    }

    /// The delivery slots and the work between them and PostgreSQL. A completion hands its slot straight to the
    /// next ready message, so no slot waits for PostgreSQL; the recorder records the finished deliveries and the
    /// claimer tops the ready messages up, each on a thread and a connection of its own, while the slots stay busy.
    final class Slots: @unchecked Sendable {
        private struct State {
            var inFlight = 0
            /// Next to send last.
            var ready: [Claimed] = []
            var finished: [Finished] = []
            var released: [Released] = []
            /// Taken by the recorder and not committed yet.
            var recording = 0
            /// Deliveries finished so far, for the claimer's rate.
            var completed = 0
            /// Fewer ready messages than this wakes the claimer.
            var refillBelow = 0
        }
        private let state = Mutex(State())
        private let recorderWake = DispatchSemaphore(value: 0)
        let claimerWake = DispatchSemaphore(value: 0)
        /// Set once the claimer stopped and nothing is in flight: the recorder finishes what is left and returns.
        let recorderMayStop = Atomic<Bool>(false)
        let capacity: Int
        /// A ready message is sent only if its lease still covers a whole delivery from now.
        let timeout: TimeInterval

        init(capacity: Int, timeout: TimeInterval) {
            self.capacity = capacity
            self.timeout = timeout
        }

        var counts: (inFlight: Int, ready: Int, completed: Int) { state.withLock { ($0.inFlight, $0.ready.count, $0.completed) } }

        /// Nothing in flight, ready, or waiting to be recorded.
        var idle: Bool {
            state.withLock { $0.inFlight == 0 && $0.ready.isEmpty && $0.finished.isEmpty && $0.released.isEmpty && $0.recording == 0 }
        }

        func refill(below count: Int) { state.withLock { $0.refillBelow = count } }

        /// Takes free slots for `claimed` in order; returns those to send now, and keeps the rest ready.
        func admit(_ claimed: [Claimed]) -> [Claimed] {
            state.withLock { state in
                let now = claimed.prefix(max(0, capacity - state.inFlight))
                state.inFlight += now.count
                state.ready.insert(contentsOf: claimed.dropFirst(now.count).reversed(), at: 0)
                return Array(now)
            }
        }

        /// Keeps a finished delivery for the recorder and gives its slot to the next ready message whose lease
        /// still covers a delivery (returned, to be sent); one whose lease no longer does is released unsent.
        func finish(_ message: Message, _ outcome: Outcome, lease: UUID) -> Claimed? {
            let (next, refill) = state.withLock { state -> (Claimed?, Bool) in
                state.finished.append((message, outcome, lease))
                state.completed += 1
                let latestStart = DispatchTime.now() + timeout + 1
                while let candidate = state.ready.popLast() {
                    if candidate.leasedUntil > latestStart { return (candidate, state.ready.count < state.refillBelow) }
                    state.released.append(Released(id: candidate.message.id, lease: candidate.lease))
                }
                state.inFlight -= 1
                return (nil, true)
            }
            recorderWake.signal()
            if refill { claimerWake.signal() }
            return next
        }

        /// Gives every ready message back unsent (when stopping).
        func releaseReady() {
            state.withLock { state in
                state.released += state.ready.map { Released(id: $0.message.id, lease: $0.lease) }
                state.ready = []
            }
            recorderWake.signal()
        }

        /// Waits until there is something to record (or `timeout` passed), then takes all of it.
        func takeRecords(waitingUpTo timeout: TimeInterval) -> (finished: [Finished], released: [Released]) {
            _ = recorderWake.wait(timeout: .now() + timeout)
            while recorderWake.wait(timeout: .now()) == .success {} // one pass takes them all
            return state.withLock { state in
                defer { state.finished = []; state.released = [] }
                state.recording += state.finished.count + state.released.count
                return (state.finished, state.released)
            }
        }

        /// The recorder committed (or gave up) `count` of what it took.
        func recorded(_ count: Int) {
            state.withLock { $0.recording -= count }
            claimerWake.signal()
        }
    }

    /// Where each claimed message goes and what signs it. Each host is resolved once per claim, outside any
    /// transaction; a postback's secret is read (made on first use) once per organization and mode.
    func prepare(_ messages: [Message], lease: UUID, leasedUntil: DispatchTime) -> [Claimed] {
        var verdicts: [String: WebhookURLPolicy.Verdict] = [:]
        var postbackSecrets: [String: Result<[WebhookSecret], Error>] = [:]
        return messages.map { message in
            let key = "\(message.livemode) \(message.url)"
            let verdict = verdicts[key] ?? configuration.policy.destination(message.url, livemode: message.livemode)
            verdicts[key] = verdict
            let delivery: Delivery
            switch verdict {
            case let .refused(problem):
                delivery = .refuse("destination refused: the URL \(problem)")
            case let .allowed(destination) where !message.secrets.isEmpty:
                delivery = .send(destination, secrets: message.secrets)
            case let .allowed(destination):
                let tenant = "\(message.organizationID) \(message.livemode)"
                let secrets = postbackSecrets[tenant] ?? Result { try self.postbackSecrets(message) }
                postbackSecrets[tenant] = secrets
                switch secrets {
                case let .success(secrets): delivery = .send(destination, secrets: secrets)
                case let .failure(error): delivery = .refuse("no postback secret: \(error)")
                }
            }
            return Claimed(message: message, lease: lease, leasedUntil: leasedUntil, delivery: delivery)
        }
    }

    /// Sends claimed messages one after the other on one slot: each completion keeps its outcome for the
    /// recorder and sends the next ready message, if any.
    private func start(_ claimed: Claimed, slots: Slots) {
        let message = claimed.message
        let finish: @Sendable (Outcome) -> Void = { [self] outcome in
            if let next = slots.finish(message, outcome, lease: claimed.lease) { start(next, slots: slots) }
        }
        switch claimed.delivery {
        case let .refuse(reason):
            finish(Outcome(status: nil, latency: 0, excerpt: nil, error: reason))
        case let .send(destination, secrets):
            send(message, to: destination, secrets: secrets, completion: finish)
        }
    }

    /// How many ready messages the claimer keeps behind the slots: about half a second of deliveries at the
    /// recent rate, at least one per slot and at most 64 per slot. Enough that the slots never run dry while a
    /// claim is on its way, few enough that a ready message waits far less than its lease (one whose lease no
    /// longer covers a delivery is released unsent anyway) and that other dispatchers still find work.
    static func readyDepth(deliveriesPerSecond rate: Double, capacity: Int) -> Int {
        let wanted = rate.isFinite ? min(rate / 2, Double(64 * capacity)) : 0
        return max(capacity, Int(max(0, wanted)))
    }

    /// The most messages one claim takes: an eighth of the ready depth (about a sixteenth of a second of
    /// deliveries), at least two per slot. A fresh dispatcher's first top-up asks for thousands: claimed at once,
    /// the slots would have only the few ready messages to send while PostgreSQL leased them all.
    static func claimSize(depth: Int, capacity: Int) -> Int { max(2 * capacity, depth / 8) }

    /// Runs on threads of its own: the claimer keeps the slots and the ready messages full, woken by NOTIFY on
    /// the outbox channel (polling every second anyway), by a recorded outcome (which may have unblocked the
    /// next message of its destination) and by the ready messages running low; the recorder records finished
    /// deliveries in batches meanwhile. Every `purgeInterval` seconds the claimer also deletes delivered
    /// messages past their retention, in batches.
    public func start(channel: String = "ledger_outbox", purgeInterval: TimeInterval = 60) {
        guard !running.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let slots = Slots(capacity: configuration.concurrency, timeout: configuration.timeout)
        let recorderDone = DispatchSemaphore(value: 0)
        let recorder = Thread { [self] in
            runRecorder(slots)
            recorderDone.signal()
        }
        recorder.name = "ledger-dispatch-record"
        recorder.start()
        let claimer = Thread { [self] in
            runClaimer(slots, channel: channel, purgeInterval: purgeInterval)
            // Stopping: ready messages go back unsent, those in flight finish and are recorded.
            slots.releaseReady()
            while !slots.idle { _ = slots.claimerWake.wait(timeout: .now() + 0.1) }
            slots.recorderMayStop.store(true, ordering: .releasing)
            recorderDone.wait()
            finished.signal()
        }
        claimer.name = "ledger-dispatch"
        claimer.start()
    }

    /// The claimer's loop, until `stop`.
    private func runClaimer(_ slots: Slots, channel: String, purgeInterval: TimeInterval) {
        let capacity = slots.capacity
        let leaseSeconds = configuration.lease + configuration.timeout
        var listener: PostgresConnection?
        var nextPurge = Date()
        var depth = capacity, mayClaim = true
        var window = (start: DispatchTime.now(), completed: 0)
        // The rate is measured over short windows, and the ready messages are topped up from the first claim on: a
        // fresh dispatcher facing a backlog otherwise spent its first tenth of a second at a depth of one message per
        // slot, woken only by its recorder (bench webhooks: the drain's first 100 ms at a third of its rate).
        slots.refill(below: depth * 3 / 4)
        // Claims walk on from the last message claimed, not past every message this dispatcher holds ready or in
        // flight: those are pending until recorded, and walking past them again at every claim cost a drain 27–44
        // buffers read per claimed message against 15–30 from the cursor (bench webhooks, pg_stat_statements). Back to
        // the start whenever a claim comes up short, and at least once a second: what became claimable behind the
        // cursor (a retry due, a message whose earlier sibling was recorded, one given back) waits no longer.
        var cursor: (after: Int64, since: DispatchTime) = (0, .now())
        while running.load(ordering: .acquiring) {
            do {
                if listener == nil || listener?.isBroken == true {
                    listener = try PostgresConnection(conninfo: conninfo)
                    try listener?.execute("LISTEN \(channel)")
                }
                let (inFlight, ready, completed) = slots.counts
                let elapsed = Double(DispatchTime.now().uptimeNanoseconds - window.start.uptimeNanoseconds) / 1e9
                if elapsed >= 0.025 {
                    depth = Self.readyDepth(deliveriesPerSecond: Double(completed - window.completed) / elapsed, capacity: capacity)
                    window = (DispatchTime.now(), completed)
                    slots.refill(below: depth * 3 / 4)
                }
                // Topped up once a quarter of the depth is gone, fewer statements for as many messages, in claims
                // of at most `claimSize`, so that the first messages of a top-up are sent while the rest are claimed.
                let wanted = capacity + depth - inFlight - ready
                if mayClaim && wanted > 0 && (inFlight < capacity || ready < depth * 3 / 4) {
                    let asked = min(wanted, Self.claimSize(depth: depth, capacity: capacity))
                    // Counted from before the claim, so never later than PostgreSQL's own expiry.
                    let leasedUntil = DispatchTime.now() + leaseSeconds
                    if cursor.after > 0 && DispatchTime.now() > cursor.since + 1 { cursor = (0, .now()) }
                    let claimed = try claim(upTo: asked, after: cursor.after, leaseSeconds: leaseSeconds)
                    for next in slots.admit(prepare(claimed.messages, lease: claimed.lease, leasedUntil: leasedUntil)) {
                        start(next, slots: slots)
                    }
                    if claimed.messages.count == asked, let last = claimed.messages.last {
                        cursor = (last.id, cursor.after == 0 ? .now() : cursor.since)
                        continue
                    }
                    // Fewer than asked for past the cursor: walk again from the start. Fewer from the start: nothing
                    // else can be sent now, until something changes.
                    if cursor.after > 0 {
                        cursor = (0, .now())
                        continue
                    }
                    mayClaim = false
                }
                if Date() >= nextPurge {
                    nextPurge = Date().addingTimeInterval(purgeInterval)
                    // One bounded batch per pass, between claims, so purging never holds deliveries back for long.
                    if try purgeDelivered(now: Date()) > 0 { nextPurge = Date() }
                }
                if slots.idle {
                    _ = try listener?.waitForNotification(timeout: 1)
                } else {
                    _ = slots.claimerWake.wait(timeout: .now() + 1)
                }
                mayClaim = true
            } catch {
                listener = nil
                Log.warning("webhook dispatch pass failed", ["error": .string("\(error)")])
                Thread.sleep(forTimeInterval: 1) // the database is away; try again in a second
                mayClaim = true
            }
        }
    }

    /// The recorder's loop: every finished delivery recorded under its claim's lease and every released message
    /// given back, a batch per statement, until the claimer stopped and nothing is left. A batch that fails is
    /// tried again a second later (its lease tokens still guard it); when stopping, it is given up, and its
    /// messages are sent again once their leases run out.
    private func runRecorder(_ slots: Slots) {
        var finished: [Finished] = [], released: [Released] = []
        while true {
            let taken = slots.takeRecords(waitingUpTo: 0.5)
            finished += taken.finished
            released += taken.released
            if !finished.isEmpty || !released.isEmpty {
                do {
                    try exchange(recording: finished, releasing: released, claimingUpTo: 0)
                    slots.recorded(finished.count + released.count)
                    finished = []
                    released = []
                } catch {
                    Log.warning("webhook outcomes not recorded yet", ["error": .string("\(error)"), "count": .int(finished.count)])
                    if slots.recorderMayStop.load(ordering: .acquiring) {
                        slots.recorded(finished.count + released.count)
                        finished = []
                        released = []
                    } else {
                        Thread.sleep(forTimeInterval: 1) // the database is away; try again in a second
                    }
                }
            }
            if slots.recorderMayStop.load(ordering: .acquiring) && finished.isEmpty && released.isEmpty && slots.idle { return }
        }
    }

    /// Stops: no more claims; ready messages are given back, those in flight finish and are recorded.
    public func stop() {
        guard running.exchange(false, ordering: .acquiringAndReleasing) else { return }
        finished.wait()
    }

    /// The claim's statement: pending messages that are due, not leased, whose endpoint is enabled, and (for an
    /// ordered destination) with no earlier message pending for the same verification and destination. A
    /// disabled endpoint's messages are `held` (`Schema/043`), out of the queue it walks; the endpoint is still
    /// checked, for a message queued while its endpoint was being disabled.
    /// It walks the queue of pending messages past `$4` in id order (`outbox_queue`, `Schema/066`) and stops at the limit: every other condition is
    /// a per-row subquery (the ORs keep them so), since a join with the endpoints made the planner read and sort
    /// the whole backlog (46 ms per claim at 10,000 pending). The earlier-message check reaches a destination's
    /// few rows by equality on `outbox_destination`, and says `NOT IN ('delivered', 'dead')` rather than
    /// `= 'pending'` so that no partial pending index could ever serve it: with such an index's statistics still
    /// saying "empty", the planner scanned every pending row for every candidate, and a fresh dispatcher took
    /// 42 s to claim from a 13,000-message backlog.
    /// What a claimed message needs for sending is looked up once per message (one lateral lookup each of its
    /// endpoint, its postback secret, and, only for a payload with sealed personal data, its verification's data
    /// key): those lookups were most of the claim's cost, and the data key's three of them served no payload
    /// without personal data. `sealed` says whether the payload's object holds a sealed envelope. `OFFSET 0` keeps
    /// the postback and data-key lookups subqueries, whose outer condition then skips their scans: pulled up into
    /// joins, that condition only filtered what the scans had already read.
    public static let claimStatement = """
        WITH due AS (
            SELECT o.id FROM ledger.outbox_queue q JOIN ledger.outbox o ON o.id = q.id
            WHERE q.id > $4 AND o.status = 'pending' AND NOT o.held AND o.next_attempt_at <= now()
              AND (o.leased_until IS NULL OR o.leased_until < now())
              AND (o.endpoint_id IS NULL OR EXISTS (
                  SELECT FROM ledger.webhook_endpoints e WHERE e.id = o.endpoint_id AND e.enabled AND e.deleted_at IS NULL))
              AND (EXISTS (SELECT FROM ledger.webhook_endpoints e WHERE e.id = o.endpoint_id AND e.delivery_mode = 'concurrent')
                   OR NOT EXISTS (
                       SELECT FROM ledger.outbox p
                       WHERE p.organization_id = o.organization_id AND p.verification_id = o.verification_id
                         AND p.destination = o.destination AND p.id < o.id AND p.status NOT IN ('delivered', 'dead')))
            ORDER BY q.id
            LIMIT $1
            FOR UPDATE OF o SKIP LOCKED),
        claimed AS (
            UPDATE ledger.outbox o SET leased_until = now() + make_interval(secs => $2), lease_token = $3
            FROM due WHERE o.id = due.id
            RETURNING o.id, o.message_id, o.url, o.endpoint_id, o.organization_id, o.livemode, o.payload, o.attempts,
                o.verification_id, o.event_type, (o.payload -> 'data' -> 'object') ? 'encrypted_personal_data' AS sealed)
        SELECT c.id, c.message_id, c.url, c.endpoint_id, c.organization_id, c.livemode, c.payload::text, c.attempts,
            coalesce(e.secret, p.secret), coalesce(e.previous_secret, p.previous_secret),
            c.verification_id, c.event_type, d.entity_id, d.wrapped_key, d.erased, c.sealed
        FROM claimed c
        LEFT JOIN LATERAL (
            SELECT e.secret, CASE WHEN e.previous_secret_expires_at > now() THEN e.previous_secret END AS previous_secret
            FROM ledger.webhook_endpoints e WHERE e.id = c.endpoint_id) e ON true
        LEFT JOIN LATERAL (
            SELECT p.secret, CASE WHEN p.previous_secret_expires_at > now() THEN p.previous_secret END AS previous_secret
            FROM ledger.postback_secrets p
            WHERE c.endpoint_id IS NULL AND p.organization_id = c.organization_id AND p.livemode = c.livemode OFFSET 0) p ON true
        LEFT JOIN LATERAL (
            SELECT v.entity_id, k.wrapped_key, k.erased_at IS NOT NULL AS erased
            FROM ledger.verifications v
            LEFT JOIN ledger.data_keys k ON k.organization_id = v.organization_id AND k.livemode = v.livemode AND k.entity_id = v.entity_id
            WHERE c.sealed AND v.organization_id = c.organization_id AND v.id = c.verification_id OFFSET 0) d ON true
        """

    /// The claim's plan, set in its transaction: one generic plan from its first run (with custom plans PostgreSQL
    /// planned the claim again at every run, and its first plans, made from a fresh outbox's statistics, scanned and
    /// sorted every pending message: bench webhooks drain_ratio 0.42–0.47 → 0.47–0.61), and no bitmap scan or sort,
    /// so that it walks `outbox_queue` in id order and stops at its limit whatever the statistics say (with the
    /// cursor's `id > $4`, the generic plan otherwise read every pending message past it: 9,500 buffers per claim
    /// of 32 messages), and no merge join: joining the queue to the outbox by merging, a plan seen for a claim with
    /// nothing to take, walks the outbox's primary key from its first, long delivered, row.
    public static let claimPlanSettings = """
        SELECT set_config('plan_cache_mode', 'force_generic_plan', true), set_config('enable_bitmapscan', 'off', true),
               set_config('enable_sort', 'off', true), set_config('enable_mergejoin', 'off', true)
        """

    /// Marks held the pending messages of those of the endpoints `$1` that are disabled or deleted.
    public static let holdStatement = """
        WITH held AS (
            UPDATE ledger.outbox o SET held = true
            FROM ledger.webhook_endpoints e
            WHERE e.id = ANY($1::text[]) AND NOT (e.enabled AND e.deleted_at IS NULL)
              AND o.endpoint_id = e.id AND o.status = 'pending' AND NOT o.held
            RETURNING o.id)
        DELETE FROM ledger.outbox_queue q USING held WHERE q.id = held.id
        """

    /// Claims and outcomes commit without waiting for their WAL flush: a claim or an outcome lost in a crash
    /// of PostgreSQL only means the message is sent again, which at-least-once delivery allows, and waiting
    /// for the disk after every few deliveries bounded the dispatcher to about one flush per delivery.
    static var asynchronousCommit: PostgresStatement { ("SET LOCAL synchronous_commit = off", []) }

    /// Leases at most `min(batch, concurrency)` messages, all under one new lease token: no more than can be
    /// sent at once, so no claimed message waits for a slot while its lease runs out.
    func claim(_ batch: Int) throws -> (messages: [Message], lease: UUID) {
        try claim(upTo: min(batch, configuration.concurrency), leaseSeconds: configuration.lease)
    }

    /// Leases up to `limit` messages with an id past `cursor` under one new lease token, in a transaction of their own.
    func claim(upTo limit: Int, after cursor: Int64 = 0, leaseSeconds: TimeInterval) throws -> (messages: [Message], lease: UUID) {
        let exchanged = try exchange(recording: [], claimingUpTo: limit, after: cursor, leaseSeconds: leaseSeconds)
        return (exchanged.claimed, exchanged.lease)
    }

    /// Records finished deliveries (each under its own claim's lease), gives released messages back (each
    /// only if its claim still holds it) and claims up to `limit` more (none for 0) under a new lease, in one
    /// transaction: one round trip and its COMMIT.
    @discardableResult
    func exchange(recording outcomes: [Finished], releasing released: [Released] = [], claimingUpTo limit: Int,
                  after cursor: Int64 = 0, leaseSeconds: TimeInterval? = nil) throws -> (recorded: Int, claimed: [Message], lease: UUID) {
        let lease = UUID()
        var statements = [Self.asynchronousCommit]
        if !outcomes.isEmpty {
            statements.append(recordStatement(outcomes))
            // After the record, which may have disabled an endpoint (410 Gone, days of failures): hold its messages.
            let endpoints = Set(outcomes.compactMap { $0.0.endpointID })
            if !endpoints.isEmpty { statements.append((Self.holdStatement, [PostgresArray(endpoints.sorted())])) }
        }
        if !released.isEmpty {
            statements.append(("""
                UPDATE ledger.outbox o SET leased_until = NULL, lease_token = NULL
                FROM unnest($1::bigint[], $2::uuid[]) AS r(id, lease)
                WHERE o.id = r.id AND o.lease_token = r.lease
                """, [PostgresArray(released.map { String($0.id) }), PostgresArray(released.map { $0.lease.uuidString })]))
        }
        if limit > 0 {
            statements.append((Self.claimPlanSettings, []))
            statements.append((Self.claimStatement, [limit, leaseSeconds ?? configuration.lease, lease, cursor]))
        }
        let results = try pool.transaction(scope: .system) { tx in try tx.pipeline(statements) }
        let recorded = outcomes.isEmpty ? 0 : results.dropFirst().first?.int(0, 0) ?? 0
        if recorded < outcomes.count {
            Log.warning("webhook outcomes not recorded: the lease was lost, another dispatcher will send again",
                        ["count": .int(outcomes.count - recorded)])
        }
        guard limit > 0, let rows = results.last else { return (recorded, [], lease) }
        let claimed = try (0..<rows.count).map { row in
            guard let id = rows.int64(row, 0), let messageID = rows.string(row, 1), let url = rows.string(row, 2),
                  let organization = rows.uuid(row, 4), let livemode = rows.bool(row, 5), let body = rows.string(row, 6),
                  let attempts = rows.int(row, 7) else {
                throw StorageError.unreadableRow(table: "outbox", key: rows.string(row, 0) ?? "?")
            }
            let shown = rows.bool(row, 15) != true ? body
                : openPersonalData(body, organizationID: organization, verificationID: rows.string(row, 10), eventType: rows.string(row, 11),
                                   entityID: rows.string(row, 12), wrappedKey: rows.bytes(row, 13), erased: rows.bool(row, 14) ?? false)
            return Message(id: id, messageID: messageID, url: url, endpointID: rows.string(row, 3), organizationID: organization,
                           livemode: livemode, body: Array(shown.utf8), attempts: attempts,
                           secrets: [rows.string(row, 8), rows.string(row, 9)].compactMap { $0.flatMap(WebhookSecret.init) })
        }.sorted { $0.id < $1.id }
        return (recorded, claimed, lease)
    }

    /// The payload as it is sent: its object's personal data decrypted under the entity's key as it is now, or left
    /// out (and the object marked erased) once that key is destroyed. A payload that does not open is sent without
    /// its personal data rather than not at all. Only for a payload whose object holds a sealed envelope (the
    /// claim's `sealed`): searching every payload's text for one cost the claimer more than the rest of its work.
    func openPersonalData(_ body: String, organizationID: UUID, verificationID: String?, eventType: String?, entityID: String?,
                          wrappedKey: [UInt8]?, erased: Bool) -> String {
        guard let vault = configuration.personalDataVault,
              let verificationID, let entityID, case var .object(payload)? = try? JSONValue.parse(Array(body.utf8), maxDepth: 512),
              let dataIndex = payload.firstIndex(where: { $0.0 == "data" }), case var .object(data) = payload[dataIndex].1,
              let objectIndex = data.firstIndex(where: { $0.0 == "object" }) else { return body }
        let owner = DataKeyOwner(organizationID: organizationID, entityID: entityID)
        let kind = (eventType.flatMap(WebhookEventType.init(rawValue:))?.object ?? .verification).rawValue
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

    /// Sends one message to the destination the policy checked; `completion` runs once with its outcome, on
    /// the HTTP client's thread.
    func send(_ message: Message, to destination: WebhookURLPolicy.Destination, secrets: [WebhookSecret],
              completion: @escaping @Sendable (Outcome) -> Void) {
        let timestamp = Int64(Date().timeIntervalSince1970)
        let headers = [("Content-Type", "application/json"), ("User-Agent", "ledger-webhooks/1")]
            + StandardWebhooks.headers(id: message.messageID, timestamp: timestamp, body: message.body, secrets: secrets)
        client.post(destination.url, connectTo: destination.connectTo, headers: headers, body: message.body, timeout: configuration.timeout) { response in
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
                RETURNING o.id, o.organization_id, o.endpoint_id, o.status AS now_status, f.status, f.succeeded, f.latency_ms, f.excerpt, f.error),
            dequeued AS (
                DELETE FROM ledger.outbox_queue q USING recorded r WHERE q.id = r.id AND r.now_status <> 'pending'),
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
        text.utf8.contains(0) ? String(text.unicodeScalars.filter { $0 != "\u{0}" }) : text
    }

    /// Deletes delivered messages (and their attempts) delivered before `now - retention`, at most `limit` per
    /// call; returns how many messages went. The dispatcher calls it in the background, batch after batch.
    @discardableResult
    public func purgeDelivered(now: Date, limit: Int = 1000) throws -> Int {
        let cutoff = now.addingTimeInterval(-configuration.retention)
        let rows = try pool.transaction(scope: .system) { tx in
            try tx.query("""
                WITH doomed AS (
                    SELECT o.id FROM ledger.webhook_delivery_attempts a JOIN ledger.outbox o ON o.id = a.outbox_id
                    WHERE a.response_status BETWEEN 200 AND 299 AND a.attempted_at < $1 AND o.status = 'delivered' AND o.delivered_at < $1
                    ORDER BY a.attempted_at
                    LIMIT $2
                    FOR UPDATE OF o SKIP LOCKED),
                attempts AS (
                    DELETE FROM ledger.webhook_delivery_attempts a USING doomed WHERE a.outbox_id = doomed.id)
                DELETE FROM ledger.outbox o USING doomed WHERE o.id = doomed.id
                RETURNING 1
                """, [cutoff, limit])
        }
        return rows.count
    }
}

