import Foundation

/// The applicant as the invite names them. Personal data: never logged.
public struct Applicant: Sendable, Equatable, Codable {
    public var firstName: String?
    public var lastName: String?
    public var email: String?
    public var address: String?

    public init(firstName: String? = nil, lastName: String? = nil, email: String? = nil, address: String? = nil) {
        self.firstName = firstName
        self.lastName = lastName
        self.email = email
        self.address = address
    }

    enum CodingKeys: String, CodingKey { case firstName = "first_name", lastName = "last_name", email, address }
}

/// What a provider extracted from the documents. Personal data: never logged.
public struct ExtractedData: Sendable, Equatable, Codable {
    public struct Document: Sendable, Equatable, Codable {
        public var type: String?
        public var number: String?
        public var issuingCountry: String?
        public var issueDate: String?
        public var expiryDate: String?

        public init(type: String? = nil, number: String? = nil, issuingCountry: String? = nil, issueDate: String? = nil,
                    expiryDate: String? = nil) {
            self.type = type
            self.number = number
            self.issuingCountry = issuingCountry
            self.issueDate = issueDate
            self.expiryDate = expiryDate
        }

        enum CodingKeys: String, CodingKey {
            case type, number, issuingCountry = "issuing_country", issueDate = "issue_date", expiryDate = "expiry_date"
        }
    }

    public var firstName: String?
    public var lastName: String?
    public var dateOfBirth: String?
    public var address: String?
    public var document: Document?

    public init(firstName: String? = nil, lastName: String? = nil, dateOfBirth: String? = nil, address: String? = nil,
                document: Document? = nil) {
        self.firstName = firstName
        self.lastName = lastName
        self.dateOfBirth = dateOfBirth
        self.address = address
        self.document = document
    }

    enum CodingKeys: String, CodingKey {
        case firstName = "first_name", lastName = "last_name", dateOfBirth = "date_of_birth", address, document
    }
}

/// The invite that creates a verification.
public struct Invitation: Sendable, Equatable, Codable {
    public var entityID: String
    public var entityType: EntityType
    public var verificationType: VerificationType
    public var clientReferenceID: String?
    public var packageID: String?
    public var checks: [CheckType]
    public var provider: String
    public var applicant: Applicant
    public var metadata: [String: String]
    public var postbackURL: String?
    public var postbackEvents: [String]
    public var expiresAt: Date
    public var livemode: Bool
    /// Seconds an approval counts, recorded with the invite so that the log alone says when it ends (the
    /// service's configured default at the time); nil in invites written before it was recorded: a year.
    public var validFor: Int64?

    public init(entityID: String, entityType: EntityType = .person, verificationType: VerificationType = .kyc,
                clientReferenceID: String? = nil, packageID: String? = nil, checks: [CheckType], provider: String = "sandbox",
                applicant: Applicant = Applicant(), metadata: [String: String] = [:], postbackURL: String? = nil,
                postbackEvents: [String] = [], expiresAt: Date, livemode: Bool = false, validFor: Int64? = nil) {
        self.entityID = entityID
        self.entityType = entityType
        self.verificationType = verificationType
        self.clientReferenceID = clientReferenceID
        self.packageID = packageID
        self.checks = checks
        self.provider = provider
        self.applicant = applicant
        self.metadata = metadata
        self.postbackURL = postbackURL
        self.postbackEvents = postbackEvents
        self.expiresAt = expiresAt
        self.livemode = livemode
        self.validFor = validFor
    }

    enum CodingKeys: String, CodingKey {
        case entityID = "entity_id", entityType = "entity_type", verificationType = "verification_type"
        case clientReferenceID = "client_reference_id", packageID = "package_id", checks, provider, applicant, metadata
        case postbackURL = "postback_url", postbackEvents = "postback_events", expiresAt = "expires_at", livemode
        case validFor = "valid_for"
    }
}

