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
            guard let invitation = Invitation(json: data) ?? Coding.decode(Invitation.self, data) else { throw fail("invitation") }
            self = .invited(invitation)
        case "AttemptStarted":
            guard let expires = Timestamp.parse(try string("expires_at")) else { throw fail("expires_at") }
            self = .attemptStarted(attemptID: try string("attempt_id"), url: try string("url"), expiresAt: expires)
        case "AttemptStatusChanged":
            self = .attemptStatusChanged(attemptID: try string("attempt_id"), from: try choice("from", AttemptStatus.self),
                                         to: try choice("to", AttemptStatus.self), code: data["code"]?.intValue.map(Int.init))
        case "CheckResultRecorded":
            guard let result = CheckResult(json: data) ?? Coding.decode(CheckResult.self, data) else { throw fail("result") }
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

/// The invite and the result read straight from their JSON values, as their Codable conformances read them (absent
/// and null optionals are nil, other members are ignored, `raw` has its members sorted by name): JSONDecoder cost
/// a replay more than the rest of reading an event. Nil for anything these do not read exactly as the conformances
/// would (a number that is not an integer, a name given twice, any mistyped member): the conformances read it, or
/// refuse it, then. A test checks the two agree.
private struct DirectReading {
    let members: [(String, JSONValue)]

    init?(_ json: JSONValue?) {
        guard case let .object(members)? = json, Self.namesDiffer(members) else { return nil }
        self.members = members
    }

    static func namesDiffer(_ members: [(String, JSONValue)]) -> Bool {
        members.count < 2 || Set(members.map(\.0)).count == members.count
    }

    /// The member's value; `.null` when it is absent.
    subscript(_ name: String) -> JSONValue { members.first { $0.0 == name }?.1 ?? .null }

    /// Absent or null: `.some(nil)`; a string: `.some(it)`; anything else: nil (not read).
    func optionalString(_ name: String) -> String?? {
        switch self[name] {
        case .null: return .some(nil)
        case let .string(value): return .some(value)
        default: return nil
        }
    }

    func string(_ name: String) -> String? { self[name].stringValue }

    func choice<T: RawRepresentable>(_ name: String) -> T? where T.RawValue == String { string(name).flatMap(T.init(rawValue:)) }

    func optionalChoice<T: RawRepresentable>(_ name: String) -> T?? where T.RawValue == String {
        guard let text = optionalString(name) else { return nil }
        guard let text else { return .some(nil) }
        return T(rawValue: text).map { .some($0) }
    }

    func strings(_ name: String) -> [String]? {
        guard case let .array(items) = self[name] else { return nil }
        let strings = items.compactMap(\.stringValue)
        return strings.count == items.count ? strings : nil
    }

    func integer(_ value: JSONValue) -> Int64? {
        if case let .int(number) = value { return number }
        return nil
    }

    /// A JSON value as `JSONValue`'s Decodable conformance makes it: members sorted by name, at every depth.
    static func decodedForm(_ value: JSONValue) -> JSONValue? {
        switch value {
        case let .array(items):
            let decoded = items.compactMap(decodedForm)
            return decoded.count == items.count ? .array(decoded) : nil
        case let .object(members):
            guard namesDiffer(members) else { return nil }
            let decoded = members.compactMap { name, value in decodedForm(value).map { (name, $0) } }
            return decoded.count == members.count ? .object(decoded.sorted { $0.0 < $1.0 }) : nil
        case .double: return nil
        default: return value
        }
    }
}

extension Applicant {
    fileprivate init?(direct json: JSONValue) {
        guard let reading = DirectReading(json), let firstName = reading.optionalString("first_name"),
              let lastName = reading.optionalString("last_name"), let email = reading.optionalString("email"),
              let address = reading.optionalString("address") else { return nil }
        self.init(firstName: firstName, lastName: lastName, email: email, address: address)
    }
}

