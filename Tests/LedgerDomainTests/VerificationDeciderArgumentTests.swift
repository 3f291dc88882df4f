import Foundation
import LedgerDomain
import XCTest

/// The events each command produces, every argument of the commands that take a choice, and every overall
/// status of every package kind: the verdict matrix of VerificationDeciderTests says only whether a command
/// is allowed.
extension VerificationDeciderTests {
    /// The events the command at `index` of `commands` must produce where the matrix allows it.
    func expectedEvents(_ index: Int, in name: String, _ state: VerificationState) -> [VerificationEvent] {
        let open = state.openAttempt
        switch commands[index].0 {
        case "invite": return [.invited(Scenario.invitation())]
        case "start attempt":
            let terminated = open.map { [VerificationEvent.attemptStatusChanged(attemptID: $0.id, from: $0.status, to: .terminated, code: 64001)] }
            return (terminated ?? []) + [.attemptStarted(attemptID: "att_9", url: "https://verify.example/att_9", expiresAt: attemptExpiry)]
        case "progress to capture":
            return [.attemptStatusChanged(attemptID: "att_1", from: .pendingRedirection, to: .captureInProgress, code: nil)]
        case "result approved": return [.resultRecorded(CheckResult(check: .identityVerification, status: .approved))]
        case "human score": return [.scoreAssigned(score: .reviewPass, reason: "looked fine")]
        case "custom score": return [.customScoreSet(name: "risk_tier", value: "low", reason: nil)]
        case "open dispute": return [.disputeOpened(disputeID: "dsp_9", reason: "customer complained")]
        case "resolve dispute": return [.disputeResolved(disputeID: "dsp_1", outcome: .upheld, score: nil, reason: "checked again")]
        case "override declined": return [.statusOverridden(status: .declined, reason: "manual check")]
        case "withdraw": return [.withdrawn(reason: "changed mind")]
        case "metadata": return [.metadataUpdated(changes: ["campaign": "winter"])]
        case "expire":
            // An attempt the applicant is still in expires with the verification; one whose checks run does not.
            let attempt: [VerificationEvent] = switch name {
            case "pending": [.attemptStatusChanged(attemptID: "att_1", from: .pendingRedirection, to: .expired, code: nil)]
            case "capture_in_progress": [.attemptStatusChanged(attemptID: "att_1", from: .captureInProgress, to: .expired, code: nil)]
            default: []
            }
            return attempt + [.expired]
        case "expire attempt":
            guard let open else { return [] }
            return [.attemptStatusChanged(attemptID: open.id, from: open.status, to: .expired, code: nil)]
        default:
            XCTFail("no expected events for \(commands[index].0)")
            return []
        }
    }

    func testEveryAllowedCommandProducesItsEvents() {
        let later = Scenario.start.addingTimeInterval(30 * 86_400)
        for (name, scenario, expectations) in matrix {
            let state = scenario?.state ?? VerificationDecider.initialState
            for (index, expected) in expectations.enumerated() where expected == "A" {
                let produced = try? VerificationDecider.decide(commands[index].1, state, now: later)
                XCTAssertEqual(produced, expectedEvents(index, in: name, state), "\(commands[index].0) in \(name)")
            }
        }
    }

    // MARK: every argument

    /// One check of `type` alone, ready for its result (capture checks after a completed attempt).
    func readyForResult(_ type: CheckType) -> Scenario {
        Scenario.make(checks: [type], type.needsCapture ? [startAttempt, progress(.captureInProgress), progress(.completed)] : [])
    }

