/// Where an event's personal data sits in its JSON data: a path of member names, where `*` stands for every member
/// of the object reached so far. The whole value at the end of the path is personal, whatever its shape.
public struct PersonalDataPath: Sendable, Equatable, CustomStringConvertible {
    public enum Step: Sendable, Equatable {
        case member(String)
        case everyMember

        func matches(_ name: String) -> Bool {
            switch self {
            case let .member(wanted): return wanted == name
            case .everyMember: return true
            }
        }
    }

    public let steps: [Step]

    public init(_ steps: Step...) { self.steps = steps }

    public var description: String {
        steps.map { step in
            switch step {
            case let .member(name): return name
            case .everyMember: return "*"
            }
        }.joined(separator: ".")
    }
}

/// An event's data taken apart: `plain` is the data with every personal value replaced by null (exactly what the
/// data reads as once the entity is erased), `personal` holds those values in the same nesting, or is nil when the
/// event carries none.
public struct PersonalDataSplit: Sendable, Equatable {
    public var plain: JSONValue
    public var personal: JSONValue?

    public init(plain: JSONValue, personal: JSONValue?) {
        self.plain = plain
        self.personal = personal
    }
}

/// Which members of which events are personal data (GDPR Art. 4(1)): the ones encrypted under the entity's data key
/// and gone once that key is destroyed. Statuses, codes, signals, scores, the process's dates and ids are not;
/// metadata is the client's, stored as given, and must not hold personal data.
public struct PersonalDataPolicy: Sendable {
    public let pathsByEventType: [String: [PersonalDataPath]]

    public init(pathsByEventType: [String: [PersonalDataPath]]) { self.pathsByEventType = pathsByEventType }

    /// The verification stream's events:
    /// - the invite's applicant, every member of it (today names, email and address): a member it gains later
    ///   (a phone, a date of birth) is personal without anyone having to remember to say so;
    /// - a result's `extracted_data`, whole (names, date of birth, address, and the document with its type, number,
    ///   issuing country and dates), and the provider's `raw` payload, which may quote any of these or name files.
    public static let verification = PersonalDataPolicy(pathsByEventType: [
        "VerificationInvited": [PersonalDataPath(.member("applicant"), .everyMember)],
        "CheckResultRecorded": [PersonalDataPath(.member("extracted_data")), PersonalDataPath(.member("raw"))],
    ])

    public func paths(ofEventType type: String) -> [PersonalDataPath] { pathsByEventType[type] ?? [] }

    public func carriesPersonalData(eventType type: String) -> Bool { !paths(ofEventType: type).isEmpty }

    public func split(eventType type: String, data: JSONValue) -> PersonalDataSplit {
        var plain = data
        var personal: JSONValue?
        for path in paths(ofEventType: type) {
            let (rest, found) = Self.split(plain, path.steps[...])
            plain = rest
            if let found { personal = personal.map { Self.union($0, found) } ?? found }
        }
        return PersonalDataSplit(plain: plain, personal: personal)
    }

    /// The event's data again. With `personal` nil (the entity was erased) every personal value is null, even in data
    /// written before personal data was split off. Only the policy's paths are ever written from `personal`, so
    /// nothing in it can change a status, a code or an id.
    public func merge(eventType type: String, plain: JSONValue, personal: JSONValue?) -> JSONValue {
        paths(ofEventType: type).reduce(plain) { data, path in
            guard let personal else { return Self.split(data, path.steps[...]).plain }
            return Self.merge(data, personal, path.steps[...])
        }
    }

    private static func split(_ value: JSONValue, _ steps: ArraySlice<PersonalDataPath.Step>) -> (plain: JSONValue, personal: JSONValue?) {
        guard let step = steps.first else { return value.isNull ? (value, nil) : (.null, value) }
        guard case var .object(members) = value else { return (value, nil) }
        var personal = [(String, JSONValue)]()
        for index in members.indices where step.matches(members[index].0) {
            let (plain, found) = split(members[index].1, steps.dropFirst())
            members[index].1 = plain
            if let found { personal.append((members[index].0, found)) }
        }
        return (.object(members), personal.isEmpty ? nil : .object(personal))
    }

    private static func merge(_ plain: JSONValue, _ personal: JSONValue, _ steps: ArraySlice<PersonalDataPath.Step>) -> JSONValue {
        guard let step = steps.first else { return personal }
        guard case let .object(members) = plain, case var .object(values) = personal else { return plain }
        return .object(members.map { name, child in
            guard step.matches(name), let index = values.firstIndex(where: { $0.0 == name }) else { return (name, child) }
            return (name, merge(child, values.remove(at: index).1, steps.dropFirst()))
        })
    }

    /// Two personal parts of one event (from two paths) as one; paths that share a prefix meet in the same object.
    private static func union(_ lhs: JSONValue, _ rhs: JSONValue) -> JSONValue {
        guard case var .object(members) = lhs, case let .object(more) = rhs else { return rhs }
        for (name, value) in more {
            if let index = members.firstIndex(where: { $0.0 == name }) {
                members[index].1 = union(members[index].1, value)
            } else {
                members.append((name, value))
            }
        }
        return .object(members)
    }
}
