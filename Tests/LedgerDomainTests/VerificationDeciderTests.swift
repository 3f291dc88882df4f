import Foundation
import LedgerDomain
import XCTest

/// Builds verification states by running commands through the decider, as the service does.
struct Scenario {
    var state = VerificationDecider.initialState
    var events: [VerificationEvent] = []
    var now = Date(timeIntervalSince1970: 1_790_000_000)

    static let start = Date(timeIntervalSince1970: 1_790_000_000)

    static func invitation(_ checks: [CheckType] = [.identityVerification], metadata: [String: String] = ["order_ref": "A-1"]) -> Invitation {
        Invitation(entityID: "cus_1", checks: checks, metadata: metadata, expiresAt: start.addingTimeInterval(7 * 86_400))
    }

    @discardableResult
    mutating func run(_ command: VerificationCommand, file: StaticString = #filePath, line: UInt = #line) -> [VerificationEvent] {
        // The scheduler's commands come after every deadline; the others a minute apart.
        now = command == .expire || command == .expireAttempt ? Scenario.start.addingTimeInterval(30 * 86_400) : now.addingTimeInterval(60)
        do {
            let produced = try VerificationDecider.run(command, state, now: now)
            state = produced.state
            events += produced.events
            return produced.events
        } catch {
            XCTFail("\(command.name) refused: \(error)", file: file, line: line)
            return []
        }
    }

    static func make(checks: [CheckType] = [.identityVerification], _ commands: [VerificationCommand]) -> Scenario {
        var scenario = Scenario()
        scenario.run(.invite(invitation(checks)))
        for command in commands { scenario.run(command) }
        return scenario
    }
}

let attemptExpiry = Scenario.start.addingTimeInterval(900)
let startAttempt = VerificationCommand.startAttempt(attemptID: "att_1", url: "https://verify.example/att_1", expiresAt: attemptExpiry)
func progress(_ status: AttemptStatus, _ attempt: String = "att_1") -> VerificationCommand { .recordProgress(attemptID: attempt, status: status) }
func result(_ check: CheckType, _ status: CheckStatus, codes: [Int] = [], aml: AMLOutcome? = nil) -> VerificationCommand {
    .recordResult(CheckResult(check: check, status: status, responseCodes: codes.map { ResponseCode(code: $0) }, signals: Signals(aml: aml)))
}
/// A result for the identity_verification check.
func result(_ status: CheckStatus, codes: [Int] = []) -> VerificationCommand { result(.identityVerification, status, codes: codes) }

final class VerificationDeciderTests: XCTestCase {
    enum Outcome: Character {
        case allowed = "A", noop = "N", refused = "R", notFound = "F", exists = "X", noAttempt = "T", noDispute = "D", badParameter = "P"
    }

    /// Every command, in this order, in the matrix below.
    let commands: [(String, VerificationCommand)] = [
        ("invite", .invite(Scenario.invitation())),
        ("start attempt", .startAttempt(attemptID: "att_9", url: "https://verify.example/att_9", expiresAt: attemptExpiry)),
        ("progress to capture", progress(.captureInProgress)),
        ("result approved", result(.approved)),
        ("human score", .assignScore(.reviewPass, reason: "looked fine")),
        ("custom score", .setCustomScore(name: "risk_tier", value: "low", reason: nil)),
        ("open dispute", .openDispute(disputeID: "dsp_9", reason: "customer complained")),
        ("resolve dispute", .resolveDispute(disputeID: "dsp_1", outcome: .upheld, score: nil, reason: "checked again")),
        ("override declined", .override(.declined, reason: "manual check")),
        ("withdraw", .withdraw(reason: "changed mind")),
        ("metadata", .updateMetadata(["campaign": "winter"])),
        ("expire", .expire),
        ("expire attempt", .expireAttempt),
    ]

