import Foundation

/// What can be asked of a verification. Ids, URLs and the time come from the caller (injected in the shell).
public enum VerificationCommand: Sendable, Equatable {
    case invite(Invitation)
    case startAttempt(attemptID: String, url: String, expiresAt: Date)
    case recordProgress(attemptID: String, status: AttemptStatus)
    case recordResult(CheckResult)
    case assignScore(OrderScore, reason: String)
    /// `value` is a JSON scalar (`CustomScore`); `ruleset` names the rule that computed it, nil when set by hand.
    case setCustomScore(name: String, value: JSONValue, reason: String?, ruleset: RulesetReference? = nil)
    case openDispute(disputeID: String, reason: String)
    case resolveDispute(disputeID: String, outcome: DisputeOutcome, score: OrderScore?, reason: String)
    case override(OverrideStatus, reason: String)
    case withdraw(reason: String?)
    /// A nil value removes the key.
    case updateMetadata([String: String?])
    /// The scheduler's: ends the verification if its deadline has passed.
    case expire
    /// Records that the entity's data key was destroyed (the shell destroys it, once: a second erasure of the entity
    /// finds it destroyed and records nothing).
    case erasePersonalData(reason: String, overrideRetention: Bool)
    /// Records a legal hold on the entity (the shell records it on each of the entity's streams); a stream already
    /// held keeps its first hold.
    case placeLegalHold(reason: String)
    /// Records that the entity's hold was lifted; a stream not held records nothing.
    case liftLegalHold(reason: String)
    /// The scheduler's: expires the open attempt if its URL's deadline has passed.
    case expireAttempt
    /// Ends an approval whose validity is over (the expiry scheduler's, at the end of the validity).
    case endValidity

    public var name: String {
        switch self {
        case .invite: return "invite"
        case .startAttempt: return "start_attempt"
        case .recordProgress: return "record_progress"
        case .recordResult: return "record_result"
        case .assignScore: return "assign_score"
        case .setCustomScore: return "set_custom_score"
        case .openDispute: return "open_dispute"
        case .resolveDispute: return "resolve_dispute"
        case .override: return "override"
        case .withdraw: return "withdraw"
        case .updateMetadata: return "update_metadata"
        case .expire: return "expire"
        case .erasePersonalData: return "erase_personal_data"
        case .placeLegalHold: return "place_legal_hold"
        case .liftLegalHold: return "lift_legal_hold"
        case .expireAttempt: return "expire_attempt"
        case .endValidity: return "end_validity"
        }
    }
}

public enum VerificationError: Error, Equatable, Sendable, CustomStringConvertible {
    case notFound
    case alreadyExists
    /// The command is not allowed in the verification's current state.
    case invalidTransition(command: String, state: String, reason: String)
    case invalidParameter(param: String, message: String)
    case attemptNotFound(String)
    case disputeNotFound(String)

    public var description: String {
        switch self {
        case .notFound: return "no such verification"
        case .alreadyExists: return "the verification already exists"
        case let .invalidTransition(command, state, reason): return "cannot \(command) while \(state): \(reason)"
        case let .invalidParameter(_, message): return message
        case let .attemptNotFound(id): return "no attempt \(id) on this verification"
        case let .disputeNotFound(id): return "no dispute \(id) on this verification"
        }
    }
}

/// The verification stream's decider: every business rule of the lifecycle, pure.
public enum VerificationDecider: Decider {
    public static let initialState = VerificationState()

    public static let metadataLimits = (keys: 50, keyLength: 40, valueLength: 500)

    public static func isTerminal(_ state: VerificationState) -> Bool { state.isTerminal }

    // MARK: decide

