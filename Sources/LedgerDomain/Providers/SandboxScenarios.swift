import Foundation

/// What the built-in sandbox provider does with a verification, chosen, like the test modes of real vendors, by
/// magic values in the applicant's id (the invite's `entity_id`, seed 003's `customer_id`). The README's
/// "Sandbox provider: magic values" lists them; `SandboxScenario.init(entityID:)` is the one place they are read.
public struct SandboxScenario: Sendable, Equatable {
    /// How a failed first pass came about before the applicant tries again.
    public enum RetryCause: Sendable, Equatable {
        /// The applicant left the capture flow (the attempt ends `capture_aborted`, code 61121).
        case captureAborted
        /// The attempt completed but the checks need a new one (`retry_required` with this 61xxx code).
        case retryResult(code: Int)
    }

    /// The identity checks' story: those with a capture step go through attempts, the others take results.
    public enum Identity: Sendable, Equatable {
        case approve
        /// Declined with this code (any code: unknown ones pass through).
        case decline(code: Int)
        case retryThenApprove(RetryCause)
        case retryThenDecline(RetryCause, code: Int)
        /// The applicant refuses to capture (63001).
        case refuse
        /// The checks cannot complete and no retry is possible (`checks_inconclusive`, 71901).
        case inconclusive
        /// The verification reaches its deadline with the attempt never opened, or opened and left mid-capture.
        case expireBeforeCapture
        case expireAfterCapture
    }

    public enum Background: Sendable, Equatable {
        case clear
        /// The agency holds the check (`on_hold`), then clears it.
        case holdThenClear
        /// The agency holds the check, then completes it with alerts (label `alert`: score ALERTS_FOUND).
        case holdThenAlert
    }

    public var identity: Identity
    public var aml: AMLOutcome
    public var background: Background

    public init(identity: Identity = .approve, aml: AMLOutcome = .clear, background: Background = .clear) {
        self.identity = identity
        self.aml = aml
        self.background = background
    }

    /// The code the retry scenarios use when the id names none.
    public static let defaultRetryCode = 61301
    /// The code a decline uses when the id names none.
    public static let defaultDeclineCode = 62101

    /// Reads the magic values: lower-cased words of the id split at anything not a letter or digit, so a UUID
    /// (hex groups of 8, 4 and 12) never names one by accident. The first identity rule that matches wins; the
    /// screening words combine with any of them.
    public init(entityID: String) {
        let words = entityID.lowercased().split { !($0.isLetter || $0.isNumber) }.map(String.init)
        func code(after index: Int) -> Int? {
            guard index + 1 < words.count else { return nil }
            return Self.code(words[index + 1])
        }
        func follows(_ sequence: [String]) -> Int? {
            guard words.count >= sequence.count else { return nil }
            return (0...(words.count - sequence.count)).first { Array(words[$0..<($0 + sequence.count)]) == sequence }
        }
        let identity: Identity
        if follows(["expire", "after", "capture"]) != nil {
            identity = .expireAfterCapture
        } else if follows(["expire"]) != nil {
            identity = .expireBeforeCapture
        } else if follows(["refuse"]) != nil || words.contains("63001") {
            identity = .refuse
        } else if follows(["inconclusive"]) != nil {
            identity = .inconclusive
        } else if let at = follows(["abort", "decline"]) {
            identity = .retryThenDecline(.captureAborted, code: code(after: at + 1) ?? Self.defaultDeclineCode)
        } else if follows(["abort"]) != nil {
            identity = .retryThenApprove(.captureAborted)
        } else if let at = follows(["retry"]) {
            let retryCode = code(after: at).flatMap { (61000...61999).contains($0) ? $0 : nil }
            let next = at + (retryCode == nil ? 1 : 2)
            let cause = RetryCause.retryResult(code: retryCode ?? Self.defaultRetryCode)
            if next < words.count, words[next] == "decline" {
                identity = .retryThenDecline(cause, code: code(after: next) ?? Self.defaultDeclineCode)
            } else {
                identity = .retryThenApprove(cause)
            }
        } else if let at = follows(["decline"]) {
            identity = .decline(code: code(after: at) ?? Self.defaultDeclineCode)
        } else if let bare = words.lazy.compactMap(Self.code).first(where: { (62000...62999).contains($0) || (61000...61999).contains($0) }) {
            identity = (61000...61999).contains(bare) ? .retryThenApprove(.retryResult(code: bare)) : .decline(code: bare)
        } else {
            identity = .approve
        }
        let aml: AMLOutcome = follows(["aml", "match"]) != nil ? .match : .clear
        let background: Background = follows(["hold", "alert"]) != nil ? .holdThenAlert : follows(["hold"]) != nil ? .holdThenClear : .clear
        self.init(identity: identity, aml: aml, background: background)
    }

