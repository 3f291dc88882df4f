import Foundation

public struct CheckState: Sendable, Equatable, Codable {
    public var type: CheckType
    public var status: CheckStatus = .created
    public var responseCodes: [ResponseCode] = []
    public var signals = Signals()
    public var extractedData: ExtractedData?
    public var riskLabels: [String] = []
    public var providerReference: String?
    public var updatedAt: Date

    public init(type: CheckType, updatedAt: Date) {
        self.type = type
        self.updatedAt = updatedAt
    }
}

public struct AttemptState: Sendable, Equatable, Codable {
    public var id: String
    public var status: AttemptStatus
    public var url: String
    public var expiresAt: Date
    public var code: Int?
    public var createdAt: Date
    public var updatedAt: Date
}

public struct DisputeState: Sendable, Equatable, Codable {
    public var id: String
    public var reason: String
    public var openedAt: Date
    public var outcome: DisputeOutcome?
    public var score: OrderScore?
    public var resolution: String?
    public var resolvedAt: Date?

    public var isOpen: Bool { outcome == nil }
}

/// A provider result as it was recorded. A check keeps only its latest result; the views that show one result
/// per attempt (Stripe's verification reports) read them here.
public struct RecordedResult: Sendable, Equatable, Codable {
    public var result: CheckResult
    /// The result's own attempt; for a capture check that names none, the attempt last started when it came.
    public var attemptID: String?
    public var recordedAt: Date

    public init(result: CheckResult, attemptID: String?, recordedAt: Date) {
        self.result = result
        self.attemptID = attemptID
        self.recordedAt = recordedAt
    }
}

/// The overall status the verification moved to, when, and the reason given by whoever ended it (an admin's
/// override, a withdrawal).
public struct StatusChange: Sendable, Equatable, Codable {
    public var status: OverallStatus
    public var at: Date
    public var reason: String?

    public init(status: OverallStatus, at: Date, reason: String? = nil) {
        self.status = status
        self.at = at
        self.reason = reason
    }
}

/// How a verification ended other than by its checks.
public enum Ending: Sendable, Equatable, Codable {
    case withdrawn
    case expired
    case overridden(OverrideStatus)
}

/// A verification folded from its events. Codable for the snapshots of long streams, which keep it as their
/// own JSON (not the events' codec): a state that no longer decodes is folded from the log instead.
public struct VerificationState: Sendable, Equatable, Codable {
    public var invitation: Invitation?
    public var checks: [CheckState] = []
    public var attempts: [AttemptState] = []
    public var metadata: [String: String] = [:]
    public var ending: Ending?
    public var captureStarted = false
    /// The last score a human gave (a reviewer, or a dispute's resolution); it replaces the automatic one.
    public var manualScore: OrderScore?
    /// JSON scalars (`CustomScore`).
    public var customScores: [String: JSONValue] = [:]
    public var disputes: [DisputeState] = []
    /// Kept so that states mapping to "unchanged" keep the order where it was.
    public var orderStatus: OrderStatus?
    public var orderOpenedAt: Date?
    public var orderCompletedAt: Date?
    public var createdAt: Date?
    public var updatedAt: Date?
    /// Every result in the order recorded.
    public var results: [RecordedResult] = []
    /// Every change of the overall status, the first being the one the invite set.
    public var statusChanges: [StatusChange] = []
    /// When the approval's validity ended (`ValidityEnded`); nil while it counts, or if never approved.
    public var validityEndedAt: Date?
    /// The entity's data key was destroyed: the personal values are gone (see `personalDataRemoved`).
    public var personalDataErased = false
    /// How many events were folded into this state: the stream version it stands for.
    public var eventCount: Int64 = 0
    /// The version of the event that last decided the seed-003 status (`CustomerVerificationView.status`): the
    /// invite, the result, expiry or end of validity that moved it, or an admin's override or a withdrawal (a
    /// decision even when it confirms the status). Its actor is the customer verification's `actor_id`.
    public var statusDecisionVersion: Int64 = 0
    /// The reason of the legal hold on the entity since this stream recorded it (`LegalHoldPlaced`); nil when none.
    public var legalHold: String?

    public init() {}

    /// When the verification last became approved (it may have been overridden or expired since).
    public var approvedAt: Date? { statusChanges.last { $0.status == .approved }?.at }

    public var exists: Bool { invitation != nil }

    public func check(_ type: CheckType) -> CheckState? { checks.first { $0.type == type } }

    public var openAttempt: AttemptState? { attempts.last { $0.status.isOpen } }

    public var openDispute: DisputeState? { disputes.last { $0.isOpen } }

    /// SPEC §4: declined, then refused, then inconclusive, then review_required win; all approved is approved;
    /// otherwise the least advanced in-progress status, retry_required first since it needs the client to act.
    public var overallStatus: OverallStatus {
        switch ending {
        case .withdrawn?: return .withdrawn
        case .expired?: return .expired
        case .overridden(.approved)?: return .approved
        case .overridden(.declined)?: return .declined
        case .overridden(.expired)?: return .expired
        case nil: break
        }
        let statuses = checks.map(\.status)
        if statuses.contains(.declined) { return .declined }
        if statuses.contains(.refused) { return .refused }
        if statuses.contains(.inconclusive) { return .inconclusive }
        if statuses.contains(.reviewRequired) { return .reviewRequired }
        if !statuses.isEmpty && statuses.allSatisfy({ $0 == .approved }) { return .approved }
        let progress: [(CheckStatus, OverallStatus)] = [
            (.retryRequired, .retryRequired), (.created, .created), (.pending, .pending),
            (.captureInProgress, .captureInProgress), (.checksInProgress, .checksInProgress),
            (.screeningInProgress, .screeningInProgress),
        ]
        return progress.first { statuses.contains($0.0) }?.1 ?? .created
    }

    /// Whether the applicant's flow is over: nothing but order commands may follow.
    public var isTerminal: Bool { overallStatus.isEnded }
}
