/// One evaluation of a compiled rule: the operators' semantics, with the step budget of `JsonLogicLimits`.
/// Recursion follows the rule (whose depth the compiler bounded), never the data.
struct JsonLogicEvaluation {
    let limits: JsonLogicLimits
    private var steps = 0

    init(limits: JsonLogicLimits) { self.limits = limits }

    mutating func evaluate(_ node: JsonLogicNode, _ data: JSONValue) throws(JsonLogicError) -> JSONValue {
        switch node {
        case let .literal(value):
            return value
        case let .array(items, path):
            try charge(items.count, at: path)
            var values = [JSONValue]()
            values.reserveCapacity(items.count)
            for item in items { values.append(try evaluate(item, data)) }
            return .array(values)
        case let .operation(operation):
            try charge(1, at: operation.path)
            return try apply(operation, data)
        }
    }

    private mutating func charge(_ work: Int, at path: String) throws(JsonLogicError) {
        steps = steps > Int.max - work ? Int.max : steps + work
        guard steps <= limits.maxSteps else {
            throw JsonLogicError(.limitExceeded(.steps), at: path, "the evaluation took more than \(limits.maxSteps) steps")
        }
    }

    private mutating func charge(_ work: Int, _ operation: JsonLogicOperation) throws(JsonLogicError) {
        try charge(work, at: operation.path)
    }

    private mutating func arguments(_ operation: JsonLogicOperation, _ data: JSONValue) throws(JsonLogicError) -> [JSONValue] {
        var values = [JSONValue]()
        values.reserveCapacity(operation.arguments.count)
        for argument in operation.arguments { values.append(try evaluate(argument, data)) }
        return values
    }

    private mutating func apply(_ operation: JsonLogicOperation, _ data: JSONValue) throws(JsonLogicError) -> JSONValue {
        let op = operation.op
        switch op {
        // Lazy: arguments are evaluated only as far as the result needs them.
        case .ifThenElse, .ternary:
            return try ifThenElse(operation, data)
        case .and, .or:
            var last = JSONValue.bool(false)
            for argument in operation.arguments {
                last = try evaluate(argument, data)
                if JavaScript.isTruthy(last) == (op == .or) { return last }
            }
            return last
        case .equals, .strictEquals, .notEquals, .strictNotEquals, .less, .lessOrEqual, .greater, .greaterOrEqual:
            var previous = try evaluate(operation.arguments[0], data)
            for argument in operation.arguments.dropFirst() {
                let current = try evaluate(argument, data)
                guard try holds(op, previous, current, operation) else { return .bool(false) }
                previous = current
            }
            return .bool(true)
        case .map, .filter, .reduce, .all, .none, .some:
            return try iterate(operation, data)
        // Eager: every argument first.
        case .variable:
            return try variable(try arguments(operation, data), data, operation)
        case .value:
            return try value(try arguments(operation, data), data, operation)
        case .missing:
            return try missing(try arguments(operation, data), data, operation)
        case .missingSome:
            return try missingSome(try arguments(operation, data), data, operation)
        case .not, .truthy:
            let truthy = JavaScript.isTruthy(try arguments(operation, data).first ?? .null)
            return .bool(op == .truthy ? truthy : !truthy)
        case .max, .min:
            return try extremum(try arguments(operation, data), operation)
        case .plus, .minus, .times, .divide, .modulo:
            return try arithmetic(try arguments(operation, data), operation)
        case .merge:
            return try merge(try arguments(operation, data), operation)
        case .in:
            return try contains(try arguments(operation, data), operation)
        case .cat:
            return try concatenate(try arguments(operation, data), operation)
        case .substr:
            return try substring(try arguments(operation, data), operation)
        case .log:
            return try arguments(operation, data).first ?? .null
        case .throw:
            let reason = try arguments(operation, data).first ?? .null
            let type = reason["type"]?.stringValue ?? reason.stringValue ?? JavaScript.toString(reason)
            throw JsonLogicError(.thrown(type), at: operation.path, "the rule threw \"\(type)\"")
        }
    }

    // MARK: - Control