    /// A word of exactly five digits.
    static func code(_ word: String) -> Int? {
        guard word.count == 5, word.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(word)
    }
}

/// One thing the sandbox does: a command, and whether it waits for the verification's deadline (expiry) rather
/// than the sandbox's step delay.
public struct SandboxStep: Sendable, Equatable {
    public var command: VerificationCommand
    public var atDeadline: Bool

    public init(_ command: VerificationCommand, atDeadline: Bool = false) {
        self.command = command
        self.atDeadline = atDeadline
    }
}

/// The sandbox provider's script: pure, so the same scenario always produces the same commands.
public enum SandboxScript {
    /// What the sandbox extracts from every document.
    public static let extractedData = ExtractedData(
        firstName: "Jenny", lastName: "Rosen", dateOfBirth: "1990-01-15", address: "1234 Main St., San Francisco, CA 94111",
        document: ExtractedData.Document(type: "driving_license", number: "D1234567", issuingCountry: "US",
                                         issueDate: "2020-12-01", expiryDate: "2030-12-01"))

    /// The steps for an invitation. Non-ending results come first (other checks approved, AML, background),
    /// then the identity checks' story, whose last step decides, since nothing may follow an ending.
    /// `attemptID(n)` names the n-th attempt (1-based); the caller supplies ids, URLs and the attempts' deadline.
    public static func steps(for invitation: Invitation, scenario: SandboxScenario, attemptID: (Int) -> String,
                             captureURL: (String) -> String, attemptExpiresAt: Date) -> [SandboxStep] {
        let checks = invitation.checks
        let capture = checks.filter(\.needsCapture)
        // The check the identity story is told on; a package of screening alone has none, and only expiry applies.
        let target: CheckType? = capture.first ?? checks.first { [.idNumber, .email, .phone].contains($0) }
        var steps: [SandboxStep] = []
        func record(_ check: CheckType, _ status: CheckStatus, codes: [Int] = [], signals: Signals = Signals(),
                    labels: [String] = [], attempt: Int? = nil) {
            let data: ExtractedData? = [.identityVerification, .document, .idNumber].contains(check) && status != .retryRequired
                ? extractedData : nil
            steps.append(SandboxStep(.recordResult(CheckResult(
                check: check, status: status, responseCodes: codes.map { ResponseCode(code: $0) }, signals: signals,
                extractedData: data, riskLabels: labels, providerReference: "sbx_\(check.rawValue)_\(attempt ?? 1)",
                attemptID: attempt.map(attemptID)))))
        }

        for check in checks where !check.needsCapture && check != target {
            switch check {
            case .amlScreening:
                record(check, .screeningInProgress)
                if scenario.aml == .match {
                    record(check, .reviewRequired, signals: Signals(aml: .match), labels: ["aml_match"])
                } else {
                    record(check, .approved, codes: [10000], signals: Signals(aml: .clear))
                }
            case .backgroundCheck:
                let held = scenario.background != .clear
                record(check, .checksInProgress, labels: held ? ["on_hold"] : [])
                record(check, .approved, codes: [10000], labels: scenario.background == .holdThenAlert ? ["alert"] : [])
            default:
                record(check, .approved, codes: [10000])
            }
        }
        let expire = SandboxStep(.expire, atDeadline: true)
        guard let target else {
            if [.expireBeforeCapture, .expireAfterCapture].contains(scenario.identity) { steps.append(expire) }
            return steps
        }
        guard target.needsCapture else {
            // Checks without capture take the story as results alone.
            switch scenario.identity {
            case .approve: record(target, .approved, codes: [10000], signals: approvedSignals(target))
            case let .decline(code): record(target, .declined, codes: [code], signals: failedSignals(target, code: code))
            case let .retryThenApprove(cause):
                record(target, .retryRequired, codes: [retryCode(cause)])
                record(target, .approved, codes: [10000], signals: approvedSignals(target))
            case let .retryThenDecline(cause, code):
                record(target, .retryRequired, codes: [retryCode(cause)])
                record(target, .declined, codes: [code], signals: failedSignals(target, code: code))
            case .refuse: record(target, .refused, codes: [63001])
            case .inconclusive: record(target, .inconclusive, codes: [71901])
            case .expireBeforeCapture, .expireAfterCapture: steps.append(expire)
            }
            return steps
        }

        func start(_ n: Int) {
            let id = attemptID(n)
            steps.append(SandboxStep(.startAttempt(attemptID: id, url: captureURL(id), expiresAt: attemptExpiresAt)))
        }
        func progress(_ n: Int, _ statuses: [AttemptStatus]) {
            for status in statuses { steps.append(SandboxStep(.recordProgress(attemptID: attemptID(n), status: status))) }
        }
        /// A whole pass that completes, then the results: the other capture checks approved, the deciding one last
        /// (a code against the face declines the selfie check when there is one).
        func pass(_ n: Int, target status: CheckStatus, code: Int) {
            start(n)
            progress(n, [.captureInProgress, .checksInProgress, .completed])
            if status == .retryRequired {
                for check in capture { record(check, .retryRequired, codes: [code], attempt: n) }
                return
            }
            let face = failedSignals(.selfie, code: code) != approvedSignals(.selfie)
            let deciding = status == .declined && face && capture.contains(.selfie) ? CheckType.selfie : target
            for check in capture where check != deciding {
                record(check, .approved, codes: [10000], signals: approvedSignals(check), attempt: n)
            }
            let signals = status == .approved ? approvedSignals(deciding) : failedSignals(deciding, code: code)
            record(deciding, status, codes: [code], signals: signals, attempt: n)
        }
        func firstPass(_ cause: SandboxScenario.RetryCause) {
            switch cause {
            case .captureAborted:
                start(1)
                progress(1, [.captureInProgress, .captureAborted])
            case let .retryResult(code): pass(1, target: .retryRequired, code: code)
            }
        }

        switch scenario.identity {
        case .approve: pass(1, target: .approved, code: 10000)
        case let .decline(code): pass(1, target: .declined, code: code)
        case let .retryThenApprove(cause):
            firstPass(cause)
            pass(2, target: .approved, code: 10000)
        case let .retryThenDecline(cause, code):
            firstPass(cause)
            pass(2, target: .declined, code: code)
        case .refuse:
            start(1)
            progress(1, [.captureRefused])
        case .inconclusive:
            start(1)
            progress(1, [.captureInProgress, .checksInProgress, .checksInconclusive])
        case .expireBeforeCapture:
            start(1)
            steps.append(expire)
        case .expireAfterCapture:
            start(1)
            progress(1, [.captureInProgress])
            steps.append(expire)
        }
        return steps
    }

    static func retryCode(_ cause: SandboxScenario.RetryCause) -> Int {
        switch cause {
        case .captureAborted: return 61121
        case let .retryResult(code): return code
        }
    }

    static func approvedSignals(_ check: CheckType) -> Signals {
        switch check {
        case .identityVerification: return Signals(documentAuthenticity: .pass, faceMatch: .pass, liveness: .pass)
        case .document: return Signals(documentAuthenticity: .pass)
        case .selfie: return Signals(faceMatch: .pass, liveness: .pass)
        default: return Signals()
        }
    }

    /// The signal a decline code speaks against fails; the check's other signals passed.
    static func failedSignals(_ check: CheckType, code: Int) -> Signals {
        var signals = approvedSignals(check)
        switch ResponseCode.primaryCode(code) {
        case 62304, 62321, 62405: if signals.faceMatch != nil { signals.faceMatch = .fail }
        case 62305, 62306: if signals.liveness != nil { signals.liveness = .fail }
        case 62201...62303, 62307, 62399: if signals.documentAuthenticity != nil { signals.documentAuthenticity = .fail }
        default: break
        }
        return signals
    }
}
