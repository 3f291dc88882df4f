/// A custom score: a name and a JSON scalar (a risk score `12.5`, a band `"high"`, a flag `true`), set by hand or
/// by a ruleset's rule. Null, arrays and objects are no score.
public enum CustomScore {
    /// As the API has always taken a name, in Unicode scalars as the request schemas count.
    public static let maxNameLength = 40
    /// As the API has always taken a string value.
    public static let maxStringLength = 100

    /// Why `name` cannot name a custom score, or nil when it can.
    public static func problem(withName name: String) -> String? {
        (1...maxNameLength).contains(name.unicodeScalars.count) ? nil : "a custom score's name is 1 to \(maxNameLength) characters"
    }

    /// Why `value` cannot be a custom score's value, or nil when it can.
    public static func problem(withValue value: JSONValue) -> String? {
        switch value {
        case .bool, .int:
            return nil
        case let .double(number):
            return number.isFinite ? nil : "a custom score's number must be finite"
        case let .string(text):
            return (1...maxStringLength).contains(text.unicodeScalars.count) ? nil : "a custom score's string is 1 to \(maxStringLength) characters"
        case .null:
            return "a custom score is a number, a string or a boolean, not null"
        case .array:
            return "a custom score is a number, a string or a boolean, not an array"
        case .object:
            return "a custom score is a number, a string or a boolean, not an object"
        }
    }
}

/// The ruleset version whose rule computed a custom score, kept in the event so that the history says why it changed.
public struct RulesetReference: Sendable, Equatable {
    public let name: String
    public let version: Int
    /// The version's content hash (`sha256:<hex>`), so the rule that ran can be told apart from any edited later.
    public let hash: String

    public init(name: String, version: Int, hash: String) {
        self.name = name
        self.version = version
        self.hash = hash
    }

    public var json: JSONValue { ["name": .string(name), "version": .int(Int64(version)), "hash": .string(hash)] }

    public init?(json: JSONValue) {
        guard let name = json["name"]?.stringValue, let version = json["version"]?.intValue, let hash = json["hash"]?.stringValue,
              let exact = Int(exactly: version) else { return nil }
        self.init(name: name, version: exact, hash: hash)
    }
}