    func testEveryResultStatusOfEveryCheck() {
        // What the verification and its order become when its only check gets each result status.
        let outcome: [CheckStatus: (OverallStatus, capture: OrderStatus?, noCapture: OrderStatus?)] = [
            .checksInProgress: (.checksInProgress, .inProgress, .inProgress),
            .screeningInProgress: (.screeningInProgress, .inProgress, .inProgress),
            .reviewRequired: (.reviewRequired, .pending, .pending),
            .approved: (.approved, .complete, .complete),
            .declined: (.declined, .complete, .complete),
            .retryRequired: (.retryRequired, .inProgress, nil), // unchanged: in progress once an attempt completed
            .inconclusive: (.inconclusive, .incomplete, .incomplete),
            .refused: (.refused, .incomplete, .incomplete),
        ]
        XCTAssertEqual(Set(outcome.keys), Set(CheckStatus.resultStatuses))
        for type in CheckType.allCases {
            let ready = readyForResult(type)
            for status in CheckStatus.allCases {
                let command = result(type, status, codes: [10000])
                guard let (overall, captureOrder, noCaptureOrder) = outcome[status] else {
                    XCTAssertThrowsError(try VerificationDecider.decide(command, ready.state, now: Scenario.start), "\(type) \(status)") { error in
                        guard case .invalidParameter(param: "status", _)? = error as? VerificationError else { return XCTFail("\(error)") }
                    }
                    continue
                }
                var scenario = ready
                XCTAssertEqual(scenario.run(command),
                               [.resultRecorded(CheckResult(check: type, status: status, responseCodes: [ResponseCode(code: 10000)]))],
                               "\(type.rawValue) \(status.rawValue)")
                XCTAssertEqual(scenario.state.check(type)?.status, status)
                XCTAssertEqual(scenario.state.check(type)?.responseCodes, [ResponseCode(code: 10000)])
                XCTAssertEqual(scenario.state.overallStatus, overall, "\(type.rawValue) \(status.rawValue)")
                XCTAssertEqual(scenario.state.orderStatus, type.needsCapture ? captureOrder : noCaptureOrder, "\(type.rawValue) \(status.rawValue)")
                // A final result is the last word; any other result may be followed by another.
                for next in CheckStatus.resultStatuses {
                    let again = try? VerificationDecider.decide(result(type, next), scenario.state, now: Scenario.start)
                    if status.isFinal {
                        XCTAssertNil(again, "\(type.rawValue): \(next.rawValue) after \(status.rawValue)")
                    } else if !overall.isEnded {
                        XCTAssertEqual(again, [.resultRecorded(CheckResult(check: type, status: next))], "\(type.rawValue): \(next.rawValue) after \(status.rawValue)")
                    }
                }
            }
        }
    }

    func testEveryOverrideStatusInEveryState() {
        let overallAfter: [OverrideStatus: OverallStatus] = [.approved: .approved, .declined: .declined, .expired: .expired]
        let orderAfter: [OverrideStatus: OrderStatus] = [.approved: .complete, .declined: .complete, .expired: .incomplete]
        XCTAssertEqual(Set(overallAfter.keys), Set(OverrideStatus.allCases))
        for (name, scenario, _) in matrix {
            guard let scenario else { continue }
            for status in OverrideStatus.allCases {
                var overridden = scenario
                let events = overridden.run(.override(status, reason: "manual"))
                if scenario.state.ending == .overridden(status) {
                    XCTAssertEqual(events, [], "the same override again is a no-op (\(name))")
                    continue
                }
                XCTAssertEqual(events, [.statusOverridden(status: status, reason: "manual")], "\(status) in \(name)")
                XCTAssertEqual(overridden.state.overallStatus, overallAfter[status], "\(status) in \(name)")
                XCTAssertEqual(overridden.state.orderStatus, name == "in dispute" ? .inDispute : orderAfter[status],
                               "\(status) in \(name): an open dispute keeps the order in dispute")
                XCTAssertEqual(overridden.state.checks.map(\.status), scenario.state.checks.map(\.status), "the checks keep their results")
            }
        }
    }