    /// State → expected outcome of each command above: A allowed, N no-op, R refused (409), F not found,
    /// X already exists, T no such attempt, D no such dispute.
    let matrix: [(String, Scenario?, String)] = [
        ("no verification", nil, "AFFFFFFFFFFFF"),
        ("created", Scenario.make([]), "XATRRRRDAAAAN"),
        ("pending", Scenario.make([startAttempt]), "XAAARRRDAAAAA"),
        ("capture_in_progress", Scenario.make([startAttempt, progress(.captureInProgress)]), "XANARRRDAAAAA"),
        ("checks_in_progress", Scenario.make([startAttempt, progress(.captureInProgress), progress(.checksInProgress)]), "XARAAARDAAAAN"),
        ("retry_required", Scenario.make([startAttempt, progress(.captureInProgress), progress(.captureAborted)]), "XARARRRDAAAAN"),
        ("review_required", Scenario.make([startAttempt, progress(.captureInProgress), progress(.completed), result(.reviewRequired)]), "XARAAARDAAAAN"),
        ("approved", Scenario.make([startAttempt, progress(.captureInProgress), progress(.completed), result(.approved)]), "XRRRAAADARANN"),
        ("declined", Scenario.make([startAttempt, progress(.captureInProgress), progress(.completed), result(.declined, codes: [62301])]), "XRRRAAADARANN"),
        ("inconclusive", Scenario.make([startAttempt, progress(.captureInProgress), progress(.checksInProgress), progress(.checksInconclusive)]), "XRRRAARDARANN"),
        ("refused", Scenario.make([startAttempt, progress(.captureRefused)]), "XRRRAARDARANN"),
        ("withdrawn", Scenario.make([startAttempt, .withdraw(reason: nil)]), "XRRRAARDARANN"),
        ("expired", Scenario.make([.expire]), "XRTRAARDARANN"),
        ("in dispute", Scenario.make([startAttempt, progress(.captureInProgress), progress(.completed), result(.approved), .openDispute(disputeID: "dsp_1", reason: "no")]), "XRRRRARAARANN"),
        ("overridden declined", Scenario.make([startAttempt, .override(.declined, reason: "fraud ring")]), "XRRRAAADNRANN"),
    ]

    func testEveryCommandInEveryState() {
        let later = Scenario.start.addingTimeInterval(30 * 86_400) // past every deadline
        for (name, scenario, expectations) in matrix {
            XCTAssertEqual(expectations.count, commands.count, name)
            for ((commandName, command), expected) in zip(commands, expectations) {
                let state = scenario?.state ?? VerificationDecider.initialState
                let outcome: Outcome
                do {
                    outcome = try VerificationDecider.decide(command, state, now: later).isEmpty ? .noop : .allowed
                } catch {
                    switch error {
                    case .invalidTransition: outcome = .refused
                    case .notFound: outcome = .notFound
                    case .alreadyExists: outcome = .exists
                    case .attemptNotFound: outcome = .noAttempt
                    case .disputeNotFound: outcome = .noDispute
                    case .invalidParameter: outcome = .badParameter
                    }
                }
                XCTAssertEqual(outcome.rawValue, expected, "\(commandName) in \(name)")
            }
        }
    }

    func testTheMatrixStatesAreWhatTheyAreNamed() {
        for (name, scenario, _) in matrix.dropFirst() {
            guard let state = scenario?.state else { continue }
            switch name {
            case "in dispute": XCTAssertEqual(state.orderStatus, .inDispute)
            case "overridden declined": XCTAssertEqual(state.overallStatus, .declined)
            default: XCTAssertEqual(state.overallStatus.rawValue, name)
            }
        }
    }

    func testRefusalsNameTheStateAndTheCommand() {
        let approved = Scenario.make([startAttempt, progress(.captureInProgress), progress(.completed), result(.approved)]).state
        XCTAssertThrowsError(try VerificationDecider.decide(.withdraw(reason: nil), approved, now: Scenario.start)) { error in
            XCTAssertEqual(error as? VerificationError,
                           .invalidTransition(command: "withdraw", state: "approved", reason: "the verification has ended"))
        }
        let pending = Scenario.make([startAttempt]).state
        XCTAssertThrowsError(try VerificationDecider.decide(progress(.completed), pending, now: Scenario.start)) { error in
            XCTAssertEqual(error as? VerificationError,
                           .invalidTransition(command: "record_progress", state: "pending_redirection",
                                              reason: "attempt att_1 cannot move from pending_redirection to completed"))
        }
    }

