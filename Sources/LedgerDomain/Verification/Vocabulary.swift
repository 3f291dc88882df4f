import Foundation

/// The kinds of check a verification can include (SPEC §4).
public enum CheckType: String, Sendable, CaseIterable, Codable {
    case identityVerification = "identity_verification"
    case document
    case selfie
    case idNumber = "id_number"
    case email
    case phone
    case amlScreening = "aml_screening"
    case backgroundCheck = "background_check"

    /// Checks the applicant performs in the capture flow; the others take results without an attempt.
    public var needsCapture: Bool {
        switch self {
        case .identityVerification, .document, .selfie: return true
        case .idNumber, .email, .phone, .amlScreening, .backgroundCheck: return false
        }
    }

    /// Checks that verify an identity, for the automatic order score.
    public var isIdentityCheck: Bool {
        switch self {
        case .identityVerification, .document, .selfie, .idNumber: return true
        default: return false
        }
    }
}

/// Check statuses of `shared/reference/check-codes.md`.
public enum CheckStatus: String, Sendable, CaseIterable, Codable {
    case created
    case pending
    case captureInProgress = "capture_in_progress"
    case checksInProgress = "checks_in_progress"
    case screeningInProgress = "screening_in_progress"
    case reviewRequired = "review_required"
    case approved
    case declined
    case retryRequired = "retry_required"
    case inconclusive
    case refused

    /// No later result changes a check in one of these.
    public var isFinal: Bool {
        switch self {
        case .approved, .declined, .inconclusive, .refused: return true
        default: return false
        }
    }

    /// The statuses a provider result may report.
    public static let resultStatuses: [CheckStatus] = [
        .checksInProgress, .screeningInProgress, .reviewRequired, .approved, .declined, .retryRequired, .inconclusive, .refused,
    ]

    public var recommendedAction: String {
        switch self {
        case .created: return "start_attempt"
        case .pending: return "redirect_applicant"
        case .captureInProgress, .checksInProgress, .screeningInProgress: return "wait"
        case .reviewRequired: return "investigate"
        case .approved: return "accept"
        case .declined: return "refuse_or_create_new_check"
        case .retryRequired: return "start_new_attempt"
        case .inconclusive: return "none"
        case .refused: return "offer_alternative"
        }
    }
}

/// Attempt statuses of `shared/reference/check-codes.md`.
public enum AttemptStatus: String, Sendable, CaseIterable, Codable {
    case pendingRedirection = "pending_redirection"
    case expired
    case captureInProgress = "capture_in_progress"
    case checksInProgress = "checks_in_progress"
    case completed
    case checksInconclusive = "checks_inconclusive"
    case captureAborted = "capture_aborted"
    case captureRefused = "capture_refused"
    case terminated

    /// The moves an applicant's progress may make (a newer attempt terminates any open one separately).
    public var allowedNext: Set<AttemptStatus> {
        switch self {
        case .pendingRedirection: return [.captureInProgress, .expired, .captureRefused]
        case .captureInProgress: return [.checksInProgress, .completed, .captureAborted, .captureRefused, .expired]
        case .checksInProgress: return [.completed, .checksInconclusive]
        case .expired, .completed, .checksInconclusive, .captureAborted, .captureRefused, .terminated: return []
        }
    }

    public var isOpen: Bool { !allowedNext.isEmpty }
}

/// The verification's overall status: its checks combined (SPEC §4), or what ended it.
public enum OverallStatus: String, Sendable, CaseIterable, Codable {
    case created, pending
    case captureInProgress = "capture_in_progress"
    case checksInProgress = "checks_in_progress"
    case screeningInProgress = "screening_in_progress"
    case reviewRequired = "review_required"
    case retryRequired = "retry_required"
    case approved, declined, inconclusive, refused, withdrawn, expired

    public var isEnded: Bool {
        switch self {
        case .approved, .declined, .inconclusive, .refused, .withdrawn, .expired: return true
        default: return false
        }
    }
}

public enum EntityType: String, Sendable, CaseIterable, Codable {
    case person, business
}

public enum VerificationType: String, Sendable, CaseIterable, Codable {
    case kyc, kyb, age
}

