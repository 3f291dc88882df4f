import Foundation
import LedgerCrypto
import LedgerDomain
import LedgerEngine
import LedgerLog
import LedgerStorage

/// `ledger bench replay`: a synthetic log of realistic lifecycles, read raw in feed order by COPY (the
/// reference) and rebuilt by `ledger replay` as a child process (its peak RSS read from /proc), first at a
/// tenth of the events and then at all of them, so that memory growth with the log shows in one run. The events'
/// personal data is sealed under its entity's data key as the engine writes it, so the replay decrypts every
/// event that carries some and seals every document it writes.
enum ReplayBenchmark {
    struct Figures {
        var events: Int
        var rawRowsPerSecond: Double
        var replayEventsPerSecond: Double
        var replayPeakRSS: Double
        var checkEventsPerSecond: Double
        var checkPeakRSS: Double
        /// Where each run's time went, as it told it ("replay phases (s): ...").
        var replayPhases: String
        var checkPhases: String
    }

    static func run(events: Int, settings: Settings) throws {
        let database = try Database(settings: settings)
        defer { database.close() }
        try database.migrate()
        let keyEnvironment = try PersonalDataSetup.benchmarkEnvironment(settings)
        guard let keyEncryptionKey = try settings.keyEncryptionKey ?? KeyEncryptionKey.load(environment: keyEnvironment) else {
            throw UsageError(message: "no key-encryption key for the benchmark's personal data")
        }
        let vault = PersonalDataVault(keyEncryptionKey: keyEncryptionKey)
        let connection = try PostgresConnection(conninfo: database.conninfo)
        try connection.execute("SET TimeZone = 'UTC'; SET DateStyle = 'ISO'")
        let organizationID = UUID()
        var written = 0, stream = 0
        var results: [Figures] = []
        for target in [max(1, events / 10), events] {
            while written < target {
                let batch = try appendLifecycles(connection, vault: vault, organizationID: organizationID, from: stream,
                                                 upTo: target - written)
                written += batch.events
                stream += batch.streams
            }
            try connection.execute("ANALYZE ledger.events")
            let figures = try measure(database, connection, events: written, environment: keyEnvironment)
            results.append(figures)
            print("""
                \(figures.events) events in \(stream) streams: raw COPY in feed order \(BenchCommand.format(figures.rawRowsPerSecond)) rows/s; \
                ledger replay \(BenchCommand.format(figures.replayEventsPerSecond)) events/s \
                (ratio \(BenchCommand.format(figures.replayEventsPerSecond / figures.rawRowsPerSecond, 3)), target >= 0.50), \
                peak RSS \(BenchCommand.format(figures.replayPeakRSS, 1)) MB; \
                --check \(BenchCommand.format(figures.checkEventsPerSecond)) events/s, peak RSS \(BenchCommand.format(figures.checkPeakRSS, 1)) MB
                  ledger replay: \(figures.replayPhases)
                  ledger replay --check: \(figures.checkPhases)
                """)
        }
        guard let small = results.first, let large = results.last else { return }
        print("peak RSS at \(large.events) events / at \(small.events): \(BenchCommand.format(large.replayPeakRSS / small.replayPeakRSS, 2)) (target <= 1.20)")
        print(JSONValue.object([
            ("events", .int(Int64(large.events))),
            ("events_per_s", .double(BenchCommand.round2(large.replayEventsPerSecond))),
            ("raw_read_rows_per_s", .double(BenchCommand.round2(large.rawRowsPerSecond))),
            ("ratio", .double((large.replayEventsPerSecond / large.rawRowsPerSecond * 1000).rounded() / 1000)),
            ("peak_rss_mb", .double(BenchCommand.round2(large.replayPeakRSS))),
            ("check_events_per_s", .double(BenchCommand.round2(large.checkEventsPerSecond))),
            ("small_events", .int(Int64(small.events))),
            ("small_peak_rss_mb", .double(BenchCommand.round2(small.replayPeakRSS))),
            ("rss_growth", .double((large.replayPeakRSS / small.replayPeakRSS * 1000).rounded() / 1000)),
        ]).jsonString)
    }

    /// The reference, then a full rebuild into emptied read models, then a check of them.
    static func measure(_ database: Database, _ connection: PostgresConnection, events: Int,
                        environment: [String: String]) throws -> Figures {
        let started = Date()
        let copy = try ChildProcess.run("psql", [database.conninfo, "-X", "-q", "-o", "/dev/null", "-c",
                                                 "COPY (SELECT * FROM ledger.events ORDER BY transaction_id, position) TO STDOUT"])
        guard copy.status == 0 else { throw UsageError(message: "psql COPY failed: \(copy.output)") }
        let raw = Double(events) / Date().timeIntervalSince(started)
        try connection.execute("TRUNCATE \(Projections.inline.map { "ledger.\($0.table.name)" }.joined(separator: ", "))")
        let replay = try timedReplay(database, [], environment: environment)
        let check = try timedReplay(database, ["--check"], environment: environment)
        guard check.status == 0 else { throw UsageError(message: "ledger replay --check found differences after a replay") }
        return Figures(events: events, rawRowsPerSecond: raw, replayEventsPerSecond: Double(events) / replay.seconds,
                       replayPeakRSS: replay.peakRSS, checkEventsPerSecond: Double(events) / check.seconds, checkPeakRSS: check.peakRSS,
                       replayPhases: replay.phases, checkPhases: check.phases)
    }