    func testEveryAttemptTransition() {
        let allowed: [AttemptStatus: Set<AttemptStatus>] = [
            .pendingRedirection: [.captureInProgress, .expired, .captureRefused],
            .captureInProgress: [.checksInProgress, .completed, .captureAborted, .captureRefused, .expired],
            .checksInProgress: [.completed, .checksInconclusive],
        ]
        // Reach each status of attempt att_1 on a two-check package, so the verification has not ended.
        let paths: [AttemptStatus: [VerificationCommand]] = [
            .pendingRedirection: [startAttempt],
            .captureInProgress: [startAttempt, progress(.captureInProgress)],
            .checksInProgress: [startAttempt, progress(.captureInProgress), progress(.checksInProgress)],
            .completed: [startAttempt, progress(.captureInProgress), progress(.completed)],
            .captureAborted: [startAttempt, progress(.captureInProgress), progress(.captureAborted)],
            .expired: [startAttempt, progress(.expired)],
        ]
        for (from, path) in paths {
            let state = Scenario.make(checks: [.document, .amlScreening], path).state
            XCTAssertEqual(state.attempts.first?.status, from)
            for to in AttemptStatus.allCases {
                let events = try? VerificationDecider.decide(progress(to), state, now: Scenario.start)
                if to == from {
                    XCTAssertEqual(events, [], "repeating \(from.rawValue) is a no-op")
                } else if allowed[from, default: []].contains(to) {
                    XCTAssertEqual(events, [.attemptStatusChanged(attemptID: "att_1", from: from, to: to, code: nil)], "\(from) → \(to)")
                } else {
                    XCTAssertNil(events, "\(from.rawValue) → \(to.rawValue) must be refused")
                }
            }
        }
    }

    func testANewAttemptTerminatesTheOpenOne() {
        var scenario = Scenario.make([startAttempt, progress(.captureInProgress)])
        let events = scenario.run(.startAttempt(attemptID: "att_2", url: "https://verify.example/att_2", expiresAt: attemptExpiry))
        XCTAssertEqual(events.first, .attemptStatusChanged(attemptID: "att_1", from: .captureInProgress, to: .terminated, code: 64001))
        XCTAssertEqual(scenario.state.attempts.map(\.status), [.terminated, .pendingRedirection])
        XCTAssertEqual(scenario.state.attempts.first?.code, 64001)
        XCTAssertEqual(scenario.state.overallStatus, .pending)
    }

    func testRetryThenASecondAttemptApproves() {
        var scenario = Scenario.make([startAttempt, progress(.captureInProgress), progress(.completed),
                                      result(.retryRequired, codes: [61301])])
        XCTAssertEqual(scenario.state.overallStatus, .retryRequired)
        XCTAssertEqual(scenario.state.checks[0].responseCodes, [ResponseCode(code: 61301, summary: "document_blurry")])
        XCTAssertEqual(scenario.state.orderStatus, .inProgress, "retry_required leaves the order as it was")
        scenario.run(.startAttempt(attemptID: "att_2", url: "https://verify.example/att_2", expiresAt: attemptExpiry))
        XCTAssertEqual(scenario.state.attempts[0].status, .completed, "a finished attempt is not terminated")
        scenario.run(progress(.captureInProgress, "att_2"))
        scenario.run(progress(.completed, "att_2"))
        scenario.run(.recordResult(CheckResult(check: .identityVerification, status: .approved, responseCodes: [ResponseCode(code: 10000)], attemptID: "att_2")))
        XCTAssertEqual(scenario.state.overallStatus, .approved)
        XCTAssertEqual(scenario.state.orderStatus, .complete)
        XCTAssertEqual(Views.orderScore(scenario.state), .idVerified)
        XCTAssertEqual(Views.orderAlert(scenario.state), .noAlertsFound)
    }

