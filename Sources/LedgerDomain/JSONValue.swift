import Foundation

/// A JSON document as a value. Objects keep their members in order so responses read the way they are written.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case let (.bool(a), .bool(b)): return a == b
        case let (.int(a), .int(b)): return a == b
        case let (.double(a), .double(b)): return a == b
        case let (.int(a), .double(b)), let (.double(b), .int(a)): return Double(a) == b
        case let (.string(a), .string(b)): return a == b
        case let (.array(a), .array(b)): return a == b
        case let (.object(a), .object(b)):
            guard a.count == b.count else { return false }
            let sortedA = a.sorted { $0.0 < $1.0 }, sortedB = b.sorted { $0.0 < $1.0 }
            return zip(sortedA, sortedB).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    public subscript(key: String) -> JSONValue? {
        guard case let .object(members) = self else { return nil }
        return members.first { $0.0 == key }?.1
    }

    public var stringValue: String? {
        if case let .string(s) = self { return s }
        return nil
    }

    public var intValue: Int64? {
        switch self {
        case let .int(i): return i
        case let .double(d) where d.rounded() == d && abs(d) < 9.0e15: return Int64(d)
        default: return nil
        }
    }

    public var doubleValue: Double? {
        switch self {
        case let .int(i): return Double(i)
        case let .double(d): return d
        default: return nil
        }
    }

    public var boolValue: Bool? {
        if case let .bool(b) = self { return b }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case let .array(a) = self { return a }
        return nil
    }

    public var objectValue: [(String, JSONValue)]? {
        if case let .object(o) = self { return o }
        return nil
    }

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral, ExpressibleByFloatLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(elements) }
    public init(nilLiteral: ()) { self = .null }
    public init(floatLiteral value: Double) { self = .double(value) }
}

// MARK: - Encoding

