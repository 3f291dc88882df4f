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
            guard let invitation = Invitation(json: data) else { throw fail("invitation") }
            self = .invited(invitation)
        case "AttemptStarted":
            guard let expires = Timestamp.parse(try string("expires_at")) else { throw fail("expires_at") }
            self = .attemptStarted(attemptID: try string("attempt_id"), url: try string("url"), expiresAt: expires)
        case "AttemptStatusChanged":
            self = .attemptStatusChanged(attemptID: try string("attempt_id"), from: try choice("from", AttemptStatus.self),
                                         to: try choice("to", AttemptStatus.self), code: data["code"]?.intValue.map(Int.init))
        case "CheckResultRecorded":
            guard let result = CheckResult(json: data) else { throw fail("result") }
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

/// The invite's and the result's data read straight from their JSON values, by the rules of the types' synthesized
/// Codable: a required member missing, null or of another type, or an optional one of another type, makes the value
/// unreadable; null reads as absent; other members are ignored. Through JSONDecoder (which needs the value encoded
/// again first) they cost most of a replay's decoding. A test checks that both readings agree.
private struct Members {
    struct Unreadable: Error {}
    let json: JSONValue

    init(_ json: JSONValue?) throws {
        guard let json, json.objectValue != nil else { throw Unreadable() }
        self.json = json
    }

    /// The member, nil when absent or null.
    func value(_ key: String) -> JSONValue? {
        guard let member = json[key], !member.isNull else { return nil }
        return member
    }

    func string(_ key: String) throws -> String {
        guard let text = value(key)?.stringValue else { throw Unreadable() }
        return text
    }

    func optionalString(_ key: String) throws -> String? {
        guard let member = value(key) else { return nil }
        guard let text = member.stringValue else { throw Unreadable() }
        return text
    }

    func choice<T: RawRepresentable>(_ key: String) throws -> T where T.RawValue == String {
        guard let chosen = T(rawValue: try string(key)) else { throw Unreadable() }
        return chosen
    }

    func optionalChoice<T: RawRepresentable>(_ key: String) throws -> T? where T.RawValue == String {
        guard let text = try optionalString(key) else { return nil }
        guard let chosen = T(rawValue: text) else { throw Unreadable() }
        return chosen
    }

    func strings(_ key: String) throws -> [String] {
        guard let items = value(key)?.arrayValue else { throw Unreadable() }
        return try items.map { item in
            guard let text = item.stringValue else { throw Unreadable() }
            return text
        }
    }

    func objects(_ key: String) throws -> [Members] {
        guard let items = value(key)?.arrayValue else { throw Unreadable() }
        return try items.map { try Members($0) }
    }
}

extension Invitation {
    init?(json: JSONValue) {
        guard let invitation = try? Invitation(members: Members(json)) else { return nil }
        self = invitation
    }

    private init(members data: Members) throws {
        let applicant = try Members(data.value("applicant"))
        guard let metadata = data.value("metadata")?.objectValue, let expiresAt = Timestamp.parse(try data.string("expires_at")),
              let livemode = data.value("livemode")?.boolValue else { throw Members.Unreadable() }
        let validFor = try data.value("valid_for").map { (member: JSONValue) throws -> Int64 in
            guard let seconds = member.intValue else { throw Members.Unreadable() }
            return seconds
        }
        self.init(entityID: try data.string("entity_id"), entityType: try data.choice("entity_type"),
                  verificationType: try data.choice("verification_type"), clientReferenceID: try data.optionalString("client_reference_id"),
                  packageID: try data.optionalString("package_id"),
                  checks: try data.strings("checks").map { (name: String) throws -> CheckType in
                      guard let check = CheckType(rawValue: name) else { throw Members.Unreadable() }
                      return check
                  },
                  provider: try data.string("provider"),
                  applicant: Applicant(firstName: try applicant.optionalString("first_name"), lastName: try applicant.optionalString("last_name"),
                                       email: try applicant.optionalString("email"), address: try applicant.optionalString("address")),
                  metadata: try Dictionary(metadata.map { (key: String, value: JSONValue) throws -> (String, String) in
                      guard let text = value.stringValue else { throw Members.Unreadable() }
                      return (key, text)
                  }, uniquingKeysWith: { $1 }),
                  postbackURL: try data.optionalString("postback_url"), postbackEvents: try data.strings("postback_events"),
                  expiresAt: expiresAt, livemode: livemode, validFor: validFor)
    }
}

extension CheckResult {
    init?(json: JSONValue) {
        guard let result = try? CheckResult(members: Members(json)) else { return nil }
        self = result
    }

    private init(members data: Members) throws {
        let signals = try Members(data.value("signals"))
        let codes = try data.objects("response_codes").map { (code: Members) throws -> ResponseCode in
            guard let number = code.value("code")?.intValue.flatMap({ Int(exactly: $0) }) else { throw Members.Unreadable() }
            var read = ResponseCode(code: number)
            read.summary = try code.optionalString("summary") // as written: the reference's summary only when the writer gave it
            return read
        }
        let extracted = try data.value("extracted_data").map { (json: JSONValue) throws -> ExtractedData in
            let extracted = try Members(json)
            let document = try extracted.value("document").map { (json: JSONValue) throws -> ExtractedData.Document in
                let document = try Members(json)
                return ExtractedData.Document(type: try document.optionalString("type"), number: try document.optionalString("number"),
                                              issuingCountry: try document.optionalString("issuing_country"),
                                              issueDate: try document.optionalString("issue_date"), expiryDate: try document.optionalString("expiry_date"))
            }
            return ExtractedData(firstName: try extracted.optionalString("first_name"), lastName: try extracted.optionalString("last_name"),
                                 dateOfBirth: try extracted.optionalString("date_of_birth"), address: try extracted.optionalString("address"),
                                 document: document)
        }
        // A provider's raw payload read as JSONValue's Codable reads it (object members sorted), as it always was.
        let raw = try data.value("raw").map { (raw: JSONValue) throws -> JSONValue in
            guard let read = Coding.decode(RawPayload.self, .object([("raw", raw)]))?.raw else { throw Members.Unreadable() }
            return read
        }
        self.init(check: try data.choice("check"), status: try data.choice("status"), responseCodes: codes,
                  signals: Signals(documentAuthenticity: try signals.optionalChoice("document_authenticity"),
                                   faceMatch: try signals.optionalChoice("face_match"), liveness: try signals.optionalChoice("liveness"),
                                   aml: try signals.optionalChoice("aml")),
                  extractedData: extracted, riskLabels: try data.strings("risk_labels"),
                  providerReference: try data.optionalString("provider_reference"), raw: raw, attemptID: try data.optionalString("attempt_id"))
    }

    private struct RawPayload: Decodable {
        let raw: JSONValue
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
