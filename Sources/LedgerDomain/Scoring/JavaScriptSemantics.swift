/// JavaScript's truthiness, conversions and comparisons over `JSONValue`, as JsonLogic's reference implementation
/// (JavaScript) applies them: rules written against jsonlogic.com behave the same here. Strings are compared,
/// measured and cut in UTF-16 code units, as JavaScript does.
enum JavaScript {
    /// `false`, `0`, `""`, `null` and the empty array are falsy; everything else, the empty object included, is truthy.
    static func isTruthy(_ value: JSONValue) -> Bool {
        switch value {
        case .null: return false
        case let .bool(b): return b
        case let .int(i): return i != 0
        case let .double(d): return d != 0 && !d.isNaN
        case let .string(s): return !s.isEmpty
        case let .array(items): return !items.isEmpty
        case .object: return true
        }
    }

    /// What a value is, for error messages: they name the type, never the value, which may be personal data
    /// from the document and of any size.
    static func kind(of value: JSONValue) -> String {
        switch value {
        case .null: return "null"
        case .bool: return "a boolean"
        case .int, .double: return "a number"
        case let .string(s): return s.isEmpty ? "an empty string" : "a string"
        case let .array(items): return items.isEmpty ? "an empty array" : "an array"
        case .object: return "an object"
        }
    }

    // MARK: - ToNumber

    /// `Number(value)`, or nil where JavaScript yields NaN. Arrays and objects never convert: JsonLogic treats a
    /// number made from `[1]` as a mistake, not as 1.
    static func toNumber(_ value: JSONValue) -> Double? {
        switch value {
        case .null: return 0
        case let .bool(b): return b ? 1 : 0
        case let .int(i): return Double(i)
        case let .double(d): return d.isNaN ? nil : d
        case let .string(s): return number(fromString: s)
        case .array, .object: return nil
        }
    }

    /// JavaScript's StringToNumber: surrounding white space ignored, empty is 0, decimal with optional sign and
    /// exponent, `0x`/`0o`/`0b` integers, `Infinity`; anything else is NaN (nil).
    static func number(fromString string: String) -> Double? {
        var scalars = Substring(string).unicodeScalars[...]
        while let first = scalars.first, isWhiteSpace(first) { scalars.removeFirst() }
        while let last = scalars.last, isWhiteSpace(last) { scalars.removeLast() }
        let text = String(String.UnicodeScalarView(scalars))
        if text.isEmpty { return 0 }
        switch text {
        case "Infinity", "+Infinity": return .infinity
        case "-Infinity": return -.infinity
        default: break
        }
        let bytes = Array(text.utf8)
        if bytes.count > 2, bytes[0] == UInt8(ascii: "0") {
            switch bytes[1] {
            case UInt8(ascii: "x"), UInt8(ascii: "X"): return integer(bytes[2...], radix: 16)
            case UInt8(ascii: "o"), UInt8(ascii: "O"): return integer(bytes[2...], radix: 8)
            case UInt8(ascii: "b"), UInt8(ascii: "B"): return integer(bytes[2...], radix: 2)
            default: break
            }
        }
        return decimal(bytes)
    }

