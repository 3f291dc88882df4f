import Foundation

/// The webhook event types: seed 000's order events and the ledger's own status changes.
public enum WebhookEventType: String, Sendable, CaseIterable {
    case verificationStatusChange = "VERIFICATION_STATUS_CHANGE"
    case checkStatusChange = "CHECK_STATUS_CHANGE"
    case attemptStatusChange = "ATTEMPT_STATUS_CHANGE"
    /// Seed 004's validation status (`ValidationView.status`), which also moves when an approval's validity ends.
    case validationStatusChange = "VALIDATION_STATUS_CHANGE"
    case orderStatusChange = "ORDER_STATUS_CHANGE"
    case orderScoreChange = "ORDER_SCORE_CHANGE"
    case orderCustomScoreChange = "ORDER_CUSTOM_SCORE_CHANGE"
    case orderDisputeResolved = "ORDER_DISPUTE_RESOLVED"
    /// A new signed checkpoint of the whole log, for customers who keep checkpoints themselves. Sent only to
    /// endpoints that name it (not to `*`): it is about the log, not about a verification.
    case ledgerCheckpoint = "LEDGER_CHECKPOINT"

    /// What a verification's own postbacks may name (`postback_events`): everything about a verification or its
    /// order, not the log's checkpoints, which only webhook endpoints receive.
    public static let verificationEvents = allCases.filter { $0 != .ledgerCheckpoint }

    /// Order events carry the order; the others the verification.
    public var isOrderEvent: Bool { rawValue.hasPrefix("ORDER_") }

    /// What the payload's `data.object` is: the order for order events, the validation for validation events (the
    /// vocabulary that moved), the verification for the others.
    public var object: WebhookObject {
        if isOrderEvent { return .order }
        return self == .validationStatusChange ? .validation : .verification
    }
}

/// A view a webhook carries; the raw value is the kind its sealed document is bound to.
public enum WebhookObject: String, Sendable, CaseIterable {
    case verification, order
    /// Seed 004's validation, in camelCase, as `GET /v1/validations/{id}` shows it.
    case validation
}

/// One thing a webhook receiver is told about: its type and the old values of what changed.
public struct WebhookChange: Sendable, Equatable {
    public var type: WebhookEventType
    public var previous: JSONValue

    public init(type: WebhookEventType, previous: JSONValue) {
        self.type = type
        self.previous = previous
    }
}

public enum WebhookChanges {
    /// What changed between two states of a verification, in a stable order: the verification, its validation,
    /// its checks, its attempts, then the order's status, score, custom scores and resolved disputes.
    public static func between(_ before: VerificationState, _ after: VerificationState) -> [WebhookChange] {
        var changes: [WebhookChange] = []
        let previousStatus: JSONValue = before.exists ? .string(before.overallStatus.rawValue) : .null
        if !before.exists || before.overallStatus != after.overallStatus {
            changes.append(WebhookChange(type: .verificationStatusChange, previous: ["status": previousStatus]))
        }
        let previousValidation = before.exists ? ValidationView.status(before) : nil
        if previousValidation != ValidationView.status(after) {
            changes.append(WebhookChange(type: .validationStatusChange, previous: ["status": previousValidation.map(JSONValue.string) ?? .null]))
        }
        for check in after.checks {
            let old = before.check(check.type)
            if old?.status != check.status {
                changes.append(WebhookChange(type: .checkStatusChange, previous: [
                    "check": .string(check.type.rawValue), "status": old.map { .string($0.status.rawValue) } ?? .null,
                ]))
            }
        }
        for attempt in after.attempts {
            let old = before.attempts.first { $0.id == attempt.id }
            if old?.status != attempt.status {
                changes.append(WebhookChange(type: .attemptStatusChange, previous: [
                    "attempt_id": .string(attempt.id), "status": old.map { .string($0.status.rawValue) } ?? .null,
                ]))
            }
        }
        guard after.orderStatus != nil else { return changes }
        if before.orderStatus != after.orderStatus {
            changes.append(WebhookChange(type: .orderStatusChange, previous: ["status": before.orderStatus.map { .string($0.rawValue) } ?? .null]))
        }
        let previousScore = before.orderStatus == nil ? nil : Views.orderScore(before)
        if previousScore != Views.orderScore(after) {
            changes.append(WebhookChange(type: .orderScoreChange, previous: ["score": previousScore.map { .string($0.rawValue) } ?? .null]))
        }
        for name in after.customScores.keys.sorted() where before.customScores[name] != after.customScores[name] {
            changes.append(WebhookChange(type: .orderCustomScoreChange, previous: [
                "custom_scores": .object([(name, before.customScores[name] ?? .null)]),
            ]))
        }
        for dispute in after.disputes where !dispute.isOpen && before.disputes.first(where: { $0.id == dispute.id })?.isOpen == true {
            changes.append(WebhookChange(type: .orderDisputeResolved, previous: ["dispute_id": .string(dispute.id), "status": "open"]))
        }
        return changes
    }
}
