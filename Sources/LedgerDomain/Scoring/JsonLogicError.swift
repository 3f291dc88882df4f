/// Why a JsonLogic rule could not be compiled or evaluated, and where: `path` names the offending node the way a
/// reader finds it in the submitted document (`rules.score.if[1]`).
public struct JsonLogicError: Error, Equatable, Sendable {
    public enum Kind: Equatable, Sendable {
        /// An object whose single key is no operator.
        case unknownOperator(String)
        /// An object with several keys: neither an operation nor data a rule can hold.
        case malformedRule
        /// Arguments an operator cannot take: too few, not an array where one is required, the wrong type.
        case invalidArguments
        /// A number was needed and the value does not convert to one (JavaScript's NaN), including division by zero.
        case notANumber
        /// Arithmetic left the finite numbers JSON can carry.
        case outOfRange
        case limitExceeded(JsonLogicLimits.Limit)
        /// Raised by the rule itself through `throw`.
        case thrown(String)
    }

    public let kind: Kind
    public let path: String
    public let message: String

    public init(_ kind: Kind, at path: String, _ message: String) {
        self.kind = kind
        self.path = path
        self.message = message
    }

    /// The error type of the conformance suites (`NaN`, `Invalid Arguments`, …), for clients that branch on it.
    public var type: String {
        switch kind {
        case .unknownOperator: return "Unknown Operator"
        case .malformedRule: return "Malformed Rule"
        case .invalidArguments: return "Invalid Arguments"
        case .notANumber: return "NaN"
        case .outOfRange: return "Out Of Range"
        case .limitExceeded: return "Limit Exceeded"
        case let .thrown(type): return type
        }
    }
}

/// Bounds that keep a rule, which is data from a client, from costing more than a small request: checked while the
/// rule is compiled (depth, nodes) and while it runs (result sizes, steps).
public struct JsonLogicLimits: Equatable, Sendable {
    public enum Limit: String, Equatable, Sendable {
        case depth, nodes, stringLength = "string_length", arrayLength = "array_length", steps
    }

    /// Nesting of arrays and objects in the rule.
    public var maxDepth: Int
    /// JSON values in the rule, every literal included.
    public var maxNodes: Int
    /// UTF-16 code units of a string an operator builds (`cat`, `substr`), as JavaScript counts length.
    public var maxStringLength: Int
    /// Elements of an array an operator builds (`map`, `filter`, `merge`, `missing`).
    public var maxArrayLength: Int
    /// Work in one evaluation: one step per operation run plus one per element or code unit it builds or scans.
    public var maxSteps: Int

    public init(maxDepth: Int, maxNodes: Int, maxStringLength: Int, maxArrayLength: Int, maxSteps: Int) {
        self.maxDepth = maxDepth
        self.maxNodes = maxNodes
        self.maxStringLength = maxStringLength
        self.maxArrayLength = maxArrayLength
        self.maxSteps = maxSteps
    }

    public static let standard = JsonLogicLimits(
        maxDepth: 64, maxNodes: 10_000, maxStringLength: 65_536, maxArrayLength: 32_768, maxSteps: 1_000_000)
}