/// A provider's result for one check.
public struct CheckResult: Sendable, Equatable, Codable {
    public var check: CheckType
    public var status: CheckStatus
    public var responseCodes: [ResponseCode]
    public var signals: Signals
    public var extractedData: ExtractedData?
    public var riskLabels: [String]
    public var providerReference: String?
    public var raw: JSONValue?
    public var attemptID: String?

    public init(check: CheckType, status: CheckStatus, responseCodes: [ResponseCode] = [], signals: Signals = Signals(),
                extractedData: ExtractedData? = nil, riskLabels: [String] = [], providerReference: String? = nil,
                raw: JSONValue? = nil, attemptID: String? = nil) {
        self.check = check
        self.status = status
        self.responseCodes = responseCodes
        self.signals = signals
        self.extractedData = extractedData
        self.riskLabels = riskLabels
        self.providerReference = providerReference
        self.raw = raw
        self.attemptID = attemptID
    }

    enum CodingKeys: String, CodingKey {
        case check, status, responseCodes = "response_codes", signals, extractedData = "extracted_data"
        case riskLabels = "risk_labels", providerReference = "provider_reference", raw, attemptID = "attempt_id"
    }
}

/// What happened to a verification. Stored as the event's type and JSON data; the time is the event's own.
public enum VerificationEvent: Sendable, Equatable {
    case invited(Invitation)
    case attemptStarted(attemptID: String, url: String, expiresAt: Date)
    /// `code` is 64001 when a newer attempt closed this one.
    case attemptStatusChanged(attemptID: String, from: AttemptStatus, to: AttemptStatus, code: Int?)
    case resultRecorded(CheckResult)
    case scoreAssigned(score: OrderScore, reason: String)
    /// `value` is a JSON scalar (`CustomScore`); `ruleset` names the rule that computed it, nil when set by hand.
    case customScoreSet(name: String, value: JSONValue, reason: String?, ruleset: RulesetReference? = nil)
    case disputeOpened(disputeID: String, reason: String)
    case disputeResolved(disputeID: String, outcome: DisputeOutcome, score: OrderScore?, reason: String)
    case statusOverridden(status: OverrideStatus, reason: String)
    case withdrawn(reason: String?)
    /// A nil value removes the key.
    case metadataUpdated(changes: [String: String?])
    case expired
    /// The approval's validity ended: the entity must verify again. The overall status (and the order) stay as they were.
    case validityEnded
    /// The entity's data key was destroyed: every personal value of the stream reads as null from now on.
    case personalDataErased(reason: String, overrideRetention: Bool)
    /// A legal hold on the entity: its personal data may not be erased until the hold is lifted (who placed it is the
    /// event's actor).
    case legalHoldPlaced(reason: String)
    case legalHoldLifted(reason: String)

    /// A hold placed or lifted: recorded with the verification, but no change of it.
    public var isLegalHoldChange: Bool {
        switch self {
        case .legalHoldPlaced, .legalHoldLifted: return true
        default: return false
        }
    }

    public var type: String {
        switch self {
        case .invited: return "VerificationInvited"
        case .attemptStarted: return "AttemptStarted"
        case .attemptStatusChanged: return "AttemptStatusChanged"
        case .resultRecorded: return "CheckResultRecorded"
        case .scoreAssigned: return "OrderScoreAssigned"
        case .customScoreSet: return "CustomScoreSet"
        case .disputeOpened: return "DisputeOpened"
        case .disputeResolved: return "DisputeResolved"
        case .statusOverridden: return "StatusOverridden"
        case .withdrawn: return "VerificationWithdrawn"
        case .metadataUpdated: return "MetadataUpdated"
        case .expired: return "VerificationExpired"
        case .validityEnded: return "ValidityEnded"
        case .personalDataErased: return "PersonalDataErased"
        case .legalHoldPlaced: return "LegalHoldPlaced"
        case .legalHoldLifted: return "LegalHoldLifted"
        }
    }
}