    public static func decide(_ command: VerificationCommand, _ state: VerificationState,
                              now: Date) throws(VerificationError) -> [VerificationEvent] {
        if case let .invite(invitation) = command {
            guard !state.exists else { throw .alreadyExists }
            guard !invitation.checks.isEmpty else { throw .invalidParameter(param: "checks", message: "checks must name at least one check") }
            guard Set(invitation.checks).count == invitation.checks.count else {
                throw .invalidParameter(param: "checks", message: "checks lists a check twice")
            }
            try validateMetadata(invitation.metadata)
            return [.invited(invitation)]
        }
        guard state.exists else { throw .notFound }
        let overall = state.overallStatus
        func refuse(_ reason: String) -> VerificationError {
            .invalidTransition(command: command.name, state: overall.rawValue, reason: reason)
        }

        switch command {
        case .invite:
            throw .alreadyExists

        case let .startAttempt(attemptID, url, expiresAt):
            guard !overall.isEnded else { throw refuse("the verification has ended") }
            guard state.checks.contains(where: { $0.type.needsCapture }) else { throw refuse("no check of this verification has a capture step") }
            guard state.checks.contains(where: { $0.type.needsCapture && !$0.status.isFinal }) else {
                throw refuse("every capture check already has its final result")
            }
            var events: [VerificationEvent] = []
            if let open = state.openAttempt {
                events.append(.attemptStatusChanged(attemptID: open.id, from: open.status, to: .terminated, code: 64001))
            }
            events.append(.attemptStarted(attemptID: attemptID, url: url, expiresAt: expiresAt))
            return events

        case let .recordProgress(attemptID, status):
            guard let attempt = state.attempts.first(where: { $0.id == attemptID }) else { throw .attemptNotFound(attemptID) }
            if attempt.status == status { return [] }
            guard !overall.isEnded else { throw refuse("the verification has ended") }
            guard attempt.status.allowedNext.contains(status) else {
                throw .invalidTransition(command: command.name, state: attempt.status.rawValue,
                                         reason: "attempt \(attemptID) cannot move from \(attempt.status.rawValue) to \(status.rawValue)")
            }
            return [.attemptStatusChanged(attemptID: attemptID, from: attempt.status, to: status, code: nil)]

        case let .recordResult(result):
            guard !overall.isEnded else { throw refuse("the verification has ended") }
            guard let check = state.check(result.check) else {
                throw .invalidParameter(param: "check", message: "this verification has no \(result.check.rawValue) check")
            }
            guard CheckStatus.resultStatuses.contains(result.status) else {
                throw .invalidParameter(param: "status", message: "a result's status is one of \(CheckStatus.resultStatuses.map(\.rawValue).joined(separator: ", "))")
            }
            guard !check.status.isFinal else { throw refuse("the \(check.type.rawValue) check is already \(check.status.rawValue)") }
            if let attemptID = result.attemptID, !state.attempts.contains(where: { $0.id == attemptID }) {
                throw .attemptNotFound(attemptID)
            }
            if check.type.needsCapture && state.attempts.isEmpty {
                throw refuse("the \(check.type.rawValue) check needs an attempt before a result")
            }
            return [.resultRecorded(result)]

        case let .assignScore(score, reason):
            guard state.orderStatus != nil else { throw refuse("there is no order to score yet") }
            guard state.openDispute == nil else { throw refuse("a dispute is open: resolve it instead") }
            return [.scoreAssigned(score: score, reason: reason)]

        case let .setCustomScore(name, value, reason, ruleset):
            if let problem = CustomScore.problem(withName: name) { throw .invalidParameter(param: "name", message: problem) }
            if let problem = CustomScore.problem(withValue: value) { throw .invalidParameter(param: "value", message: problem) }
            guard state.orderStatus != nil else { throw refuse("there is no order to score yet") }
            if state.customScores[name] == value { return [] }
            return [.customScoreSet(name: name, value: value, reason: reason, ruleset: ruleset)]

        case let .openDispute(disputeID, reason):
            guard state.openDispute == nil else { throw refuse("a dispute is already open") }
            guard state.orderStatus == .complete else { throw refuse("only a complete order can be disputed") }
            return [.disputeOpened(disputeID: disputeID, reason: reason)]

        case let .resolveDispute(disputeID, outcome, score, reason):
            guard let dispute = state.disputes.first(where: { $0.id == disputeID }) else { throw .disputeNotFound(disputeID) }
            guard dispute.isOpen else { throw refuse("dispute \(disputeID) is already resolved") }
            if outcome == .overturned && score == nil {
                throw .invalidParameter(param: "score", message: "an overturned dispute needs the new score")
            }
            return [.disputeResolved(disputeID: disputeID, outcome: outcome, score: score, reason: reason)]

        case let .override(status, reason):
            if state.ending == .overridden(status) { return [] }
            return [.statusOverridden(status: status, reason: reason)]

        case let .withdraw(reason):
            guard !overall.isEnded else { throw refuse("the verification has ended") }
            return [.withdrawn(reason: reason)]

        case let .updateMetadata(changes):
            var merged = state.metadata
            for (key, value) in changes { merged[key] = value }
            try validateMetadata(merged)
            let effective = changes.filter { state.metadata[$0.key] != $0.value }
            return effective.isEmpty ? [] : [.metadataUpdated(changes: effective)]

        case .expire:
            guard !overall.isEnded, let deadline = state.invitation?.expiresAt, deadline <= now else { return [] }
            var events: [VerificationEvent] = []
            if let open = state.openAttempt, open.status.allowedNext.contains(.expired) {
                events.append(.attemptStatusChanged(attemptID: open.id, from: open.status, to: .expired, code: nil))
            }
            return events + [.expired]

        case let .erasePersonalData(reason, overrideRetention):
            return [.personalDataErased(reason: reason, overrideRetention: overrideRetention)]

        case let .placeLegalHold(reason):
            return state.legalHold == nil ? [.legalHoldPlaced(reason: reason)] : []

        case let .liftLegalHold(reason):
            return state.legalHold == nil ? [] : [.legalHoldLifted(reason: reason)]

        case .expireAttempt:
            guard !overall.isEnded, let open = state.openAttempt, open.expiresAt <= now,
                  open.status.allowedNext.contains(.expired) else { return [] }
            return [.attemptStatusChanged(attemptID: open.id, from: open.status, to: .expired, code: nil)]

        case .endValidity:
            guard overall == .approved, state.validityEndedAt == nil, let end = ValidityPolicy.standard.validUntil(state), end <= now else { return [] }
            return [.validityEnded]
        }
    }

