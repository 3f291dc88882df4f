/// A JsonLogic rule (jsonlogic.com), checked once and then evaluated against any number of documents.
///
/// Compiling walks the rule once, refusing it past the depth and node limits before descending further, and
/// names the path of an unknown operator, a malformed node or arguments no evaluation could accept. Evaluation
/// is pure: no I/O, no clock; `log` returns its argument.
public struct JsonLogicRule: Sendable {
    public let limits: JsonLogicLimits
    let root: JsonLogicNode

    /// - Parameter path: where the rule sits in the request, the prefix of every error path (`rules.score`).
    public init(_ rule: JSONValue, path: String = "rule", limits: JsonLogicLimits = .standard) throws(JsonLogicError) {
        self.limits = limits
        var compiler = JsonLogicCompiler(limits: limits)
        root = try compiler.compile(rule, path: path, depth: 1)
    }

    public func evaluate(_ data: JSONValue) throws(JsonLogicError) -> JSONValue {
        var evaluation = JsonLogicEvaluation(limits: limits)
        return try evaluation.evaluate(root, data)
    }
}

extension JsonLogicRule {
    /// Compiles and evaluates in one go, for a rule used once.
    public static func apply(_ rule: JSONValue, to data: JSONValue, path: String = "rule", limits: JsonLogicLimits = .standard) throws(JsonLogicError) -> JSONValue {
        try JsonLogicRule(rule, path: path, limits: limits).evaluate(data)
    }
}

enum JsonLogicOperator: String, Sendable, CaseIterable {
    case variable = "var", value = "val", missing, missingSome = "missing_some"
    case ifThenElse = "if", ternary = "?:"
    case equals = "==", strictEquals = "===", notEquals = "!=", strictNotEquals = "!=="
    case not = "!", truthy = "!!", or, and
    case less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
    case max, min, plus = "+", minus = "-", times = "*", divide = "/", modulo = "%"
    case map, filter, reduce, all, none, some, merge, `in`
    case cat, substr, log, `throw`

    /// Operators whose arguments must be written as an array: a single value there is a mistake, not one argument.
    var requiresArgumentArray: Bool {
        switch self {
        case .ifThenElse, .ternary, .and, .or, .equals, .strictEquals, .notEquals, .strictNotEquals, .less,
            .lessOrEqual, .greater, .greaterOrEqual, .map, .filter, .reduce, .all, .none, .some, .missingSome:
            return true
        default:
            return false
        }
    }

    var minimumArguments: Int {
        switch self {
        case .equals, .strictEquals, .notEquals, .strictNotEquals, .less, .lessOrEqual, .greater, .greaterOrEqual,
            .modulo, .map, .filter, .reduce, .all, .none, .some, .missingSome:
            return 2
        case .minus, .divide, .substr:
            return 1
        default:
            return 0
        }
    }

    var isIteration: Bool {
        switch self {
        case .map, .filter, .reduce, .all, .none, .some: return true
        default: return false
        }
    }
}

/// A compiled rule: literals stay JSON, operations know their operator and where they were written.
enum JsonLogicNode: Sendable {
    case literal(JSONValue)
    case array([JsonLogicNode], path: String)
    case operation(JsonLogicOperation)

    var literalValue: JSONValue? {
        if case let .literal(value) = self { return value }
        return nil
    }
}

struct JsonLogicOperation: Sendable {
    let op: JsonLogicOperator
    let arguments: [JsonLogicNode]
    let path: String

    /// The arguments evaluated over the operation's own data: all but an iteration's body (its second), which
    /// reads each element.
    var argumentsOverTheData: [JsonLogicNode] {
        op.isIteration ? arguments.enumerated().filter { $0.offset != 1 }.map(\.element) : arguments
    }
}

struct JsonLogicCompiler {
    let limits: JsonLogicLimits
    private var nodes = 0

    init(limits: JsonLogicLimits) { self.limits = limits }

    mutating func compile(_ rule: JSONValue, path: String, depth: Int) throws(JsonLogicError) -> JsonLogicNode {
        try count(path)
        switch rule {
        case let .array(items):
            // Containers nest as in the JSON parser's depth: 64 means 64 arrays or objects inside each other.
            guard depth <= limits.maxDepth else { throw tooDeep(path) }
            let compiled = try compile(items, path: path, depth: depth + 1)
            let literals = compiled.compactMap(\.literalValue)
            return literals.count == compiled.count ? .literal(.array(literals)) : .array(compiled, path: path)
        case let .object(members):
            guard depth <= limits.maxDepth else { throw tooDeep(path) }
            guard let (key, value) = members.first else { return .literal(rule) }
            guard members.count == 1 else {
                throw JsonLogicError(.malformedRule, at: path, "an operation is an object with exactly one key; this one has \(members.count) (\(members.map(\.0).joined(separator: ", ")))")
            }
            guard let op = JsonLogicOperator(rawValue: key) else {
                throw JsonLogicError(.unknownOperator(key), at: path, "unknown operator \"\(key)\"")
            }
            let arguments: [JsonLogicNode]
            if case let .array(items) = value {
                try count("\(path).\(key)")
                guard depth + 1 <= limits.maxDepth else { throw tooDeep("\(path).\(key)") }
                arguments = try compile(items, path: "\(path).\(key)", depth: depth + 2)
            } else {
                guard !op.requiresArgumentArray else {
                    throw JsonLogicError(.invalidArguments, at: path, "\"\(key)\" takes an array of arguments")
                }
                arguments = [try compile(value, path: "\(path).\(key)", depth: depth + 1)]
            }
            let operation = JsonLogicOperation(op: op, arguments: arguments, path: path)
            try check(operation)
            return .operation(operation)
        default:
            return .literal(rule)
        }
    }

    private mutating func compile(_ items: [JSONValue], path: String, depth: Int) throws(JsonLogicError) -> [JsonLogicNode] {
        var compiled = [JsonLogicNode]()
        compiled.reserveCapacity(items.count)
        for (index, item) in items.enumerated() {
            compiled.append(try compile(item, path: "\(path)[\(index)]", depth: depth))
        }
        return compiled
    }

    private mutating func count(_ path: String) throws(JsonLogicError) {
        nodes += 1
        guard nodes <= limits.maxNodes else {
            throw JsonLogicError(.limitExceeded(.nodes), at: path, "the rule has more than \(limits.maxNodes) nodes")
        }
    }

    private func tooDeep(_ path: String) -> JsonLogicError {
        JsonLogicError(.limitExceeded(.depth), at: path, "the rule nests deeper than \(limits.maxDepth) levels")
    }

    /// What the arguments as written already rule out, so that such a rule is refused before any evaluation.
    private func check(_ operation: JsonLogicOperation) throws(JsonLogicError) {
        let op = operation.op, arguments = operation.arguments
        guard arguments.count >= op.minimumArguments else {
            throw JsonLogicError(.invalidArguments, at: operation.path, "\"\(op.rawValue)\" needs at least \(op.minimumArguments) argument\(op.minimumArguments == 1 ? "" : "s"), got \(arguments.count)")
        }
        guard op.isIteration else { return }
        if let source = arguments[0].literalValue, source.arrayValue == nil {
            throw JsonLogicError(.invalidArguments, at: operation.path, "\"\(op.rawValue)\" iterates over an array, got \(JavaScript.kind(of: source))")
        }
        switch op {
        case .map, .filter, .reduce:
            if arguments[1].literalValue?.isNull == true {
                throw JsonLogicError(.invalidArguments, at: operation.path, "\"\(op.rawValue)\" needs a rule to apply to each element, got null")
            }
        default:
            break
        }
    }
}
