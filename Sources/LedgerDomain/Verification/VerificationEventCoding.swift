import Foundation

/// Event data as JSON, and back: what the log stores is exactly what `evolve` reads.
extension VerificationEvent {
    public struct UnreadableEvent: Error, Equatable {
        public let type: String
        public let reason: String
    }

    public var data: JSONValue {
        switch self {
        case let .invited(invitation): return invitation.json
        case let .attemptStarted(id, url, expiresAt):
            return ["attempt_id": .string(id), "url": .string(url), "expires_at": .string(Timestamp.rfc3339(expiresAt))]
        case let .attemptStatusChanged(id, from, to, code):
            return ["attempt_id": .string(id), "from": .string(from.rawValue), "to": .string(to.rawValue),
                    "code": code.map { .int(Int64($0)) } ?? .null]
        case let .resultRecorded(result): return result.json
        case let .scoreAssigned(score, reason): return ["score": .string(score.rawValue), "reason": .string(reason)]
        case let .customScoreSet(name, value, reason, ruleset):
            var members: [(String, JSONValue)] = [("name", .string(name)), ("value", value), ("reason", reason.map(JSONValue.string) ?? .null)]
            if let ruleset { members.append(("ruleset", ruleset.json)) }
            return .object(members)
        case let .disputeOpened(id, reason): return ["dispute_id": .string(id), "reason": .string(reason)]
        case let .disputeResolved(id, outcome, score, reason):
            return ["dispute_id": .string(id), "outcome": .string(outcome.rawValue),
                    "score": score.map { .string($0.rawValue) } ?? .null, "reason": .string(reason)]
        case let .statusOverridden(status, reason): return ["status": .string(status.rawValue), "reason": .string(reason)]
        case let .withdrawn(reason): return ["reason": reason.map(JSONValue.string) ?? .null]
        case let .metadataUpdated(changes):
            return ["changes": .object(changes.sorted { $0.key < $1.key }.map { ($0.key, $0.value.map(JSONValue.string) ?? .null) })]
        case .expired, .validityEnded: return .object([])
        case let .personalDataErased(reason, overrideRetention):
            return ["reason": .string(reason), "override_retention": .bool(overrideRetention)]
        case let .legalHoldPlaced(reason), let .legalHoldLifted(reason):
            return ["reason": .string(reason)]
        }
    }

    /// The shape `data` is written in now; stored with the event, so that a reader knows which shape it holds.
    public var schemaVersion: Int { VerificationUpcasters.currentVersion(of: type) }

    /// An event as the log stores it, written in any shape this build has known: upcast to the current
    /// shape, then read. The log itself is never rewritten.
    public init(type: String, schemaVersion: Int, data: JSONValue) throws(UnreadableEvent) {
        try self.init(type: type, data: try VerificationUpcasters.upcast(type: type, from: schemaVersion, data))
    }

    /// An event in the current shape of its type.
    public init(type: String, data: JSONValue) throws(UnreadableEvent) {
        func fail(_ reason: String) -> UnreadableEvent { UnreadableEvent(type: type, reason: reason) }
        func string(_ key: String) throws(UnreadableEvent) -> String {
            guard let value = data[key]?.stringValue else { throw fail("\(key) missing") }
            return value
        }
        func choice<T: RawRepresentable>(_ key: String, _: T.Type) throws(UnreadableEvent) -> T where T.RawValue == String {
            guard let value = T(rawValue: try string(key)) else { throw fail("\(key) unknown") }
            return value
        }
        switch type {
        case "VerificationInvited":
            guard let invitation = Coding.decode(Invitation.self, data) else { throw fail("invitation") }
            self = .invited(invitation)
        case "AttemptStarted":
            guard let expires = Timestamp.parse(try string("expires_at")) else { throw fail("expires_at") }
            self = .attemptStarted(attemptID: try string("attempt_id"), url: try string("url"), expiresAt: expires)
        case "AttemptStatusChanged":
            self = .attemptStatusChanged(attemptID: try string("attempt_id"), from: try choice("from", AttemptStatus.self),
                                         to: try choice("to", AttemptStatus.self), code: data["code"]?.intValue.map(Int.init))
        case "CheckResultRecorded":
            guard let result = Coding.decode(CheckResult.self, data) else { throw fail("result") }
            self = .resultRecorded(result)
        case "OrderScoreAssigned":
            self = .scoreAssigned(score: try choice("score", OrderScore.self), reason: try string("reason"))
        case "CustomScoreSet":
            // Values written before scores took any scalar are strings, which read as they are.
            guard let value = data["value"], CustomScore.problem(withValue: value) == nil else { throw fail("value") }
            let ruleset = try data["ruleset"].map { (json) throws(UnreadableEvent) -> RulesetReference in
                guard let reference = RulesetReference(json: json) else { throw fail("ruleset") }
                return reference
            }
            self = .customScoreSet(name: try string("name"), value: value, reason: data["reason"]?.stringValue, ruleset: ruleset)
        case "DisputeOpened":
            self = .disputeOpened(disputeID: try string("dispute_id"), reason: try string("reason"))
        case "DisputeResolved":
            let score = data["score"]?.stringValue.flatMap(OrderScore.init(rawValue:))
            self = .disputeResolved(disputeID: try string("dispute_id"), outcome: try choice("outcome", DisputeOutcome.self),
                                    score: score, reason: try string("reason"))
        case "StatusOverridden":
            self = .statusOverridden(status: try choice("status", OverrideStatus.self), reason: try string("reason"))
        case "VerificationWithdrawn":
            self = .withdrawn(reason: data["reason"]?.stringValue)
        case "MetadataUpdated":
            guard let members = data["changes"]?.objectValue else { throw fail("changes") }
            self = .metadataUpdated(changes: Dictionary(members.map { ($0.0, $0.1.stringValue) }, uniquingKeysWith: { $1 }))
        case "VerificationExpired":
            self = .expired
        case "ValidityEnded":
            self = .validityEnded
        case "PersonalDataErased":
            self = .personalDataErased(reason: try string("reason"), overrideRetention: data["override_retention"]?.boolValue ?? false)
        case "LegalHoldPlaced":
            self = .legalHoldPlaced(reason: try string("reason"))
        case "LegalHoldLifted":
            self = .legalHoldLifted(reason: try string("reason"))
        default:
            throw fail("unknown event type")
        }
    }
}