    static func timedReplay(_ database: Database, _ arguments: [String],
                            environment keyEnvironment: [String: String]) throws -> (seconds: Double, peakRSS: Double, status: Int32, phases: String) {
        var environment = ProcessInfo.processInfo.environment.merging(keyEnvironment) { $1 }
        environment["DATABASE_URL"] = database.conninfo
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path
        let started = Date()
        let child = try ChildProcess.Running(executable, ["replay"] + arguments, environment: environment)
        var peak = 0.0
        while child.poll() == nil {
            let now = LifecycleBenchmark.peakResidentMegabytes(pid: child.pid)
            if now.isFinite { peak = max(peak, now) }
            Thread.sleep(forTimeInterval: 0.05) // sampling the child's high-water mark; it signals nothing
        }
        let outcome = child.wait()
        if outcome.status > 1 { throw UsageError(message: "ledger replay failed:\n\(outcome.output)") }
        let seconds = Date().timeIntervalSince(started)
        // The line the replay logs as it ends, without the log line's JSON around it.
        return (seconds, peak, outcome.status, told(outcome.output, "replay phases") ?? "(not told)")
    }

    /// The text from `start` to the end of its log message, in the last line of `output` that holds it.
    static func told(_ output: String, _ start: String) -> String? {
        guard let line = output.split(separator: "\n").last(where: { $0.contains(start) }),
              let found = line.range(of: start) else { return nil }
        return String(line[found.lowerBound...].prefix { $0 != "\"" })
    }

    /// Up to 200 lifecycles, appended as the engine would have (one append per stream, in one transaction, the
    /// personal data sealed under the entity's key), stopping once `limit` events are written.
    static func appendLifecycles(_ connection: PostgresConnection, vault: PersonalDataVault, organizationID: UUID, from first: Int,
                                 upTo limit: Int) throws -> (streams: Int, events: Int) {
        let actor = EventMetadata(actorID: "bench", actorType: .system)
        return try connection.transaction { tx in
            var statements: [PostgresStatement] = []
            var events = 0, streams = 0
            while streams < 200, events < limit {
                let index = first + streams
                let now = Date(timeIntervalSince1970: 1_790_000_000 + Double(index))
                let owner = DataKeyOwner(organizationID: organizationID, entityID: entity(index))
                let key = try vault.keyForWriting(tx, owner, livemode: false)
                let new = try lifecycle(index, now: now).prefix(limit - events).map { event in
                    let id = UUID()
                    return NewEvent(id: id, type: event.type, schemaVersion: event.schemaVersion,
                                    data: try vault.seal(eventType: event.type, data: event.data, eventID: id, owner: owner, key: key),
                                    occurredAt: now)
                }
                statements.append(EventStore.appendStatement(organizationID: organizationID, streamID: "ver_bench_\(index)",
                                                             expectedVersion: .noStream, events: Array(new), metadata: actor))
                events += new.count
                streams += 1
            }
            _ = try tx.pipeline(statements)
            return (streams, events)
        }
    }

    /// 5,000 entities, each verified many times over.
    static func entity(_ index: Int) -> String { "cus_\(index % 5_000)" }

    /// One of four lifecycles, about ten events each: approved after an attempt (and scored, or with
    /// metadata changes), declined, withdrawn after reminders.
    static func lifecycle(_ index: Int, now: Date) -> [VerificationEvent] {
        let attempt = "att_\(index)"
        var commands: [VerificationCommand] = [
            .invite(Invitation(entityID: entity(index), checks: [.identityVerification],
                               applicant: Applicant(firstName: "Ada", lastName: "Lovelace \(index)", email: "applicant\(index)@example.com",
                                                    address: "\(index) Example Street, London"),
                               expiresAt: now.addingTimeInterval(86_400))),
            .updateMetadata(["source": "bench", "batch": String(index / 200)]),
        ]
        switch index % 4 {
        case 0, 1:
            commands += [.startAttempt(attemptID: attempt, url: "https://verify.example/\(attempt)", expiresAt: now.addingTimeInterval(3_600)),
                         .recordProgress(attemptID: attempt, status: .captureInProgress),
                         .recordProgress(attemptID: attempt, status: .checksInProgress),
                         .recordResult(CheckResult(check: .identityVerification, status: .approved,
                                                   responseCodes: [ResponseCode(code: 10000)], extractedData: extracted(index),
                                                   attemptID: attempt))]
            commands += index % 4 == 0 ? [.assignScore(.idVerified, reason: "reviewed"), .updateMetadata(["reviewed": "yes"])]
                : (0..<3).map { .updateMetadata(["step": String($0)]) }
        case 2:
            commands += [.startAttempt(attemptID: attempt, url: "https://verify.example/\(attempt)", expiresAt: now.addingTimeInterval(3_600)),
                         .recordProgress(attemptID: attempt, status: .captureInProgress),
                         .recordResult(CheckResult(check: .identityVerification, status: .declined,
                                                   responseCodes: [ResponseCode(code: 20000)], extractedData: extracted(index),
                                                   attemptID: attempt)),
                         .openDispute(disputeID: "dsp_\(index)", reason: "applicant disagrees")]
        default:
            commands += (0..<5).map { .updateMetadata(["reminder": String($0)]) } + [.withdraw(reason: "no longer needed")]
        }
        var state = VerificationDecider.initialState
        var events: [VerificationEvent] = []
        for command in commands {
            // A command this state refuses is left out: the history stays one the decider allows.
            guard let decided = try? VerificationDecider.run(command, state, now: now) else { continue }
            events += decided.events
            state = decided.state
        }
        return events
    }

    /// What a provider reads off an applicant's passport.
    static func extracted(_ index: Int) -> ExtractedData {
        ExtractedData(firstName: "Ada", lastName: "Lovelace \(index)", dateOfBirth: "1990-12-10", address: "\(index) Example Street, London",
                      document: ExtractedData.Document(type: "passport", number: "P\(100_000_000 + index)", issuingCountry: "GB",
                                                       issueDate: "2020-01-01", expiryDate: "2030-01-01"))
    }
}