    func testEveryDisputeOutcomeWithEveryScore() {
        let disputed = Scenario.make([startAttempt, progress(.captureInProgress), progress(.completed), result(.approved),
                                      .openDispute(disputeID: "dsp_1", reason: "wrong person")])
        XCTAssertEqual(Views.orderScore(disputed.state), .idVerified)
        for outcome in DisputeOutcome.allCases {
            for score in [nil] + OrderScore.allCases.map(Optional.some) {
                let command = VerificationCommand.resolveDispute(disputeID: "dsp_1", outcome: outcome, score: score, reason: "looked again")
                if outcome == .overturned && score == nil {
                    XCTAssertThrowsError(try VerificationDecider.decide(command, disputed.state, now: Scenario.start)) { error in
                        XCTAssertEqual(error as? VerificationError, .invalidParameter(param: "score", message: "an overturned dispute needs the new score"))
                    }
                    continue
                }
                var resolved = disputed
                XCTAssertEqual(resolved.run(command), [.disputeResolved(disputeID: "dsp_1", outcome: outcome, score: score, reason: "looked again")])
                XCTAssertEqual(resolved.state.orderStatus, .complete)
                XCTAssertEqual(resolved.state.disputes.map(\.outcome), [outcome])
                XCTAssertEqual(Views.orderScore(resolved.state), score ?? .idVerified, "\(outcome) with \(score?.rawValue ?? "no score")")
                XCTAssertThrowsError(try VerificationDecider.decide(command, resolved.state, now: Scenario.start), "resolved once") { error in
                    guard case .invalidTransition? = error as? VerificationError else { return XCTFail("\(error)") }
                }
            }
            XCTAssertThrowsError(try VerificationDecider.decide(
                .resolveDispute(disputeID: "dsp_404", outcome: outcome, score: .reviewPass, reason: "r"), disputed.state, now: Scenario.start)) { error in
                XCTAssertEqual(error as? VerificationError, .disputeNotFound("dsp_404"))
            }
        }
    }

    func testEveryHumanScoreCompletesTheOrderWithIt() {
        let inReview = Scenario.make([startAttempt, progress(.captureInProgress), progress(.completed), result(.reviewRequired)])
        XCTAssertEqual(inReview.state.orderStatus, .pending)
        for score in OrderScore.allCases {
            var scored = inReview
            XCTAssertEqual(scored.run(.assignScore(score, reason: "reviewed")), [.scoreAssigned(score: score, reason: "reviewed")])
            XCTAssertEqual(scored.state.orderStatus, .complete)
            XCTAssertEqual(Views.orderScore(scored.state), score)
            XCTAssertEqual(Views.orderAlert(scored.state), score.meansAlert ? .alertsFound : .noAlertsFound, score.rawValue)
        }
    }

    // MARK: every package kind, every overall status

    /// For each package kind, the commands that bring a verification to each overall status it can reach.
    static let packages: [(kind: Views.PackageKind, checks: [CheckType], paths: [OverallStatus: [VerificationCommand]])] = [
        (.identity, [.identityVerification], [
            .created: [],
            .pending: [startAttempt],
            .captureInProgress: [startAttempt, progress(.captureInProgress)],
            .checksInProgress: [startAttempt, progress(.captureInProgress), progress(.checksInProgress)],
            .screeningInProgress: [startAttempt, progress(.captureInProgress), progress(.completed), result(.screeningInProgress)],
            .reviewRequired: [startAttempt, progress(.captureInProgress), progress(.completed), result(.reviewRequired)],
            .retryRequired: [startAttempt, progress(.captureInProgress), progress(.captureAborted)],
            .approved: [startAttempt, progress(.captureInProgress), progress(.completed), result(.approved)],
            .declined: [startAttempt, progress(.captureInProgress), progress(.completed), result(.declined)],
            .inconclusive: [startAttempt, progress(.captureInProgress), progress(.checksInProgress), progress(.checksInconclusive)],
            .refused: [startAttempt, progress(.captureRefused)],
            .withdrawn: [startAttempt, .withdraw(reason: nil)],
            .expired: [.expire],
        ]),
        // No capture step: never pending or capturing.
        (.screening, [.amlScreening], [
            .created: [],
            .checksInProgress: [result(.amlScreening, .checksInProgress)],
            .screeningInProgress: [result(.amlScreening, .screeningInProgress)],
            .reviewRequired: [result(.amlScreening, .reviewRequired, aml: .match)],
            .retryRequired: [result(.amlScreening, .retryRequired)],
            .approved: [result(.amlScreening, .approved, aml: .clear)],
            .declined: [result(.amlScreening, .declined, aml: .match)],
            .inconclusive: [result(.amlScreening, .inconclusive)],
            .refused: [result(.amlScreening, .refused)],
            .withdrawn: [.withdraw(reason: nil)],
            .expired: [.expire],
        ]),
        // The least advanced check leads, so the screening is under way before the attempt counts.
        (.mixed, [.identityVerification, .amlScreening], [
            .created: [startAttempt],
            .pending: [result(.amlScreening, .screeningInProgress), startAttempt],
            .captureInProgress: [result(.amlScreening, .screeningInProgress), startAttempt, progress(.captureInProgress)],
            .checksInProgress: [result(.amlScreening, .screeningInProgress), startAttempt, progress(.captureInProgress), progress(.completed)],
            .screeningInProgress: [result(.amlScreening, .screeningInProgress), startAttempt, progress(.captureInProgress), progress(.completed),
                                   result(.approved)],
            .reviewRequired: [result(.amlScreening, .reviewRequired, aml: .match)],
            .retryRequired: [result(.amlScreening, .screeningInProgress), startAttempt, progress(.captureInProgress), progress(.captureAborted)],
            .approved: [result(.amlScreening, .approved, aml: .clear), startAttempt, progress(.captureInProgress), progress(.completed),
                        result(.approved)],
            .declined: [result(.amlScreening, .declined, aml: .match)],
            .inconclusive: [result(.amlScreening, .inconclusive)],
            .refused: [startAttempt, progress(.captureRefused)],
            .withdrawn: [.withdraw(reason: nil)],
            .expired: [result(.amlScreening, .screeningInProgress), .expire],
        ]),
    ]