    private mutating func ifThenElse(_ operation: JsonLogicOperation, _ data: JSONValue) throws(JsonLogicError) -> JSONValue {
        let arguments = operation.arguments
        var index = 0
        while index + 1 < arguments.count {
            if JavaScript.isTruthy(try evaluate(arguments[index], data)) { return try evaluate(arguments[index + 1], data) }
            index += 2
        }
        return index < arguments.count ? try evaluate(arguments[index], data) : .null
    }

    // MARK: - Comparison

    /// Strict operators compare type and value. The others compare two strings (or nulls) as JavaScript does, and
    /// anything else as numbers, where a value that is no number is an error rather than a silent `false`.
    private mutating func holds(_ op: JsonLogicOperator, _ a: JSONValue, _ b: JSONValue, _ operation: JsonLogicOperation) throws(JsonLogicError) -> Bool {
        switch op {
        case .strictEquals, .strictNotEquals:
            var work = 0
            let equal = JavaScript.strictEquals(a, b, work: &work)
            try charge(work, operation)
            return equal == (op == .strictEquals)
        default: break
        }
        try chargeText(a, operation)
        try chargeText(b, operation)
        let order: Int?
        switch (a, b) {
        case let (.string(x), .string(y)):
            order = JavaScript.compareStrings(x, y)
        case (.null, .null):
            order = 0
        case (.null, .string), (.string, .null):
            // JavaScript: null equals no string, and orders against one as 0 against the string's number.
            if op == .equals { return false }
            if op == .notEquals { return true }
            order = JavaScript.toNumeric(a).flatMap { x in JavaScript.toNumeric(b).flatMap { JavaScript.compare(x, $0) } }
        default:
            guard let x = JavaScript.toNumeric(a), let y = JavaScript.toNumeric(b), let compared = JavaScript.compare(x, y) else {
                throw JsonLogicError(.notANumber, at: operation.path, "\"\(op.rawValue)\" compares \(JavaScript.kind(of: a)) with \(JavaScript.kind(of: b)), which do not both convert to numbers")
            }
            order = compared
        }
        // An undefined order (NaN) satisfies no comparison, as in JavaScript.
        guard let order else { return op == .notEquals }
        switch op {
        case .equals: return order == 0
        case .notEquals: return order != 0
        case .less: return order < 0
        case .lessOrEqual: return order <= 0
        case .greater: return order > 0
        default: return order >= 0
        }
    }

    // MARK: - Data access

    /// `var`: a dotted path (`a.b.0`), a number (an array index), or empty/null for the whole data; the second
    /// argument replaces a missing value (not a present null). `length` of an array or string is its length.
    private mutating func variable(_ arguments: [JSONValue], _ data: JSONValue, _ operation: JsonLogicOperation) throws(JsonLogicError) -> JSONValue {
        let key = arguments.first ?? .null
        let fallback = arguments.count > 1 ? arguments[1] : .null
        guard let path = try pathText(key, operation) else { return data }
        var work = 0
        let found = Self.lookup(path, in: data, work: &work)
        try charge(work, operation)
        return found ?? fallback
    }

    private func pathText(_ key: JSONValue, _ operation: JsonLogicOperation) throws(JsonLogicError) -> String? {
        switch key {
        case .null: return nil
        case let .string(s): return s.isEmpty ? nil : s
        case .int, .double, .bool: return JavaScript.toString(key)
        case .array, .object:
            throw JsonLogicError(.invalidArguments, at: operation.path, "a data path is a string or a number, got \(JavaScript.kind(of: key))")
        }
    }

    /// `work` counts the segments and object members looked at: a wide object costs what it takes to search.
    static func lookup(_ path: String, in data: JSONValue, work: inout Int) -> JSONValue? {
        var current = data
        for segment in path.split(separator: ".", omittingEmptySubsequences: false) {
            guard let next = child(String(segment), of: current, work: &work) else { return nil }
            current = next
        }
        return current
    }

    private static func child(_ key: String, of value: JSONValue, work: inout Int) -> JSONValue? {
        work += 1
        switch value {
        case let .object(members):
            work += members.count
            return members.last { $0.0 == key }?.1
        case let .array(items):
            if key == "length" { return .int(Int64(items.count)) }
            guard let index = arrayIndex(key), index < items.count else { return nil }
            return items[index]
        case let .string(s):
            return key == "length" ? .int(Int64(s.utf16.count)) : nil
        default:
            return nil
        }
    }

