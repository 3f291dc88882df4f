import Foundation

/// The status mappings of SPEC §4's table, which the views (one file each in this folder: `VerificationView`,
/// `OrderView`, `ValidationView`, …) share: each a pure function of the ledger's state.
public enum Views {
    /// Seed 004's validation status.
    public static func validationStatus(_ overall: OverallStatus, captureStarted: Bool) -> String {
        switch overall {
        case .created, .pending: return "pending"
        case .captureInProgress, .checksInProgress, .screeningInProgress, .reviewRequired, .retryRequired: return "in_progress"
        case .approved: return "approved"
        case .declined, .inconclusive: return "rejected"
        case .refused, .withdrawn: return "abandoned"
        case .expired: return captureStarted ? "abandoned" : "expired"
        }
    }

    /// Seed 003's customer verification status.
    public static func customerVerificationStatus(_ overall: OverallStatus) -> String {
        switch overall {
        case .created, .pending, .captureInProgress, .checksInProgress, .screeningInProgress, .reviewRequired, .retryRequired:
            return "pending"
        case .approved: return "verified"
        case .declined, .inconclusive, .refused, .withdrawn: return "failed"
        case .expired: return "expired"
        }
    }

    /// What the order's status becomes for an overall status; `.unchanged` keeps it as it was, `.none` means
    /// no order yet.
    public enum OrderMapping: Equatable, Sendable {
        case none
        case unchanged
        case status(OrderStatus)
    }

    public static func orderMapping(_ overall: OverallStatus) -> OrderMapping {
        switch overall {
        case .created, .pending, .captureInProgress: return .none
        case .checksInProgress, .screeningInProgress: return .status(.inProgress)
        case .reviewRequired: return .status(.pending)
        case .retryRequired: return .unchanged
        case .approved, .declined: return .status(.complete)
        case .inconclusive, .refused, .withdrawn, .expired: return .status(.incomplete)
        }
    }

    public enum PackageKind: Sendable, Equatable, CaseIterable {
        case identity, screening, mixed

        public init(_ checks: [CheckType]) {
            if !checks.isEmpty && checks.allSatisfy(\.isIdentityCheck) { self = .identity }
            else if !checks.isEmpty && checks.allSatisfy({ $0 == .amlScreening }) { self = .screening }
            else { self = .mixed }
        }
    }

    /// The automatic order score of SPEC §4 (a human's score replaces it).
    public static func automaticScore(_ state: VerificationState) -> OrderScore {
        let overall = state.overallStatus
        if overall == .withdrawn || overall == .refused { return .withdrawn }
        let amlMatch = state.checks.contains { $0.signals.aml == .match }
        switch PackageKind(state.checks.map(\.type)) {
        case .identity:
            switch overall {
            case .approved: return .idVerified
            case .declined, .inconclusive: return .idNotVerified
            case .reviewRequired: return .reviewRequired
            default: return .pending
            }
        case .screening:
            if amlMatch || overall == .reviewRequired || overall == .declined { return .screeningAlert }
            return overall == .approved ? .screeningNoAlert : .screeningPending
        case .mixed:
            let backgroundAlert = state.checks.contains {
                $0.type == .backgroundCheck && ($0.status == .declined || $0.riskLabels.contains("alert"))
            }
            if overall == .declined || amlMatch || backgroundAlert { return .alertsFound }
            switch overall {
            case .approved: return .noAlerts
            case .reviewRequired: return .reviewRequired
            default:
                let onHold = state.checks.contains { $0.type == .backgroundCheck && $0.riskLabels.contains("on_hold") && !$0.status.isFinal }
                return onHold ? .onHold : .pending
            }
        }
    }

    /// The order's score: the last human score, else the automatic one.
    public static func orderScore(_ state: VerificationState) -> OrderScore {
        state.manualScore ?? automaticScore(state)
    }

    /// Null until the order is complete; then whether anything alarming was recorded.
    public static func orderAlert(_ state: VerificationState) -> OrderAlert? {
        guard state.orderStatus == .complete else { return nil }
        let alarming = state.checks.contains { check in
            check.status == .declined || check.signals.aml == .match || check.responseCodes.contains(where: \.isFraudOrSuspicious)
        }
        return alarming || orderScore(state).meansAlert ? .alertsFound : .noAlertsFound
    }
}