    func testAFraudDeclineRaisesTheAlert() {
        let state = Scenario.make([startAttempt, progress(.captureInProgress), progress(.completed), result(.declined, codes: [62301])]).state
        XCTAssertEqual(state.overallStatus, .declined)
        XCTAssertEqual(state.orderStatus, .complete)
        XCTAssertEqual(Views.orderScore(state), .idNotVerified)
        XCTAssertEqual(Views.orderAlert(state), .alertsFound)
        XCTAssertEqual(state.checks[0].responseCodes, [ResponseCode(code: 62301, summary: "document_counterfeit")])
    }

    func testAMLReviewThenAReviewersPass() {
        var scenario = Scenario.make(checks: [.amlScreening], [result(.amlScreening, .screeningInProgress)])
        XCTAssertEqual(scenario.state.orderStatus, .inProgress)
        XCTAssertEqual(Views.orderScore(scenario.state), .screeningPending)
        scenario.run(result(.amlScreening, .reviewRequired, aml: .match))
        XCTAssertEqual(scenario.state.overallStatus, .reviewRequired)
        XCTAssertEqual(scenario.state.orderStatus, .pending)
        XCTAssertEqual(Views.orderScore(scenario.state), .screeningAlert)
        XCTAssertNil(Views.orderAlert(scenario.state), "no alert before the order is complete")
        scenario.run(.assignScore(.reviewPass, reason: "false positive: different date of birth"))
        XCTAssertEqual(scenario.state.orderStatus, .complete)
        XCTAssertEqual(Views.orderScore(scenario.state), .reviewPass)
        XCTAssertEqual(Views.orderAlert(scenario.state), .alertsFound, "the aml match was recorded")
    }

    func testDisputesUpheldAndOverturned() {
        var upheld = Scenario.make([startAttempt, progress(.captureInProgress), progress(.completed), result(.approved), .openDispute(disputeID: "dsp_1", reason: "wrong person")])
        XCTAssertEqual(upheld.state.orderStatus, .inDispute)
        upheld.run(.resolveDispute(disputeID: "dsp_1", outcome: .upheld, score: nil, reason: "documents match"))
        XCTAssertEqual(upheld.state.orderStatus, .complete)
        XCTAssertEqual(Views.orderScore(upheld.state), .idVerified)
        XCTAssertEqual(upheld.state.disputes.first?.outcome, .upheld)

        var overturned = Scenario.make([startAttempt, progress(.captureInProgress), progress(.completed), result(.approved), .openDispute(disputeID: "dsp_1", reason: "forged")])
        XCTAssertThrowsError(try VerificationDecider.decide(.resolveDispute(disputeID: "dsp_1", outcome: .overturned, score: nil, reason: "x"),
                                                            overturned.state, now: Scenario.start)) { error in
            XCTAssertEqual(error as? VerificationError, .invalidParameter(param: "score", message: "an overturned dispute needs the new score"))
        }
        overturned.run(.resolveDispute(disputeID: "dsp_1", outcome: .overturned, score: .adverseAction, reason: "forged"))
        XCTAssertEqual(overturned.state.orderStatus, .complete)
        XCTAssertEqual(Views.orderScore(overturned.state), .adverseAction)
        XCTAssertEqual(Views.orderAlert(overturned.state), .alertsFound)
    }