    /// The automatic score of SPEC §4 for each package kind and overall status.
    static let automaticScores: [Views.PackageKind: [OverallStatus: OrderScore]] = [
        .identity: [.created: .pending, .pending: .pending, .captureInProgress: .pending, .checksInProgress: .pending,
                    .screeningInProgress: .pending, .reviewRequired: .reviewRequired, .retryRequired: .pending, .approved: .idVerified,
                    .declined: .idNotVerified, .inconclusive: .idNotVerified, .refused: .withdrawn, .withdrawn: .withdrawn, .expired: .pending],
        .screening: [.created: .screeningPending, .checksInProgress: .screeningPending, .screeningInProgress: .screeningPending,
                     .reviewRequired: .screeningAlert, .retryRequired: .screeningPending, .approved: .screeningNoAlert,
                     .declined: .screeningAlert, .inconclusive: .screeningPending, .refused: .withdrawn, .withdrawn: .withdrawn,
                     .expired: .screeningPending],
        .mixed: [.created: .pending, .pending: .pending, .captureInProgress: .pending, .checksInProgress: .pending,
                 .screeningInProgress: .pending, .reviewRequired: .alertsFound, .retryRequired: .pending, .approved: .noAlerts,
                 .declined: .alertsFound, .inconclusive: .pending, .refused: .withdrawn, .withdrawn: .withdrawn, .expired: .pending],
    ]

    /// The order status each overall status gives (SPEC §4 table); retry_required keeps the order as it was.
    static let orderStatuses: [OverallStatus: OrderStatus?] = [
        .created: nil, .pending: nil, .captureInProgress: nil, .checksInProgress: .inProgress, .screeningInProgress: .inProgress,
        .reviewRequired: .pending, .approved: .complete, .declined: .complete, .inconclusive: .incomplete, .refused: .incomplete,
        .withdrawn: .incomplete, .expired: .incomplete,
    ]

    func testEveryPackageKindReachesEveryOverallStatusItCan() {
        XCTAssertEqual(Set(Self.packages.map(\.kind)), Set(Views.PackageKind.allCases))
        var reached = Set<OverallStatus>()
        for package in Self.packages {
            XCTAssertEqual(Views.PackageKind(package.checks), package.kind)
            for (status, path) in package.paths {
                let state = Scenario.make(checks: package.checks, path).state
                XCTAssertEqual(state.overallStatus, status, "\(package.kind) \(status.rawValue)")
                XCTAssertEqual(Views.automaticScore(state), Self.automaticScores[package.kind]?[status], "\(package.kind) \(status.rawValue)")
                if let order = Self.orderStatuses[status] {
                    XCTAssertEqual(state.orderStatus, order, "\(package.kind) \(status.rawValue)")
                }
                reached.insert(status)
            }
        }
        XCTAssertEqual(reached, Set(OverallStatus.allCases), "every overall status is reached by some package")
    }