    /// A canonical array index as JavaScript reads a property name: digits, no leading zero.
    private static func arrayIndex(_ key: String) -> Int? {
        let bytes = Array(key.utf8)
        guard !bytes.isEmpty, bytes.allSatisfy({ (48...57).contains($0) }), bytes.count == 1 || bytes[0] != 48 else { return nil }
        return Int(key)
    }

    /// `val`: a path given as separate keys (no dot splitting); nothing for the whole data.
    private mutating func value(_ arguments: [JSONValue], _ data: JSONValue, _ operation: JsonLogicOperation) throws(JsonLogicError) -> JSONValue {
        var current = data
        var work = 0
        for key in arguments {
            switch key {
            case let .string(s): current = Self.child(s, of: current, work: &work) ?? .null
            case .int, .double: current = Self.child(JavaScript.toString(key), of: current, work: &work) ?? .null
            default:
                throw JsonLogicError(.invalidArguments, at: operation.path, "\"val\" takes keys (strings or numbers), got \(JavaScript.kind(of: key))")
            }
        }
        try charge(work, operation)
        return current
    }

    /// The keys (given as the arguments, or as an array in the first) whose value is absent, null or "".
    private mutating func missing(_ arguments: [JSONValue], _ data: JSONValue, _ operation: JsonLogicOperation) throws(JsonLogicError) -> JSONValue {
        let keys = arguments.first?.arrayValue ?? arguments
        try charge(keys.count, operation)
        var absent = [JSONValue]()
        for key in keys {
            let found: JSONValue?
            if let path = try pathText(key, operation) {
                var work = 0
                found = Self.lookup(path, in: data, work: &work)
                try charge(work, operation)
            } else {
                found = data
            }
            switch found {
            case nil, .null?, .string("")?: absent.append(key)
            default: break
            }
        }
        try checkArray(absent.count, operation)
        return .array(absent)
    }

    private mutating func missingSome(_ arguments: [JSONValue], _ data: JSONValue, _ operation: JsonLogicOperation) throws(JsonLogicError) -> JSONValue {
        guard let needed = JavaScript.toNumber(arguments[0]), let options = arguments[1].arrayValue else {
            throw JsonLogicError(.invalidArguments, at: operation.path, "\"missing_some\" takes a count and an array of keys")
        }
        let absent = try missing([arguments[1]], data, operation)
        let absentCount = absent.arrayValue?.count ?? 0
        return Double(options.count - absentCount) >= needed ? .array([]) : absent
    }

    // MARK: - Iteration

    /// `map`, `filter`, `reduce`, `all`, `none`, `some`: the second argument is evaluated with each element as its
    /// data (`reduce`: `{"current", "accumulator"}`). A missing array maps and filters to nothing and reduces to
    /// the initial value; `all`, `none` and `some` need an array to decide anything.
    private mutating func iterate(_ operation: JsonLogicOperation, _ data: JSONValue) throws(JsonLogicError) -> JSONValue {
        let op = operation.op
        let items: [JSONValue]
        switch try evaluate(operation.arguments[0], data) {
        case let .array(elements):
            items = elements
        case .null where op == .map || op == .filter || op == .reduce:
            items = []
        case let other:
            throw JsonLogicError(.invalidArguments, at: operation.path, "\"\(op.rawValue)\" iterates over an array, got \(JavaScript.kind(of: other))")
        }
        let body = operation.arguments[1]
        switch op {
        case .map:
            var mapped = [JSONValue]()
            mapped.reserveCapacity(items.count)
            for item in items {
                try charge(1, operation)
                mapped.append(try evaluate(body, item))
            }
            try checkArray(mapped.count, operation)
            return .array(mapped)
        case .filter:
            var kept = [JSONValue]()
            for item in items {
                try charge(1, operation)
                if JavaScript.isTruthy(try evaluate(body, item)) { kept.append(item) }
            }
            try checkArray(kept.count, operation)
            return .array(kept)
        case .reduce:
            var accumulator = operation.arguments.count > 2 ? try evaluate(operation.arguments[2], data) : .null
            for item in items {
                try charge(1, operation)
                accumulator = try evaluate(body, .object([("current", item), ("accumulator", accumulator)]))
                // The only value fed back into the rule: `[accumulator]` would otherwise nest once per element,
                // deeper than any encoder, comparison or deallocation should recurse.
                var work = 0
                let tooDeep = JavaScript.nests(accumulator, deeperThan: limits.maxDepth, work: &work)
                try charge(work, operation)
                if tooDeep {
                    throw JsonLogicError(.limitExceeded(.depth), at: operation.path, "the accumulator nests deeper than \(limits.maxDepth) levels")
                }
            }
            return accumulator
        case .all:
            if items.isEmpty { return .bool(false) }
            for item in items {
                try charge(1, operation)
                if !JavaScript.isTruthy(try evaluate(body, item)) { return .bool(false) }
            }
            return .bool(true)
        default:
            for item in items {
                try charge(1, operation)
                if JavaScript.isTruthy(try evaluate(body, item)) { return .bool(op == .some) }
            }
            return .bool(op == .none)
        }
    }