    func testOverrideWithdrawAndExpiry() {
        let overridden = Scenario.make([startAttempt, progress(.captureInProgress), progress(.completed), result(.declined), .override(.approved, reason: "manual")]).state
        XCTAssertEqual(overridden.overallStatus, .approved)
        XCTAssertEqual(Views.validationStatus(overridden.overallStatus, captureStarted: overridden.captureStarted), "approved")

        let withdrawn = Scenario.make([startAttempt, .withdraw(reason: "no longer needed")]).state
        XCTAssertEqual(withdrawn.overallStatus, .withdrawn)
        XCTAssertEqual(withdrawn.orderStatus, .incomplete)
        XCTAssertEqual(Views.orderScore(withdrawn), .withdrawn)

        let beforeCapture = Scenario.make([startAttempt, .expire]).state
        XCTAssertEqual(beforeCapture.overallStatus, .expired)
        XCTAssertEqual(beforeCapture.attempts.first?.status, .expired)
        XCTAssertEqual(Views.validationStatus(beforeCapture.overallStatus, captureStarted: beforeCapture.captureStarted), "expired")
        XCTAssertEqual(Views.customerVerificationStatus(beforeCapture.overallStatus), "expired")

        let afterCapture = Scenario.make([startAttempt, progress(.captureInProgress), .expire]).state
        XCTAssertEqual(Views.validationStatus(afterCapture.overallStatus, captureStarted: afterCapture.captureStarted), "abandoned")
        XCTAssertEqual(afterCapture.orderStatus, .incomplete)
    }

    func testExpiryWaitsForTheDeadline() throws {
        let state = Scenario.make([startAttempt]).state
        XCTAssertEqual(try VerificationDecider.decide(.expire, state, now: Scenario.start.addingTimeInterval(86_400)), [])
        XCTAssertEqual(try VerificationDecider.decide(.expireAttempt, state, now: Scenario.start.addingTimeInterval(60)), [])
        XCTAssertEqual(try VerificationDecider.decide(.expireAttempt, state, now: attemptExpiry),
                       [.attemptStatusChanged(attemptID: "att_1", from: .pendingRedirection, to: .expired, code: nil)])
    }

    func testMetadataMergesRemovesAndKeepsItsLimits() throws {
        var scenario = Scenario.make([])
        scenario.run(.updateMetadata(["campaign": "winter", "order_ref": nil]))
        XCTAssertEqual(scenario.state.metadata, ["campaign": "winter"])
        XCTAssertEqual(try VerificationDecider.decide(.updateMetadata(["campaign": "winter"]), scenario.state, now: Scenario.start), [])
        let tooMany = Dictionary(uniqueKeysWithValues: (0..<50).map { ("k\($0)", Optional("v")) })
        XCTAssertThrowsError(try VerificationDecider.decide(.updateMetadata(tooMany), scenario.state, now: Scenario.start))
        XCTAssertThrowsError(try VerificationDecider.decide(.updateMetadata([String(repeating: "k", count: 41): "v"]), scenario.state, now: Scenario.start))
        XCTAssertThrowsError(try VerificationDecider.decide(.updateMetadata(["k": String(repeating: "v", count: 501)]), scenario.state, now: Scenario.start)) { error in
            XCTAssertEqual(error as? VerificationError, .invalidParameter(param: "metadata[k]", message: "metadata values are at most 500 characters"))
        }
    }

    func testResultsForChecksWithoutCaptureNeedNoAttemptButCaptureChecksDo() throws {
        let state = Scenario.make(checks: [.document, .email, .phone, .idNumber], []).state
        XCTAssertNoThrow(try VerificationDecider.decide(result(.email, .approved), state, now: Scenario.start))
        XCTAssertNoThrow(try VerificationDecider.decide(result(.idNumber, .approved), state, now: Scenario.start))
        XCTAssertThrowsError(try VerificationDecider.decide(result(.document, .approved), state, now: Scenario.start))
        XCTAssertThrowsError(try VerificationDecider.decide(result(.selfie, .approved), state, now: Scenario.start)) { error in
            XCTAssertEqual(error as? VerificationError, .invalidParameter(param: "check", message: "this verification has no selfie check"))
        }
        XCTAssertThrowsError(try VerificationDecider.decide(result(.email, .pending), state, now: Scenario.start)) { error in
            guard case .invalidParameter(param: "status", _)? = error as? VerificationError else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try VerificationDecider.decide(
            .recordResult(CheckResult(check: .email, status: .approved, attemptID: "att_404")), state, now: Scenario.start)) { error in
            XCTAssertEqual(error as? VerificationError, .attemptNotFound("att_404"))
        }
    }

