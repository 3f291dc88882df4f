import Foundation

/// Seed 004: a verification seen as a validation, in the source's camelCase, and an entity's KYC status over all
/// of its validations.
public enum ValidationView {
    /// The SPEC §4 table (`Views.validationStatus`), and one row it has no column for: an approval that has since
    /// expired (its validity ended, or an admin expired it) is `expired`, not `abandoned`: the applicant finished.
    public static func status(_ state: VerificationState) -> String {
        let overall = state.overallStatus
        if overall == .expired && state.approvedAt != nil { return "expired" }
        if overall == .approved && state.validityEndedAt != nil { return "expired" }
        return Views.validationStatus(overall, captureStarted: state.captureStarted)
    }

    public static func object(id: String, state: VerificationState, policy: ValidityPolicy = .standard) -> JSONValue {
        guard let invitation = state.invitation else { return .null }
        let status = status(state)
        let approved = status == "approved" || status == "expired" ? state.approvedAt : nil
        return .object([
            ("id", .string(id)),
            ("entityId", .string(invitation.entityID)),
            ("entityType", .string(invitation.entityType.rawValue)),
            ("verificationType", .string(invitation.verificationType.rawValue)),
            ("clientReferenceId", ViewJSON.text(invitation.clientReferenceID)),
            ("provider", .string(invitation.provider)),
            ("status", .string(status)),
            ("decision", status == "approved" || status == "rejected" ? decision(state) : .null),
            ("livemode", .bool(invitation.livemode)),
            ("createdAt", ViewJSON.time(state.createdAt)),
            ("updatedAt", ViewJSON.time(state.updatedAt)),
            ("verifiedAt", ViewJSON.time(approved)),
            ("expiresAt", ViewJSON.time(approved == nil ? invitation.expiresAt : policy.validUntil(state))),
        ])
    }

    /// The checks' results combined per signal, the codes behind them and what was extracted.
    static func decision(_ state: VerificationState) -> JSONValue {
        .object([
            ("documentAuthenticity", ViewJSON.text(signal(state, covering: [.identityVerification, .document], \.documentAuthenticity))),
            ("faceMatch", ViewJSON.text(signal(state, covering: [.identityVerification, .selfie], \.faceMatch))),
            ("liveness", ViewJSON.text(signal(state, covering: [.identityVerification, .selfie], \.liveness))),
            ("aml", ViewJSON.text(aml(state))),
            ("responseCodes", ViewJSON.codes(state.checks.flatMap(\.responseCodes))),
            ("extractedData", extractedData(state)),
        ])
    }

    /// Pass, fail or pending over the checks that cover the signal: any fail fails, all passed passes; an approved
    /// check that reported nothing for it passed it. Null when no check of the verification covers it.
    public static func signal(_ state: VerificationState, covering types: Set<CheckType>,
                              _ read: KeyPath<Signals, SignalOutcome?>) -> String? {
        let checks = state.checks.filter { types.contains($0.type) }
        guard !checks.isEmpty else { return nil }
        let outcomes = checks.map { $0.signals[keyPath: read] ?? ($0.status == .approved ? .pass : .pending) }
        if outcomes.contains(.fail) { return SignalOutcome.fail.rawValue }
        return (outcomes.allSatisfy { $0 == .pass } ? SignalOutcome.pass : .pending).rawValue
    }

    /// Clear, match or pending over the AML screening; an approved screening that reported nothing was clear.
    public static func aml(_ state: VerificationState) -> String? {
        guard let check = state.check(.amlScreening) else { return nil }
        return (check.signals.aml ?? (check.status == .approved ? .clear : .pending)).rawValue
    }

    /// Each field from the first check that extracted it (identity checks first, as the checks are listed).
    static func extractedData(_ state: VerificationState) -> JSONValue {
        let all = state.checks.compactMap(\.extractedData)
        guard !all.isEmpty else { return .null }
        func first<T>(_ read: (ExtractedData) -> T?) -> T? { all.lazy.compactMap(read).first }
        let document: JSONValue
        if all.contains(where: { $0.document != nil }) {
            document = .object([
                ("type", ViewJSON.text(first { $0.document?.type })),
                ("number", ViewJSON.text(first { $0.document?.number })),
                ("issuingCountry", ViewJSON.text(first { $0.document?.issuingCountry })),
                ("issueDate", ViewJSON.text(first { $0.document?.issueDate })),
                ("expiryDate", ViewJSON.text(first { $0.document?.expiryDate })),
            ])
        } else {
            document = .null
        }
        return .object([
            ("firstName", ViewJSON.text(first(\.firstName))),
            ("lastName", ViewJSON.text(first(\.lastName))),
            ("dateOfBirth", ViewJSON.text(first(\.dateOfBirth))),
            ("address", ViewJSON.text(first(\.address))),
            ("document", document),
        ])
    }
}