    // MARK: - Numbers

    /// `+ - * / %` on numbers converted as JavaScript converts them; a value that converts to no number, a
    /// division by zero and a result past the finite doubles are errors, never NaN or Infinity in a result.
    private mutating func arithmetic(_ arguments: [JSONValue], _ operation: JsonLogicOperation) throws(JsonLogicError) -> JSONValue {
        var operands = [Double]()
        operands.reserveCapacity(arguments.count)
        for argument in arguments {
            try chargeText(argument, operation)
            guard let number = JavaScript.toNumber(argument) else {
                throw JsonLogicError(.notANumber, at: operation.path, "\"\(operation.op.rawValue)\" needs numbers, got \(JavaScript.kind(of: argument))")
            }
            operands.append(number)
        }
        let result: Double
        switch operation.op {
        case .plus:
            result = operands.reduce(0, +)
        case .times:
            result = operands.reduce(1, *)
        case .minus:
            result = operands.count == 1 ? -operands[0] : operands.dropFirst().reduce(operands[0], -)
        case .divide:
            let (dividend, divisors) = operands.count == 1 ? (1, operands[...]) : (operands[0], operands.dropFirst())
            guard !divisors.contains(0) else {
                throw JsonLogicError(.notANumber, at: operation.path, "division by zero")
            }
            result = divisors.reduce(dividend, /)
        default:
            result = operands.dropFirst().reduce(operands[0]) { $0.truncatingRemainder(dividingBy: $1) }
        }
        return try number(result, operation)
    }

    /// `max`/`min` of numbers (strings are not converted: the larger of "10" and "9" is no question for a rule).
    private func extremum(_ arguments: [JSONValue], _ operation: JsonLogicOperation) throws(JsonLogicError) -> JSONValue {
        var best: (value: JSONValue, numeric: JavaScript.Numeric)?
        for argument in arguments {
            let numeric: JavaScript.Numeric
            switch argument {
            case let .int(i): numeric = .int(i)
            case let .double(d) where !d.isNaN: numeric = .double(d)
            default:
                throw JsonLogicError(.invalidArguments, at: operation.path, "\"\(operation.op.rawValue)\" takes numbers, got \(JavaScript.kind(of: argument))")
            }
            if let current = best, let order = JavaScript.compare(numeric, current.numeric),
                operation.op == .max ? order <= 0 : order >= 0
            {
                continue
            }
            best = (argument, numeric)
        }
        guard let best else {
            throw JsonLogicError(.invalidArguments, at: operation.path, "\"\(operation.op.rawValue)\" needs at least one number")
        }
        return best.value
    }

    /// A computed number as JSON: integral values within 2^53 as integers (`4 / 2` is `2`), others as doubles.
    private func number(_ value: Double, _ operation: JsonLogicOperation) throws(JsonLogicError) -> JSONValue {
        if value.isNaN {
            throw JsonLogicError(.notANumber, at: operation.path, "\"\(operation.op.rawValue)\" has no numeric result")
        }
        guard value.isFinite else {
            throw JsonLogicError(.outOfRange, at: operation.path, "\"\(operation.op.rawValue)\" overflows the numbers JSON can carry")
        }
        if value.rounded() == value && value.magnitude <= 9_007_199_254_740_992 { return .int(Int64(value)) }
        return .double(value)
    }

    // MARK: - Strings and arrays