extension JSONValue {
    /// Compact UTF-8 JSON.
    public func encoded() -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(256)
        write(to: &out)
        return out
    }

    public var jsonString: String { String(decoding: encoded(), as: UTF8.self) }

    public func write(to out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case let .bool(b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case let .int(i): out.append(contentsOf: String(i).utf8)
        case let .double(d):
            if d.isFinite {
                if d.rounded() == d && abs(d) < 1e15 {
                    out.append(contentsOf: String(Int64(d)).utf8)
                } else {
                    out.append(contentsOf: "\(d)".utf8)
                }
            } else {
                out.append(contentsOf: "null".utf8)
            }
        case let .string(s): JSONValue.writeString(s, to: &out)
        case let .array(items):
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                item.write(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case let .object(members):
            out.append(UInt8(ascii: "{"))
            for (index, (key, value)) in members.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                JSONValue.writeString(key, to: &out)
                out.append(UInt8(ascii: ":"))
                value.write(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    static func writeString(_ s: String, to out: inout [UInt8]) { writeString(utf8: s.utf8, to: &out) }

    /// A JSON string of text given as its UTF-8 bytes (a database cell's, with no String in between). Inlinable, so
    /// that a caller in another module gets it made for its kind of bytes; bytes held together (a native string's, a
    /// cell's) are written without a copy.
    @inlinable
    public static func writeString<Bytes: Sequence<UInt8>>(utf8 bytes: Bytes, to out: inout [UInt8]) {
        if bytes.withContiguousStorageIfAvailable({ writeString(contiguous: $0, to: &out) }) != nil { return }
        Array(bytes).withUnsafeBufferPointer { writeString(contiguous: $0, to: &out) }
    }

    /// The runs that need no escape are appended whole: a view's document is mostly such runs, and appending them a
    /// byte at a time was most of rendering it.
    @usableFromInline
    static func writeString(contiguous bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var start = 0
        for index in 0..<bytes.count {
            let byte = bytes[index]
            guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
            start = index + 1
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [92, 34])
            case UInt8(ascii: "\\"): out.append(contentsOf: [92, 92])
            case 0x0A: out.append(contentsOf: [92, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [92, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [92, UInt8(ascii: "t")])
            default:
                // Digits of the rare control character computed here: a table made per call cost every string an allocation.
                let digit = { (nibble: UInt8) in nibble < 10 ? 48 + nibble : 87 + nibble }
                out.append(contentsOf: [92, UInt8(ascii: "u"), 48, 48, digit(byte >> 4), digit(byte & 0xF)])
            }
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start...]))
        out.append(UInt8(ascii: "\""))
    }
}

// MARK: - Decoding

/// Why a document was refused. `path` names the value in the document (`metadata.note`, `checks[2]`; empty
/// for the document itself).
public enum JSONParseError: Error, Equatable, Sendable {
    case malformed(String)
    case tooDeep(limit: Int)
    /// A string text cannot hold: not valid UTF-8, or containing NUL.
    case unacceptableString(path: String, reason: String)
    /// An object with more members, or an array with more elements, than the limit.
    case tooManyElements(path: String, limit: Int)
    case duplicateMember(path: String)

    /// The same refusal seen from the container: `key` is a member name or an array index (`[2]`).
    func inside(_ key: String) -> JSONParseError {
        switch self {
        case .malformed, .tooDeep: return self
        case let .unacceptableString(path, reason): return .unacceptableString(path: Self.join(key, path), reason: reason)
        case let .tooManyElements(path, limit): return .tooManyElements(path: Self.join(key, path), limit: limit)
        case let .duplicateMember(path): return .duplicateMember(path: Self.join(key, path))
        }
    }

    private static func join(_ key: String, _ path: String) -> String {
        if path.isEmpty { return key }
        return path.hasPrefix("[") ? key + path : key + "." + path
    }
}

extension JSONValue {
    /// Parses strictly (RFC 8259); nesting deeper than `maxDepth`, or a container with more than `maxElements`
    /// members or elements, is refused as soon as it is seen. `uniqueMembers` refuses an object naming a member
    /// twice (which RFC 8259 leaves open); documents PostgreSQL kept as `json` may hold such objects from
    /// before requests were checked for them, so reading stored documents leaves it off.
    public static func parse(_ bytes: [UInt8], maxDepth: Int = 32, maxElements: Int = .max,
                             uniqueMembers: Bool = false) throws(JSONParseError) -> JSONValue {
        try JSONParser.parse(bytes, maxDepth: maxDepth, maxElements: maxElements, uniqueMembers: uniqueMembers)
    }

    public static func parse(_ string: String, maxDepth: Int = 32, maxElements: Int = .max,
                             uniqueMembers: Bool = false) throws(JSONParseError) -> JSONValue {
        try parse(Array(string.utf8), maxDepth: maxDepth, maxElements: maxElements, uniqueMembers: uniqueMembers)
    }
}

extension JSONValue: Codable {
    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { return nil }
    }

    public init(from decoder: any Decoder) throws {
        if var array = try? decoder.unkeyedContainer() {
            var items = [JSONValue]()
            while !array.isAtEnd { items.append(try array.decode(JSONValue.self)) }
            self = .array(items)
            return
        }
        if let object = try? decoder.container(keyedBy: AnyKey.self) {
            let keys = object.allKeys.sorted { $0.stringValue < $1.stringValue }
            self = .object(try keys.map { ($0.stringValue, try object.decode(JSONValue.self, forKey: $0)) })
            return
        }
        let single = try decoder.singleValueContainer()
        if single.decodeNil() { self = .null }
        else if let b = try? single.decode(Bool.self) { self = .bool(b) }
        else if let i = try? single.decode(Int64.self) { self = .int(i) }
        else if let d = try? single.decode(Double.self) { self = .double(d) }
        else { self = .string(try single.decode(String.self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .null:
            var c = encoder.singleValueContainer(); try c.encodeNil()
        case let .bool(b):
            var c = encoder.singleValueContainer(); try c.encode(b)
        case let .int(i):
            var c = encoder.singleValueContainer(); try c.encode(i)
        case let .double(d):
            var c = encoder.singleValueContainer(); try c.encode(d)
        case let .string(s):
            var c = encoder.singleValueContainer(); try c.encode(s)
        case let .array(items):
            var c = encoder.unkeyedContainer()
            for item in items { try c.encode(item) }
        case let .object(members):
            var c = encoder.container(keyedBy: AnyKey.self)
            for (key, value) in members { try c.encode(value, forKey: AnyKey(stringValue: key)) }
        }
    }
}