/// An entity's KYC status at a moment, from all of its validations.
public struct KYCStatus: Sendable, Equatable {
    public var verified: Bool
    /// The current validation's status at that moment (`approved`, `expired` once its validity ended, …), or
    /// `not_started` when the entity has no validation that counts.
    public var status: String
    public var verifiedAt: Date?
    public var expiresAt: Date?
    public var needsReverification: Bool
    public var currentValidationID: String?

    public init(verified: Bool, status: String, verifiedAt: Date?, expiresAt: Date?, needsReverification: Bool,
                currentValidationID: String?) {
        self.verified = verified
        self.status = status
        self.verifiedAt = verifiedAt
        self.expiresAt = expiresAt
        self.needsReverification = needsReverification
        self.currentValidationID = currentValidationID
    }

    public var object: JSONValue {
        .object([
            ("verified", .bool(verified)),
            ("status", .string(status)),
            ("verifiedAt", ViewJSON.time(verifiedAt)),
            ("expiresAt", ViewJSON.time(expiresAt)),
            ("needsReverification", .bool(needsReverification)),
            ("currentValidationId", ViewJSON.text(currentValidationID)),
        ])
    }

    /// - verified: some validation is approved and still valid at `now`, and none created after it was rejected.
    /// - current: that validation while verified; otherwise the newest that is neither abandoned nor a session that
    ///   expired unused (pending, in progress, rejected, or an approval whose validity ended).
    /// - verifiedAt / expiresAt: the newest approval's, even once it has lapsed.
    /// - needsReverification: that approval has lapsed, or ends within the policy's window.
    public static func of(_ validations: [(id: String, state: VerificationState)], at now: Date,
                          policy: ValidityPolicy = .standard) -> KYCStatus {
        of(validations: validations.compactMap { KYCValidation(id: $0.id, state: $0.state) }, at: now, policy: policy)
    }

    /// The same from what the validations projection keeps of each validation.
    public static func of(validations: [KYCValidation], at now: Date, policy: ValidityPolicy = .standard) -> KYCStatus {
        let newestFirst = validations.sorted { ($0.createdAt, $0.id) > ($1.createdAt, $1.id) }
        let statuses = newestFirst.map { (validation: $0, status: $0.status(at: now, policy: policy)) }
        let approved = statuses.firstIndex { $0.status == "approved" }
        let rejectedSince = approved.map { index in statuses[..<index].contains { $0.status == "rejected" } } ?? false
        let verified = approved != nil && !rejectedSince
        let lastApproval = statuses.first { $0.validation.approvedAt != nil && ($0.status == "approved" || $0.status == "expired") }
        let expiresAt = lastApproval.flatMap { $0.validation.validUntil(policy) }
        let current = verified ? approved.map { statuses[$0] } : statuses.first {
            $0.status != "abandoned" && !($0.status == "expired" && $0.validation.approvedAt == nil)
        }
        return KYCStatus(verified: verified, status: current?.status ?? "not_started", verifiedAt: lastApproval?.validation.approvedAt,
                         expiresAt: expiresAt,
                         needsReverification: expiresAt.map { now >= $0.addingTimeInterval(-policy.reverificationWindow) } ?? false,
                         currentValidationID: current?.validation.id)
    }
}

/// What an entity's KYC status needs of one of its validations, whatever the moment and the policy: the
/// validations projection keeps it in columns, so the status is computed from rows and the clock.
public struct KYCValidation: Sendable, Equatable {
    public var id: String
    public var createdAt: Date
    /// `ValidationView.status` of the state, before the moment is applied.
    public var status: String
    public var approvedAt: Date?
    /// The invite's own validity in seconds; nil for the policy's.
    public var validFor: Int64?
    /// `ValidityPolicy.approvalCutShort`.
    public var approvalCutShortAt: Date?

    public init(id: String, createdAt: Date, status: String, approvedAt: Date?, validFor: Int64?, approvalCutShortAt: Date?) {
        self.id = id
        self.createdAt = createdAt
        self.status = status
        self.approvedAt = approvedAt
        self.validFor = validFor
        self.approvalCutShortAt = approvalCutShortAt
    }

    /// Nil for a stream that is no validation (it has no invite).
    public init?(id: String, state: VerificationState) {
        guard let invitation = state.invitation else { return nil }
        self.init(id: id, createdAt: state.createdAt ?? .distantPast, status: ValidationView.status(state), approvedAt: state.approvedAt,
                  validFor: invitation.validFor, approvalCutShortAt: ValidityPolicy.approvalCutShort(state))
    }

    public func validUntil(_ policy: ValidityPolicy) -> Date? {
        policy.validUntil(approvedAt: approvedAt, validFor: validFor, cutShortAt: approvalCutShortAt)
    }

    /// The status at `now`: an approval past its validity reads `expired` before the scheduler has written so.
    public func status(at now: Date, policy: ValidityPolicy) -> String {
        if status == "approved", let end = validUntil(policy), now >= end { return "expired" }
        return status
    }
}
