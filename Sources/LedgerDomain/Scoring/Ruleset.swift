import Foundation

/// A ruleset version: named custom scores, each computed by a JsonLogic rule over an order document. Checked and
/// compiled once; its hash is a function of its content alone, so the same content always has the same hash.
public struct Ruleset: Sendable {
    /// Changes whenever evaluation could give another result for the same rule and document; kept with every run so
    /// that a dry run can be reproduced.
    public static let evaluatorVersion = "jsonlogic-1"
    public static let maxRules = 50
    /// Names appear in paths: lower-case letters, digits, `_`, `-` and `.`, starting with a letter or digit.
    public static let namePattern = "^[a-z0-9][a-z0-9_.-]{0,63}$"

    public let name: String
    public let description: String?
    /// By score name, in name order.
    public let rules: [(score: String, rule: JSONValue)]
    let compiled: [(score: String, rule: JsonLogicRule)]
    /// `sha256:` and the hex SHA-256 of the canonical JSON (members sorted, no space) of name, description and rules.
    public let hash: String

    /// Why a ruleset cannot be made: the parameter (`rules.risk.if[1]`) and a sentence.
    public struct Problem: Error, Equatable, Sendable {
        public let param: String
        public let message: String
        /// The rule's own failure, when a rule is at fault.
        public let jsonLogic: JsonLogicError?
    }

    public init(name: String, description: String?, rules: JSONValue, sha256: ([UInt8]) -> [UInt8]) throws(Problem) {
        guard name.range(of: Self.namePattern, options: .regularExpression) != nil else {
            throw Problem(param: "name", message: "a ruleset's name matches \(Self.namePattern)", jsonLogic: nil)
        }
        guard let members = rules.objectValue, !members.isEmpty, members.count <= Self.maxRules else {
            throw Problem(param: "rules", message: "rules is an object of 1 to \(Self.maxRules) custom score names, each with its JsonLogic rule",
                          jsonLogic: nil)
        }
        var compiled: [(score: String, rule: JsonLogicRule)] = []
        for (score, rule) in members.sorted(by: { $0.0 < $1.0 }) {
            if let problem = CustomScore.problem(withName: score) {
                throw Problem(param: "rules.\(score)", message: problem, jsonLogic: nil)
            }
            do throws(JsonLogicError) {
                compiled.append((score, try JsonLogicRule(rule, path: "rules.\(score)")))
            } catch {
                throw Problem(param: error.path, message: error.message, jsonLogic: error)
            }
        }
        self.name = name
        self.description = description
        self.rules = members.sorted { $0.0 < $1.0 }.map { ($0.0, $0.1) }
        self.compiled = compiled
        let content: JSONValue = ["name": .string(name), "description": description.map(JSONValue.string) ?? .null, "rules": rules]
        hash = "sha256:" + sha256(content.canonical.encoded()).map { String(format: "%02x", $0) }.joined()
    }

    public var rulesJSON: JSONValue { .object(rules.map { ($0.score, $0.rule) }) }

    /// What each rule gives for one order document (`now` added as a member): a custom score's value, or why none.
    public func evaluate(_ document: JSONValue, now: Date) -> [(score: String, result: Result<JSONValue, RuleFailure>)] {
        let data = document.adding("now", .string(Timestamp.rfc3339(now)))
        return compiled.map { score, rule in
            do throws(JsonLogicError) {
                let value = try rule.evaluate(data)
                if let problem = CustomScore.problem(withValue: value) {
                    return (score, .failure(RuleFailure(type: "Not A Score", message: problem)))
                }
                return (score, .success(value))
            } catch {
                return (score, .failure(RuleFailure(type: error.type, message: "\(error.path): \(error.message)")))
            }
        }
    }

    /// The document fields the rules read (`var` with a literal path, outside `map`/`filter`/… bodies, which read
    /// the element) that `document` lacks, for the dry run to report.
    public func missingFields(in document: JSONValue) -> [String] {
        let data = document.adding("now", "")
        var missing: [String] = []
        for path in variablePaths {
            var work = 0
            if JsonLogicEvaluation.lookup(path, in: data, work: &work) == nil { missing.append(path) }
        }
        return missing
    }

    /// The top-level members of the document that the rules can read (`var`, `val`, `missing`, `missing_some`
    /// outside the bodies of `map`/`filter`/…, which read the element), or nil when that is not known before
    /// evaluation: a path computed by an operation, or the whole document (`{"var": ""}`). A reader that leaves
    /// other members out of the document (its personal data) changes no result.
    public var documentMembersRead: Set<String>? {
        var members = Set<String>()
        func member(_ key: JSONValue) -> Bool {
            switch key {
            case let .string(path) where !path.isEmpty:
                members.insert(String(path.prefix { $0 != "." }))
            case .int, .double, .bool:
                members.insert(String(JavaScript.toString(key).prefix { $0 != "." }))
            default:
                return false
            }
            return true
        }
        func walk(_ node: JsonLogicNode) -> Bool {
            switch node {
            case .literal: return true
            case let .array(items, _): return items.allSatisfy(walk)
            case let .operation(operation):
                let arguments = operation.arguments
                let literals = arguments.compactMap(\.literalValue)
                switch operation.op {
                case .variable:
                    guard let path = arguments.first?.literalValue, member(path) else { return false }
                    return arguments.dropFirst().allSatisfy(walk)
                case .value:
                    guard literals.count == arguments.count, let first = literals.first else { return false }
                    return member(first)
                case .missing:
                    guard literals.count == arguments.count else { return false }
                    return (literals.first?.arrayValue ?? literals).allSatisfy(member)
                case .missingSome:
                    guard let keys = arguments[1].literalValue?.arrayValue else { return false }
                    return walk(arguments[0]) && keys.allSatisfy(member)
                default:
                    return operation.argumentsOverTheData.allSatisfy(walk)
                }
            }
        }
        return compiled.allSatisfy { walk($0.rule.root) } ? members : nil
    }

    /// Every literal `var` path of the rules, once each, in order.
    public var variablePaths: [String] {
        var paths: [String] = []
        func walk(_ node: JsonLogicNode) {
            switch node {
            case .literal: return
            case let .array(items, _): items.forEach(walk)
            case let .operation(operation):
                if operation.op == .variable, case let .string(path)? = operation.arguments.first?.literalValue, !path.isEmpty,
                   !paths.contains(path) {
                    paths.append(path)
                }
                operation.argumentsOverTheData.forEach(walk)
            }
        }
        compiled.forEach { walk($0.rule.root) }
        return paths
    }
}

/// Why a rule gave no custom score for an order: the suites' error type (`NaN`, …, or `Not A Score` for a result
/// that is null, an array or an object) and a sentence naming the rule's path.
public struct RuleFailure: Error, Equatable, Sendable {
    public let type: String
    public let message: String
}

extension JSONValue {
    /// Objects' members sorted by name, all the way down: one encoding for one content, for hashing.
    public var canonical: JSONValue {
        switch self {
        case let .array(items): return .array(items.map(\.canonical))
        case let .object(members): return .object(members.sorted { $0.0 < $1.0 }.map { ($0.0, $0.1.canonical) })
        default: return self
        }
    }

    /// This object with `key` set (replaced if present); any other value is returned as it is.
    func adding(_ key: String, _ value: JSONValue) -> JSONValue {
        guard case var .object(members) = self else { return self }
        members.removeAll { $0.0 == key }
        members.append((key, value))
        return .object(members)
    }
}