/// Seed 000's order statuses.
public enum OrderStatus: String, Sendable, CaseIterable, Codable {
    case pending = "PENDING"
    case inProgress = "IN_PROGRESS"
    case inDispute = "IN_DISPUTE"
    case incomplete = "INCOMPLETE"
    case complete = "COMPLETE"
}

/// Seed 000's fifteen order scores.
public enum OrderScore: String, Sendable, CaseIterable, Codable {
    case idVerified = "ID_VERIFIED"
    case idNotVerified = "ID_NOT_VERIFIED"
    case noAlerts = "NO_ALERTS"
    case alertsFound = "ALERTS_FOUND"
    case pending = "PENDING"
    case reviewRequired = "REVIEW_REQUIRED"
    case clientReview = "CLIENT_REVIEW"
    case reviewPass = "REVIEW_PASS"
    case screeningAlert = "SCREENING_ALERT"
    case screeningNoAlert = "SCREENING_NO_ALERT"
    case screeningPending = "SCREENING_PENDING"
    case onHold = "ON_HOLD"
    case preAdverse = "PRE_ADVERSE"
    case adverseAction = "ADVERSE_ACTION"
    case withdrawn = "WITHDRAWN"

    /// Scores that by themselves mean an alert once the order is complete.
    public var meansAlert: Bool {
        switch self {
        case .idNotVerified, .alertsFound, .screeningAlert, .preAdverse, .adverseAction: return true
        default: return false
        }
    }
}

public enum OrderAlert: String, Sendable, CaseIterable, Codable {
    case alertsFound = "ALERTS_FOUND"
    case noAlertsFound = "NO_ALERTS_FOUND"
}

public enum DisputeOutcome: String, Sendable, CaseIterable, Codable {
    case upheld, overturned
}

/// The statuses an admin may force.
public enum OverrideStatus: String, Sendable, CaseIterable, Codable {
    case approved, declined, expired
}

public enum SignalOutcome: String, Sendable, CaseIterable, Codable {
    case pass, fail, pending
}

public enum AMLOutcome: String, Sendable, CaseIterable, Codable {
    case clear, match, pending
}

/// Per-signal outcomes of a result.
public struct Signals: Sendable, Equatable, Codable {
    public var documentAuthenticity: SignalOutcome?
    public var faceMatch: SignalOutcome?
    public var liveness: SignalOutcome?
    public var aml: AMLOutcome?

    public init(documentAuthenticity: SignalOutcome? = nil, faceMatch: SignalOutcome? = nil, liveness: SignalOutcome? = nil,
                aml: AMLOutcome? = nil) {
        self.documentAuthenticity = documentAuthenticity
        self.faceMatch = faceMatch
        self.liveness = liveness
        self.aml = aml
    }

    enum CodingKeys: String, CodingKey {
        case documentAuthenticity = "document_authenticity", faceMatch = "face_match", liveness, aml
    }
}

/// A response code with its summary: from the reference table, as given for codes it does not know.
public struct ResponseCode: Sendable, Equatable, Codable {
    public var code: Int
    public var summary: String?

    public init(code: Int, summary: String? = nil) {
        self.code = code
        self.summary = summary ?? ResponseCode.knownSummary(code)
    }

    private static let summaries: [Int: String] = Dictionary(reference.map { ($0.code, $0.summary) }, uniquingKeysWith: { a, _ in a })

    /// The reference's summary; secondary-document variants read like their primary counterparts.
    public static func knownSummary(_ code: Int) -> String? {
        if let summary = summaries[code] { return summary }
        let primary = primaryCode(code)
        return primary == code ? nil : summaries[primary].map { "secondary_" + $0 }
    }

    /// The primary-document code a secondary-document variant stands for (the reference: treat them alike);
    /// any other code is its own.
    public static func primaryCode(_ code: Int) -> Int {
        switch code {
        case 61321...61333, 62121...62124, 62221...62222: return code - 20
        case 62331...62334: return code - 30
        default: return code
        }
    }

    /// Fraud (623xx) and suspicious-behaviour (624xx) codes raise an order alert.
    public var isFraudOrSuspicious: Bool { (62300...62499).contains(code) }
}