    private static func integer(_ digits: ArraySlice<UInt8>, radix: Int) -> Double? {
        var value = 0.0
        for byte in digits {
            let digit: Int
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = Int(byte) - 48
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = Int(byte) - 87
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = Int(byte) - 55
            default: return nil
            }
            guard digit < radix else { return nil }
            value = value * Double(radix) + Double(digit)
        }
        return value
    }

    /// Validates JavaScript's StrDecimalLiteral, then lets Swift round it; Swift alone would also take `nan`,
    /// `inf` and hexadecimal floats, which JavaScript does not.
    private static func decimal(_ bytes: [UInt8]) -> Double? {
        var index = 0
        func digits() -> [UInt8] {
            let start = index
            while index < bytes.count, (48...57).contains(bytes[index]) { index += 1 }
            return Array(bytes[start..<index])
        }
        var sign = [UInt8]()
        if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
            sign = [bytes[index]]
            index += 1
        }
        let whole = digits()
        var fraction = [UInt8]()
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            fraction = digits()
        }
        guard !whole.isEmpty || !fraction.isEmpty else { return nil }
        var exponent = [UInt8]()
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            var exponentSign = [UInt8]()
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                exponentSign = [bytes[index]]
                index += 1
            }
            let exponentDigits = digits()
            guard !exponentDigits.isEmpty else { return nil }
            exponent = [UInt8(ascii: "e")] + exponentSign + exponentDigits
        }
        guard index == bytes.count else { return nil }
        // "5." and ".5" are JavaScript numbers; spelled out in full so that no parser quirk decides.
        let normalized = sign + (whole.isEmpty ? [48] : whole) + [UInt8(ascii: ".")] + (fraction.isEmpty ? [48] : fraction) + exponent
        return Double(String(decoding: normalized, as: UTF8.self))
    }

    /// ECMAScript's WhiteSpace and LineTerminator code points.
    private static func isWhiteSpace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F,
            0x3000, 0xFEFF:
            return true
        default:
            return false
        }
    }

    // MARK: - ToString

    /// `String(value)`: numbers as JavaScript prints them, arrays joined by commas (null elements empty).
    static func toString(_ value: JSONValue) -> String {
        switch value {
        case .null: return "null"
        case let .bool(b): return b ? "true" : "false"
        case let .int(i): return String(i)
        case let .double(d): return numberString(d)
        case let .string(s): return s
        case let .array(items): return items.map { $0.isNull ? "" : toString($0) }.joined(separator: ",")
        case .object: return "[object Object]"
        }
    }

    /// JavaScript's Number::toString: the shortest digits that round-trip (Swift's `description` finds the same
    /// digits), laid out plainly between 1e-7 and 1e21 and in exponent form (`1e+21`, `1.5e-7`) outside.
    static func numberString(_ number: Double) -> String {
        if number.isNaN { return "NaN" }
        if number == 0 { return "0" }
        if number.isInfinite { return number < 0 ? "-Infinity" : "Infinity" }
        let description = "\(number.magnitude)"
        let parts = description.split(separator: "e", maxSplits: 1)
        let mantissa = parts.first.map(String.init) ?? description
        let writtenExponent = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
        let integerDigits = mantissa.firstIndex(of: ".").map { mantissa.distance(from: mantissa.startIndex, to: $0) } ?? mantissa.count
        var digits = Array(mantissa.utf8.filter { $0 != UInt8(ascii: ".") })
        let leadingZeros = digits.prefix { $0 == UInt8(ascii: "0") }.count
        digits.removeFirst(leadingZeros)
        while digits.last == UInt8(ascii: "0") { digits.removeLast() }
        let k = digits.count
        let n = integerDigits - leadingZeros + writtenExponent
        let text = String(decoding: digits, as: UTF8.self)
        let body: String
        if k <= n && n <= 21 {
            body = text + String(repeating: "0", count: n - k)
        } else if 0 < n && n <= 21 {
            body = String(text.prefix(n)) + "." + String(text.dropFirst(n))
        } else if -6 < n && n <= 0 {
            body = "0." + String(repeating: "0", count: -n) + text
        } else {
            let exponent = n - 1
            let head = k == 1 ? text : String(text.prefix(1)) + "." + String(text.dropFirst())
            body = head + "e" + (exponent < 0 ? "-" : "+") + String(exponent.magnitude)
        }
        return number < 0 ? "-" + body : body
    }

    // MARK: - Comparison

    /// `a === b`. Arrays and objects compare by content (JavaScript compares references, which data has none of);
    /// `work` counts the values compared, so that comparing large documents is paid for.
    static func strictEquals(_ a: JSONValue, _ b: JSONValue, work: inout Int, depth: Int = 0) -> Bool {
        work += 1
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.string(x), .string(y)): return x.utf16.elementsEqual(y.utf16)
        case let (.array(x), .array(y)):
            guard depth < maxCompareDepth, x.count == y.count else { return false }
            return zip(x, y).allSatisfy { strictEquals($0, $1, work: &work, depth: depth + 1) }
        case let (.object(x), .object(y)):
            guard depth < maxCompareDepth, x.count == y.count else { return false }
            return x.allSatisfy { key, value in
                work += y.count
                return y.last { $0.0 == key }.map { strictEquals(value, $0.1, work: &work, depth: depth + 1) } ?? false
            }
        default:
            guard let x = numeric(a), let y = numeric(b) else { return false }
            return compare(x, y) == 0
        }
    }

    /// Data deeper than this is never equal: comparison must not recurse as deep as a hostile document goes.
    private static let maxCompareDepth = 256

    enum Numeric { case int(Int64), double(Double) }

    private static func numeric(_ value: JSONValue) -> Numeric? {
        switch value {
        case let .int(i): return .int(i)
        case let .double(d): return .double(d)
        default: return nil
        }
    }

    /// Numbers compare by their exact values: an integer with a double too, without rounding the integer to a
    /// double first (9007199254740993 is more than 9007199254740992.0). Nil when either side is NaN.
    static func compare(_ a: Numeric, _ b: Numeric) -> Int? {
        switch (a, b) {
        case let (.int(x), .int(y)): return order(x, y)
        case let (.int(x), .double(y)): return compare(x, y)
        case let (.double(x), .int(y)): return compare(y, x).map { -$0 }
        case let (.double(x), .double(y)):
            if x.isNaN || y.isNaN { return nil }
            return x < y ? -1 : (x == y ? 0 : 1)
        }
    }

    private static func order<T: Comparable>(_ x: T, _ y: T) -> Int { x < y ? -1 : (x == y ? 0 : 1) }

    /// An integer against a double, exactly: by the double's whole part, then by its fraction.
    private static func compare(_ integer: Int64, _ double: Double) -> Int? {
        if double.isNaN { return nil }
        // 2^63: every Int64 is below it, and every double at or above it is past every Int64.
        if double >= 9_223_372_036_854_775_808.0 { return -1 }
        if double < -9_223_372_036_854_775_808.0 { return 1 }
        let whole = double.rounded(.towardZero)
        guard let wholeInteger = Int64(exactly: whole) else { return nil }
        if integer != wholeInteger { return order(integer, wholeInteger) }
        let fraction = double - whole
        return fraction > 0 ? -1 : (fraction < 0 ? 1 : 0)
    }

    /// ToNumber keeping integers exact, for comparisons.
    static func toNumeric(_ value: JSONValue) -> Numeric? {
        switch value {
        case let .int(i): return .int(i)
        default: return toNumber(value).map(Numeric.double)
        }
    }

    static func compareStrings(_ a: String, _ b: String) -> Int {
        if a.utf16.elementsEqual(b.utf16) { return 0 }
        return a.utf16.lexicographicallyPrecedes(b.utf16) ? -1 : 1
    }

    /// Whether `value` nests more than `limit` arrays and objects; looks no deeper than that.
    static func nests(_ value: JSONValue, deeperThan limit: Int, work: inout Int) -> Bool {
        work += 1
        switch value {
        case let .array(items): return limit <= 0 || items.contains { nests($0, deeperThan: limit - 1, work: &work) }
        case let .object(members): return limit <= 0 || members.contains { nests($0.1, deeperThan: limit - 1, work: &work) }
        default: return false
        }
    }

    // MARK: - Strings as UTF-16

    /// Whether `needle` occurs in `haystack` (Knuth–Morris–Pratt, so a hostile pair costs linear time).
    static func contains(_ haystack: [UInt16], _ needle: [UInt16]) -> Bool {
        if needle.isEmpty { return true }
        guard needle.count <= haystack.count else { return false }
        var failure = [Int](repeating: 0, count: needle.count)
        var matched = 0
        for index in 1..<needle.count {
            while matched > 0 && needle[index] != needle[matched] { matched = failure[matched - 1] }
            if needle[index] == needle[matched] { matched += 1 }
            failure[index] = matched
        }
        matched = 0
        for unit in haystack {
            while matched > 0 && unit != needle[matched] { matched = failure[matched - 1] }
            if unit == needle[matched] { matched += 1 }
            if matched == needle.count { return true }
        }
        return false
    }
}