/// Event data is written by hand rather than through JSONEncoder, which costs more than the rest of a command's
/// work in the service; it is read back through the types' Codable conformances, and a test checks the two agree.
/// Absent optionals are left out, as the synthesized coding does.
private func object(_ members: [(String, JSONValue?)]) -> JSONValue {
    .object(members.compactMap { name, value in value.map { (name, $0) } })
}

private func text(_ value: String?) -> JSONValue? { value.map(JSONValue.string) }

extension Invitation {
    var json: JSONValue {
        object([
            ("entity_id", .string(entityID)), ("entity_type", .string(entityType.rawValue)),
            ("verification_type", .string(verificationType.rawValue)), ("client_reference_id", text(clientReferenceID)),
            ("package_id", text(packageID)), ("checks", .array(checks.map { .string($0.rawValue) })), ("provider", .string(provider)),
            ("applicant", object([("first_name", text(applicant.firstName)), ("last_name", text(applicant.lastName)),
                                  ("email", text(applicant.email)), ("address", text(applicant.address))])),
            ("metadata", .object(metadata.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
            ("postback_url", text(postbackURL)), ("postback_events", .array(postbackEvents.map(JSONValue.string))),
            ("expires_at", .string(Timestamp.rfc3339(expiresAt))), ("livemode", .bool(livemode)), ("valid_for", validFor.map(JSONValue.int)),
        ])
    }
}

extension CheckResult {
    var json: JSONValue {
        object([
            ("check", .string(check.rawValue)), ("status", .string(status.rawValue)),
            ("response_codes", .array(responseCodes.map { object([("code", .int(Int64($0.code))), ("summary", text($0.summary))]) })),
            ("signals", object([("document_authenticity", text(signals.documentAuthenticity?.rawValue)),
                                ("face_match", text(signals.faceMatch?.rawValue)), ("liveness", text(signals.liveness?.rawValue)),
                                ("aml", text(signals.aml?.rawValue))])),
            ("extracted_data", extractedData.map { data in
                object([("first_name", text(data.firstName)), ("last_name", text(data.lastName)),
                        ("date_of_birth", text(data.dateOfBirth)), ("address", text(data.address)),
                        ("document", data.document.map { document in
                            object([("type", text(document.type)), ("number", text(document.number)),
                                    ("issuing_country", text(document.issuingCountry)), ("issue_date", text(document.issueDate)),
                                    ("expiry_date", text(document.expiryDate))])
                        })])
            }),
            ("risk_labels", .array(riskLabels.map(JSONValue.string))), ("provider_reference", text(providerReference)),
            ("raw", raw), ("attempt_id", text(attemptID)),
        ])
    }
}

/// Codable values from JSON values with RFC 3339 millisecond dates.
enum Coding {
    static func decode<T: Decodable>(_ type: T.Type, _ json: JSONValue) -> T? {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = Timestamp.parse(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an RFC 3339 time: \(text)")
            }
            return date
        }
        return try? decoder.decode(type, from: Data(json.encoded()))
    }
}

/// Each step maps an event type's data from one schema version to the next; reading an old event runs the
/// steps from its version to the current one. A shape change adds a step here and never edits one.
public enum VerificationUpcasters {
    typealias Step = @Sendable (JSONValue) -> JSONValue

    /// By event type, the steps from version 1 on: `steps[type][0]` turns version 1 into version 2.
    static let steps: [String: [Step]] = [
        // Version 1 held the changes as the data object itself, which left no room for any other field.
        "MetadataUpdated": [{ ["changes": $0] }],
    ]

    public static func currentVersion(of type: String) -> Int { 1 + (steps[type]?.count ?? 0) }

    /// `data`, written as version `version` of `type`, in the current shape.
    public static func upcast(type: String, from version: Int,
                              _ data: JSONValue) throws(VerificationEvent.UnreadableEvent) -> JSONValue {
        let typeSteps = steps[type] ?? []
        guard version >= 1, version <= typeSteps.count + 1 else {
            throw VerificationEvent.UnreadableEvent(type: type, reason: "schema version \(version) is not one this build knows (1 to \(typeSteps.count + 1))")
        }
        return typeSteps.dropFirst(version - 1).reduce(data) { $1($0) }
    }
}