    static func validateMetadata(_ metadata: [String: String]) throws(VerificationError) {
        let limits = metadataLimits
        guard metadata.count <= limits.keys else {
            throw .invalidParameter(param: "metadata", message: "metadata may have at most \(limits.keys) keys")
        }
        for (key, value) in metadata {
            guard !key.isEmpty, key.count <= limits.keyLength else {
                throw .invalidParameter(param: "metadata", message: "metadata keys are 1 to \(limits.keyLength) characters")
            }
            guard value.count <= limits.valueLength else {
                throw .invalidParameter(param: "metadata[\(key)]", message: "metadata values are at most \(limits.valueLength) characters")
            }
        }
    }

    // MARK: evolve

    public static func evolve(_ state: VerificationState, _ event: VerificationEvent, at: Date) -> VerificationState {
        var next = state
        switch event {
        case let .invited(invitation):
            next.invitation = invitation
            next.checks = invitation.checks.map { CheckState(type: $0, updatedAt: at) }
            next.metadata = invitation.metadata
            next.createdAt = at

        case let .attemptStarted(attemptID, url, expiresAt):
            next.attempts.append(AttemptState(id: attemptID, status: .pendingRedirection, url: url, expiresAt: expiresAt,
                                              code: nil, createdAt: at, updatedAt: at))
            updateCaptureChecks(&next, to: .pending, codes: [], at: at)

        case let .attemptStatusChanged(attemptID, _, to, code):
            guard let index = next.attempts.firstIndex(where: { $0.id == attemptID }) else { break }
            next.attempts[index].status = to
            next.attempts[index].code = code
            next.attempts[index].updatedAt = at
            let startedCapture = next.captureStarted
            if [.captureInProgress, .checksInProgress, .completed].contains(to) { next.captureStarted = true }
            switch to {
            case .captureInProgress: updateCaptureChecks(&next, to: .captureInProgress, codes: [], at: at)
            case .checksInProgress, .completed: updateCaptureChecks(&next, to: .checksInProgress, codes: [], at: at)
            case .checksInconclusive: updateCaptureChecks(&next, to: .inconclusive, codes: [71901], at: at)
            case .captureAborted: updateCaptureChecks(&next, to: .retryRequired, codes: [61121], at: at)
            case .captureRefused: updateCaptureChecks(&next, to: .refused, codes: [63001], at: at)
            case .expired: updateCaptureChecks(&next, to: .retryRequired, codes: [startedCapture ? 61121 : 61101], at: at)
            case .pendingRedirection, .terminated: break
            }

        case let .resultRecorded(result):
            guard let index = next.checks.firstIndex(where: { $0.type == result.check }) else { break }
            var check = next.checks[index]
            check.status = result.status
            check.responseCodes = result.responseCodes
            check.signals = Signals(documentAuthenticity: result.signals.documentAuthenticity ?? check.signals.documentAuthenticity,
                                    faceMatch: result.signals.faceMatch ?? check.signals.faceMatch,
                                    liveness: result.signals.liveness ?? check.signals.liveness,
                                    aml: result.signals.aml ?? check.signals.aml)
            check.extractedData = result.extractedData ?? check.extractedData
            check.riskLabels = result.riskLabels
            check.providerReference = result.providerReference ?? check.providerReference
            check.updatedAt = at
            next.checks[index] = check
            let attemptID = result.attemptID ?? (result.check.needsCapture ? next.attempts.last?.id : nil)
            next.results.append(RecordedResult(result: result, attemptID: attemptID, recordedAt: at))

        case let .scoreAssigned(score, _):
            next.manualScore = score

        case let .customScoreSet(name, value, _, _):
            next.customScores[name] = value

        case let .disputeOpened(disputeID, reason):
            next.disputes.append(DisputeState(id: disputeID, reason: reason, openedAt: at))

        case let .disputeResolved(disputeID, outcome, score, reason):
            if let index = next.disputes.firstIndex(where: { $0.id == disputeID }) {
                next.disputes[index].outcome = outcome
                next.disputes[index].score = score
                next.disputes[index].resolution = reason
                next.disputes[index].resolvedAt = at
            }
            if let score { next.manualScore = score }

        case let .statusOverridden(status, _):
            next.ending = .overridden(status)

        case .withdrawn:
            next.ending = .withdrawn

        case let .metadataUpdated(changes):
            for (key, value) in changes { next.metadata[key] = value }

        case .expired:
            next.ending = .expired

        case .validityEnded:
            next.validityEndedAt = at
        case .personalDataErased:
            next = next.personalDataRemoved
            next.personalDataErased = true
        case let .legalHoldPlaced(reason):
            next.legalHold = reason
        case .legalHoldLifted:
            next.legalHold = nil
        }
        // A hold is on the entity's records, not a change of the verification: its views stay as they were.
        if !event.isLegalHoldChange { next.updatedAt = at }
        if next.exists, !state.exists || state.overallStatus != next.overallStatus {
            next.statusChanges.append(StatusChange(status: next.overallStatus, at: at, reason: endingReason(event)))
        }
        next.eventCount = state.eventCount + 1
        if next.exists, !state.exists || isDecisionByWord(event)
            || CustomerVerificationView.status(state) != CustomerVerificationView.status(next) {
            next.statusDecisionVersion = next.eventCount
        }
        let orderStatus = nextOrderStatus(next)
        if orderStatus != nil && next.orderOpenedAt == nil { next.orderOpenedAt = at }
        if orderStatus == .complete && next.orderStatus != .complete { next.orderCompletedAt = at }
        next.orderStatus = orderStatus
        return next
    }

    /// Someone ended the verification by their word (an admin, the client), whatever the status was.
    static func isDecisionByWord(_ event: VerificationEvent) -> Bool {
        switch event {
        case .statusOverridden, .withdrawn: return true
        default: return false
        }
    }

    static func endingReason(_ event: VerificationEvent) -> String? {
        switch event {
        case let .statusOverridden(_, reason): return reason
        case let .withdrawn(reason): return reason
        default: return nil
        }
    }

    /// Attempt progress moves the capture checks that have no final result yet.
    static func updateCaptureChecks(_ state: inout VerificationState, to status: CheckStatus, codes: [Int], at: Date) {
        for index in state.checks.indices where state.checks[index].type.needsCapture && !state.checks[index].status.isFinal {
            state.checks[index].status = status
            state.checks[index].responseCodes = codes.map { ResponseCode(code: $0) }
            state.checks[index].updatedAt = at
        }
    }

    static func nextOrderStatus(_ state: VerificationState) -> OrderStatus? {
        if state.openDispute != nil { return .inDispute }
        if state.manualScore != nil { return .complete }
        switch Views.orderMapping(state.overallStatus) {
        case .none, .unchanged: return state.orderStatus
        case let .status(status): return status
        }
    }
}