extension Invitation {
    init?(json: JSONValue) {
        guard let reading = DirectReading(json), let entityID = reading.string("entity_id"),
              let entityType: EntityType = reading.choice("entity_type"), let verificationType: VerificationType = reading.choice("verification_type"),
              let clientReferenceID = reading.optionalString("client_reference_id"), let packageID = reading.optionalString("package_id"),
              let checkNames = reading.strings("checks"), let provider = reading.string("provider"),
              let applicant = Applicant(direct: reading["applicant"]), case let .object(metadataMembers) = reading["metadata"],
              DirectReading.namesDiffer(metadataMembers), let postbackURL = reading.optionalString("postback_url"),
              let postbackEvents = reading.strings("postback_events"), let expiresText = reading.string("expires_at"),
              let expiresAt = Timestamp.parse(expiresText), case let .bool(livemode) = reading["livemode"] else { return nil }
        let checks = checkNames.compactMap(CheckType.init(rawValue:))
        let metadata = metadataMembers.compactMap { name, value in value.stringValue.map { (name, $0) } }
        guard checks.count == checkNames.count, metadata.count == metadataMembers.count else { return nil }
        let validFor: Int64?
        switch reading["valid_for"] {
        case .null: validFor = nil
        case let value:
            guard let seconds = reading.integer(value) else { return nil }
            validFor = seconds
        }
        self.init(entityID: entityID, entityType: entityType, verificationType: verificationType, clientReferenceID: clientReferenceID,
                  packageID: packageID, checks: checks, provider: provider, applicant: applicant,
                  metadata: Dictionary(metadata, uniquingKeysWith: { $1 }), postbackURL: postbackURL, postbackEvents: postbackEvents,
                  expiresAt: expiresAt, livemode: livemode, validFor: validFor)
    }
}

extension CheckResult {
    init?(json: JSONValue) {
        guard let reading = DirectReading(json), let check: CheckType = reading.choice("check"), let status: CheckStatus = reading.choice("status"),
              case let .array(codeValues) = reading["response_codes"], let signalsReading = DirectReading(reading["signals"]),
              let documentAuthenticity: SignalOutcome? = signalsReading.optionalChoice("document_authenticity"),
              let faceMatch: SignalOutcome? = signalsReading.optionalChoice("face_match"),
              let liveness: SignalOutcome? = signalsReading.optionalChoice("liveness"),
              let aml: AMLOutcome? = signalsReading.optionalChoice("aml"), let riskLabels = reading.strings("risk_labels"),
              let providerReference = reading.optionalString("provider_reference"), let attemptID = reading.optionalString("attempt_id") else {
            return nil
        }
        var responseCodes: [ResponseCode] = []
        for value in codeValues {
            guard let code = DirectReading(value), let number = code.integer(code["code"]), let exact = Int(exactly: number),
                  let summary = code.optionalString("summary") else { return nil }
            var responseCode = ResponseCode(code: exact)
            responseCode.summary = summary
            responseCodes.append(responseCode)
        }
        let extractedData: ExtractedData?
        switch reading["extracted_data"] {
        case .null: extractedData = nil
        case let value:
            guard let data = ExtractedData(direct: value) else { return nil }
            extractedData = data
        }
        let raw: JSONValue?
        switch reading["raw"] {
        case .null: raw = nil
        case let value:
            guard let decoded = DirectReading.decodedForm(value) else { return nil }
            raw = decoded
        }
        self.init(check: check, status: status, responseCodes: responseCodes,
                  signals: Signals(documentAuthenticity: documentAuthenticity, faceMatch: faceMatch, liveness: liveness, aml: aml),
                  extractedData: extractedData, riskLabels: riskLabels, providerReference: providerReference, raw: raw, attemptID: attemptID)
    }
}

extension ExtractedData {
    fileprivate init?(direct json: JSONValue) {
        guard let reading = DirectReading(json), let firstName = reading.optionalString("first_name"),
              let lastName = reading.optionalString("last_name"), let dateOfBirth = reading.optionalString("date_of_birth"),
              let address = reading.optionalString("address") else { return nil }
        let document: Document?
        switch reading["document"] {
        case .null: document = nil
        case let value:
            guard let fields = DirectReading(value), let type = fields.optionalString("type"), let number = fields.optionalString("number"),
                  let issuingCountry = fields.optionalString("issuing_country"), let issueDate = fields.optionalString("issue_date"),
                  let expiryDate = fields.optionalString("expiry_date") else { return nil }
            document = Document(type: type, number: number, issuingCountry: issuingCountry, issueDate: issueDate, expiryDate: expiryDate)
        }
        self.init(firstName: firstName, lastName: lastName, dateOfBirth: dateOfBirth, address: address, document: document)
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