    func testInvitesAreValidated() {
        var invitation = Scenario.invitation([])
        XCTAssertThrowsError(try VerificationDecider.decide(.invite(invitation), VerificationDecider.initialState, now: Scenario.start))
        invitation.checks = [.email, .email]
        XCTAssertThrowsError(try VerificationDecider.decide(.invite(invitation), VerificationDecider.initialState, now: Scenario.start)) { error in
            XCTAssertEqual(error as? VerificationError, .invalidParameter(param: "checks", message: "checks lists a check twice"))
        }
    }

    func testFoldingTheEventsGivesTheSameState() {
        let scenario = Scenario.make(checks: [.identityVerification, .amlScreening], [
            startAttempt, progress(.captureInProgress), .startAttempt(attemptID: "att_2", url: "u", expiresAt: attemptExpiry),
            progress(.captureInProgress, "att_2"), progress(.completed, "att_2"), result(.identityVerification, .approved), result(.amlScreening, .approved, aml: .clear),
            .setCustomScore(name: "tier", value: "gold", reason: "vip"), .openDispute(disputeID: "dsp_1", reason: "r"),
            .resolveDispute(disputeID: "dsp_1", outcome: .upheld, score: nil, reason: "ok"), .updateMetadata(["a": "b"]),
        ])
        var replayed = VerificationDecider.initialState
        var now = Scenario.start
        for event in scenario.events {
            now = now.addingTimeInterval(60)
            // Through the stored JSON form, as a replay from the log does.
            guard let decoded = try? VerificationEvent(type: event.type, data: event.data) else { return XCTFail("\(event.type) does not decode") }
            XCTAssertEqual(decoded, event)
            replayed = VerificationDecider.evolve(replayed, decoded, at: now)
        }
        XCTAssertEqual(replayed.overallStatus, scenario.state.overallStatus)
        XCTAssertEqual(replayed.orderStatus, scenario.state.orderStatus)
        XCTAssertEqual(replayed.checks.map(\.status), scenario.state.checks.map(\.status))
        XCTAssertEqual(replayed.customScores, ["tier": "gold"])
    }

    func testEveryFieldOfInvitationsAndResultsSurvivesTheStoredForm() throws {
        let invitation = Invitation(entityID: "cus_1", entityType: .business, verificationType: .kyb, clientReferenceID: "ref",
                                    packageID: "pkg", checks: [.identityVerification, .amlScreening], provider: "onfido",
                                    applicant: Applicant(firstName: "Ada", lastName: "Lovelace", email: "ada@example.com", address: "1 Road"),
                                    metadata: ["b": "2", "a": "1"], postbackURL: "https://example.com/hook",
                                    postbackEvents: ["ORDER_COMPLETED"], expiresAt: Scenario.start.addingTimeInterval(86_400), livemode: true)
        let full = CheckResult(check: .identityVerification, status: .declined,
                               responseCodes: [ResponseCode(code: 62301), ResponseCode(code: 99001)],
                               signals: Signals(documentAuthenticity: .fail, faceMatch: .pass, liveness: .pending, aml: .match),
                               extractedData: ExtractedData(firstName: "Ada", lastName: "L", dateOfBirth: "1815-12-10", address: "1 Road",
                                                            document: .init(type: "passport", number: "X1", issuingCountry: "GB",
                                                                            issueDate: "2020-01-01", expiryDate: "2030-01-01")),
                               riskLabels: ["pep"], providerReference: "prov_1", raw: ["nested": [1, "two", nil]], attemptID: "att_1")
        let sparse = CheckResult(check: .email, status: .approved)
        for event in [VerificationEvent.invited(invitation), .resultRecorded(full), .resultRecorded(sparse),
                      .invited(Invitation(entityID: "cus_2", checks: [.phone], expiresAt: Scenario.start))] {
            XCTAssertEqual(try VerificationEvent(type: event.type, data: event.data), event)
        }
        XCTAssertNil(VerificationEvent.resultRecorded(sparse).data["extracted_data"], "absent optionals are left out")
    }
}