    /// Each package kind in each overall status: which commands are allowed, and that the allowed ones produce
    /// exactly their events.
    func testEveryCommandInEveryOverallStatusOfEveryPackageKind() {
        let later = Scenario.start.addingTimeInterval(30 * 86_400)
        for package in Self.packages {
            for (status, path) in package.paths.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
                let state = Scenario.make(checks: package.checks, path).state
                let ended = status.isEnded
                let capture = package.checks.contains(where: \.needsCapture)
                let open = state.openAttempt

                // Start an attempt: only while the flow runs and a capture check still waits for its result.
                let started = try? VerificationDecider.decide(startAttempt(id: "att_9"), state, now: later)
                if ended || !capture || state.checks.allSatisfy({ !$0.type.needsCapture || $0.status.isFinal }) {
                    XCTAssertNil(started, "start attempt in \(package.kind) \(status.rawValue)")
                } else {
                    let terminated = open.map { [VerificationEvent.attemptStatusChanged(attemptID: $0.id, from: $0.status, to: .terminated, code: 64001)] } ?? []
                    XCTAssertEqual(started, terminated + [.attemptStarted(attemptID: "att_9", url: "https://verify.example/att_9", expiresAt: attemptExpiry)],
                                   "start attempt in \(package.kind) \(status.rawValue)")
                }

                // Withdraw and a result for a check without a final one: only before the end.
                let withdrawn = try? VerificationDecider.decide(.withdraw(reason: "r"), state, now: later)
                XCTAssertEqual(withdrawn, ended ? nil : [.withdrawn(reason: "r")], "withdraw in \(package.kind) \(status.rawValue)")
                if let waiting = state.checks.first(where: { !$0.status.isFinal && (!$0.type.needsCapture || !state.attempts.isEmpty) }) {
                    let recorded = try? VerificationDecider.decide(result(waiting.type, .approved), state, now: later)
                    XCTAssertEqual(recorded, ended ? nil : [.resultRecorded(CheckResult(check: waiting.type, status: .approved))],
                                   "result in \(package.kind) \(status.rawValue)")
                }

                // A human score and custom scores need an order; disputes need a complete one.
                let scored = try? VerificationDecider.decide(.assignScore(.clientReview, reason: "r"), state, now: later)
                XCTAssertEqual(scored, state.orderStatus == nil ? nil : [.scoreAssigned(score: .clientReview, reason: "r")],
                               "score in \(package.kind) \(status.rawValue)")
                let disputed = try? VerificationDecider.decide(.openDispute(disputeID: "dsp_9", reason: "r"), state, now: later)
                XCTAssertEqual(disputed, state.orderStatus == .complete ? [.disputeOpened(disputeID: "dsp_9", reason: "r")] : nil,
                               "dispute in \(package.kind) \(status.rawValue)")

                // Override is always possible; expiry only ends what has not ended.
                XCTAssertEqual(try? VerificationDecider.decide(.override(.approved, reason: "r"), state, now: later),
                               [.statusOverridden(status: .approved, reason: "r")])
                let expired = try? VerificationDecider.decide(.expire, state, now: later)
                if ended {
                    XCTAssertEqual(expired, [], "expire in \(package.kind) \(status.rawValue)")
                } else {
                    XCTAssertEqual(expired?.last, .expired, "expire in \(package.kind) \(status.rawValue)")
                    let attemptExpired = open.flatMap { $0.status.allowedNext.contains(.expired) ? $0 : nil }
                    XCTAssertEqual(expired?.dropLast(), attemptExpired.map {
                        [.attemptStatusChanged(attemptID: $0.id, from: $0.status, to: .expired, code: nil)]
                    } ?? [], "expire in \(package.kind) \(status.rawValue)")
                }
            }
        }
    }
}

func startAttempt(id: String) -> VerificationCommand {
    .startAttempt(attemptID: id, url: "https://verify.example/\(id)", expiresAt: attemptExpiry)
}