    /// `merge`: arrays flattened one level, other values kept as elements.
    private mutating func merge(_ arguments: [JSONValue], _ operation: JsonLogicOperation) throws(JsonLogicError) -> JSONValue {
        var merged = [JSONValue]()
        for argument in arguments {
            if case let .array(items) = argument { merged.append(contentsOf: items) } else { merged.append(argument) }
            try checkArray(merged.count, operation)
        }
        try charge(merged.count, operation)
        return .array(merged)
    }

    /// `cat`: each argument as JavaScript's `String()` makes it, nulls left out.
    private mutating func concatenate(_ arguments: [JSONValue], _ operation: JsonLogicOperation) throws(JsonLogicError) -> JSONValue {
        var units = 0
        var text = ""
        for argument in arguments where !argument.isNull {
            let piece = try string(argument, operation)
            units += piece.utf16.count
            try checkString(units, operation)
            text += piece
        }
        try charge(units, operation)
        return .string(text)
    }

    private func string(_ value: JSONValue, _ operation: JsonLogicOperation) throws(JsonLogicError) -> String {
        if case let .string(s) = value { return s }
        let text = JavaScript.toString(value)
        try checkString(text.utf16.count, operation)
        return text
    }

    /// `in`: membership (strict equality) in an array, or a substring of a string; false for anything else.
    private mutating func contains(_ arguments: [JSONValue], _ operation: JsonLogicOperation) throws(JsonLogicError) -> JSONValue {
        let needle = arguments.first ?? .null
        switch arguments.count > 1 ? arguments[1] : .null {
        case let .array(items):
            var work = 0
            let found = items.contains { JavaScript.strictEquals(needle, $0, work: &work) }
            try charge(work, operation)
            return .bool(found)
        case let .string(haystack):
            let units = Array(haystack.utf16)
            try charge(units.count, operation)
            return .bool(JavaScript.contains(units, Array(try string(needle, operation).utf16)))
        default:
            return .bool(false)
        }
    }

    /// `substr`: JavaScript's `String(source).substr(start, length)` in UTF-16 code units; a negative start counts
    /// from the end, a negative length leaves that many units off the end. Indices are clamped before they
    /// become integers, so no index is too large.
    private mutating func substring(_ arguments: [JSONValue], _ operation: JsonLogicOperation) throws(JsonLogicError) -> JSONValue {
        let units = Array(try string(arguments[0], operation).utf16)
        let count = Double(units.count)
        func integer(_ value: JSONValue) throws(JsonLogicError) -> Double {
            guard let number = JavaScript.toNumber(value) else {
                throw JsonLogicError(.notANumber, at: operation.path, "\"substr\" needs numeric positions, got \(JavaScript.kind(of: value))")
            }
            return number.rounded(.towardZero)
        }
        let start = arguments.count > 1 ? try integer(arguments[1]) : 0
        let from = start < 0 ? Swift.max(count + start, 0) : Swift.min(start, count)
        var length = count - from
        if arguments.count > 2 {
            let requested = try integer(arguments[2])
            length = requested < 0 ? Swift.max(length + requested, 0) : Swift.min(requested, length)
        }
        let lower = Int(from), upper = Int(from + length)
        try checkString(upper - lower, operation)
        try charge(upper - lower, operation)
        return .string(String(decoding: units[lower..<upper], as: UTF16.self))
    }

    /// Reading a string (comparing it, converting it to a number) costs its length.
    private mutating func chargeText(_ value: JSONValue, _ operation: JsonLogicOperation) throws(JsonLogicError) {
        if case let .string(s) = value { try charge(s.utf8.count, operation) }
    }

    private func checkString(_ units: Int, _ operation: JsonLogicOperation) throws(JsonLogicError) {
        guard units <= limits.maxStringLength else {
            throw JsonLogicError(.limitExceeded(.stringLength), at: operation.path, "the string would exceed \(limits.maxStringLength) UTF-16 code units")
        }
    }

    private func checkArray(_ count: Int, _ operation: JsonLogicOperation) throws(JsonLogicError) {
        guard count <= limits.maxArrayLength else {
            throw JsonLogicError(.limitExceeded(.arrayLength), at: operation.path, "the array would exceed \(limits.maxArrayLength) elements")
        }
    }
}
