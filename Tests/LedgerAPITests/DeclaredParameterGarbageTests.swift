import Foundation
import LedgerAPI
import LedgerDomain
import LedgerTestSupport
import XCTest

/// Garbage at every parameter the document declares (taken from the document, so a new operation is covered
/// without touching this test): huge and negative numbers, NUL, invalid UTF-8, overlong strings, wrong types,
/// parameters given twice. Each must be a 400 naming that parameter, decided before the handler runs, and the
/// server must keep serving.
final class DeclaredParameterGarbageTests: XCTestCase {
    var database: TestDatabase!
    var server: TestServer!
    var key = ""
    var document: JSONValue = .null

    override func setUpWithError() throws {
        database = try makeDatabase()
        server = try TestServer(database: database)
        key = try TestOrganization(database: database).adminKey
        document = try JSONValue.parse(LedgerApplication.openAPIDocument, maxDepth: 512)
    }

    override func tearDown() { server?.stop() }

    struct Operation {
        let method: String
        let path: String
        let parameters: [JSONValue]
        let body: JSONValue?
        var label: String { "\(method) \(path)" }
    }

    /// One request's parts, as bytes where garbage may not be text.
    struct Attempt {
        var method: String
        var label: String
        var path: [UInt8]
        var query: [UInt8] = []
        var headers: [(String, [UInt8])] = []
        var body: [UInt8]?
        /// The parameter the refusal must name (a prefix: `checks` covers `checks[0]`); nil where the HTTP engine
        /// refuses the path before any route (and so any parameter name) is known.
        var param: String?
    }

    func testGarbageInEveryDeclaredParameterIsRefusedWithA400NamingIt() throws {
        var attempts: [Attempt] = []
        var random = SplitMix64(seed: 20_261_201)
        for operation in try operations() {
            attempts += garbage(for: operation, random: &random)
        }
        XCTAssertGreaterThan(attempts.count, 300, "every operation's parameters were reached")
        for attempt in attempts {
            let (status, answer) = send(attempt)
            XCTAssertEqual(status, 400, "\(attempt.label): \(answer.prefix(400))")
            guard status == 400 else { continue }
            let param = answer.range(of: "\"param\":\"").map { answer[$0.upperBound...].prefix { $0 != "\"" } }.map(String.init)
            if let expected = attempt.param {
                XCTAssertTrue(param?.hasPrefix(expected) == true, "\(attempt.label): names \(param ?? "nothing"), not \(expected)")
            } else {
                XCTAssertNil(param, attempt.label)
            }
        }
        let health = send(Attempt(method: "GET", label: "health", path: Array("/healthz".utf8), param: ""))
        XCTAssertEqual(health.status, 200, "the server keeps serving")
    }

    // MARK: the declared operations

    func operations() throws -> [Operation] {
        guard let paths = document["paths"]?.objectValue else { throw XCTSkip("no paths") }
        var found: [Operation] = []
        for (path, methods) in paths {
            for (method, operation) in methods.objectValue ?? [] {
                let body = operation["requestBody"]?["content"]?["application/json"]?["schema"].map(resolve)
                found.append(Operation(method: method.uppercased(), path: path,
                                       parameters: (operation["parameters"]?.arrayValue ?? []).map(resolve), body: body))
            }
        }
        return found
    }

    func resolve(_ value: JSONValue) -> JSONValue {
        guard let reference = value["$ref"]?.stringValue else { return value }
        let parts = reference.dropFirst(2).split(separator: "/").map(String.init)
        var target: JSONValue? = document
        for part in parts { target = target?[part] }
        return resolve(target ?? .null)
    }

    // MARK: garbage

    func garbage(for operation: Operation, random: inout SplitMix64) -> [Attempt] {
        let pathParameters = operation.parameters.filter { $0["in"]?.stringValue == "path" }
        let validBody = operation.body.map { valid($0) }
        func base(_ label: String, param: String) -> Attempt {
            var path = operation.path
            for parameter in pathParameters { path = path.replacingOccurrences(of: "{\(parameter["name"]?.stringValue ?? "")}", with: "x") }
            return Attempt(method: operation.method, label: "\(operation.label) \(label)", path: Array(path.utf8),
                           headers: [("Authorization", Array("Bearer \(key)".utf8))] + (validBody == nil ? [] : [("Content-Type", Array("application/json".utf8))]),
                           body: validBody.map { $0.encoded() }, param: param)
        }
        var attempts: [Attempt] = []
        attempts.append(with(base("unknown query parameter", param: "zz_unknown")) { $0.query = Array("zz_unknown=1".utf8) })

        for parameter in operation.parameters {
            guard let name = parameter["name"]?.stringValue, let location = parameter["in"]?.stringValue else { continue }
            let schema = resolve(parameter["schema"] ?? .null)
            for (kind, bytes) in textGarbage(schema, random: &random) {
                var attempt = base("\(location) \(name): \(kind)", param: name)
                switch location {
                case "path":
                    var path = operation.path
                    for other in pathParameters where other["name"]?.stringValue != name {
                        path = path.replacingOccurrences(of: "{\(other["name"]?.stringValue ?? "")}", with: "x")
                    }
                    let parts = path.components(separatedBy: "{\(name)}")
                    attempt.path = Array(parts[0].utf8) + percentEncoded(bytes) + Array(parts.dropFirst().joined().utf8)
                    if bytes.contains(0) || String(validating: bytes, as: UTF8.self) == nil { attempt.param = nil }
                case "query":
                    attempt.query = Array(name.utf8) + Array("=".utf8) + percentEncoded(bytes)
                default:
                    guard !bytes.contains(0), !bytes.contains(13), !bytes.contains(10) else { continue } // not expressible in a header line
                    attempt.headers.append((name, bytes))
                }
                attempts.append(attempt)
            }
            if location == "query" {
                let value = percentEncoded(Array(textExample(schema).utf8))
                attempts.append(with(base("query \(name) given twice", param: name)) {
                    $0.query = Array(name.utf8) + Array("=".utf8) + value + Array("&".utf8) + Array(name.utf8) + Array("=".utf8) + value
                })
            }
        }

        if let body = operation.body, let validBody {
            attempts.append(with(base("body member unknown", param: "zz_unknown")) {
                $0.body = replacing(validBody, "zz_unknown", with: JSONValue.int(1).encoded())
            })
            for (name, schema) in body["properties"]?.objectValue ?? [] {
                let property = resolve(schema)
                for (kind, value) in jsonGarbage(property, random: &random) + [("invalid UTF-8 in a string", [0x22, 0x61, 0xC3, 0x28, 0x22])] {
                    attempts.append(with(base("body \(name): \(kind)", param: name)) {
                        $0.body = replacing(validBody, name, with: value)
                    })
                }
                let member = Array("\"\(name)\":".utf8) + (valid(property).encoded())
                attempts.append(with(base("body \(name) given twice", param: name)) {
                    $0.body = Array("{".utf8) + member + Array(",".utf8) + member + Array("}".utf8)
                })
            }
        }
        return attempts
    }

    /// Text no declared schema takes: NUL, invalid UTF-8, too long, and what the type rules out.
    func textGarbage(_ schema: JSONValue, random: inout SplitMix64) -> [(String, [UInt8])] {
        var cases: [(String, [UInt8])] = [
            ("NUL", Array("a".utf8) + [0] + Array("b".utf8)),
            ("invalid UTF-8", [0x61, 0xC3, 0x28, 0xFF]),
            ("random bytes with NUL", (0..<24).map { _ in UInt8(truncatingIfNeeded: random.next()) } + [0]),
        ]
        let integer = ([schema] + (schema["anyOf"]?.arrayValue ?? []).map(resolve)).first { $0["type"]?.stringValue == "integer" }
        if let integer {
            cases += [("huge number", Array("99999999999999999999999".utf8)), ("below Int64", Array("-9223372036854775809".utf8)),
                      ("fraction", Array("1.5".utf8)), ("word", Array("ten".utf8))]
            if let minimum = integer["minimum"]?.intValue { cases.append(("below the minimum", Array(String(minimum - 1).utf8))) }
            if let maximum = integer["maximum"]?.intValue { cases.append(("above the maximum", Array(String(maximum + 1).utf8))) }
        }
        if schema["enum"] != nil { cases.append(("not one of the values", Array("not-a-member".utf8))) }
        if let limit = schema["maxLength"]?.intValue { cases.append(("overlong", Array(String(repeating: "x", count: Int(limit) + 1).utf8))) }
        if schema["format"]?.stringValue == "date-time" { cases.append(("not a time", Array("2026-13-45T99:00:00Z".utf8))) }
        if schema["format"]?.stringValue == "uuid" { cases.append(("not a UUID", Array("evt_1".utf8))) }
        return cases
    }

    /// Values of the wrong type, out of range, too long or holding NUL, for a body member of this schema.
    func jsonGarbage(_ schema: JSONValue, random: inout SplitMix64) -> [(String, [UInt8])] {
        jsonValueGarbage(schema, random: &random).map { ($0.0, $0.1.encoded()) }
    }

    func jsonValueGarbage(_ schema: JSONValue, random: inout SplitMix64) -> [(String, JSONValue)] {
        var cases: [(String, JSONValue)] = [("NUL in a string", .string("a\u{0}b"))]
        let types = typeNames(schema)
        guard !types.isEmpty else { return cases } // any value: only what no text may hold
        if !types.contains("string") {
            cases.append(("a string", .string("x")))
        } else {
            // A member that takes numbers too (a custom score's value) has no wrong number.
            if types.isDisjoint(with: ["number", "integer"]) { cases.append(("a number", .int(12_345))) }
            if let limit = schema["maxLength"]?.intValue { cases.append(("overlong", .string(String(repeating: "y", count: Int(limit) + 1)))) }
            if schema["enum"] != nil { cases.append(("not one of the values", .string("not-a-member"))) }
        }
        if types.contains("integer") {
            cases += [("huge number", .double(1e25)), ("negative", .int(-1_000_000_000_000)), ("fraction", .double(1.5))]
        }
        if !types.contains("object") { cases.append(("an object", .object([("k", .string("v"))]))) }
        if !types.contains("array") { cases.append(("a list", .array([.string("x")]))) }
        if !types.contains("boolean") { cases.append(("a boolean", .bool(true))) }
        if types.contains("array") {
            cases.append(("a list of garbage", .array([.object([("random", .int(Int64(truncatingIfNeeded: random.next() >> 1)))])])))
            if let limit = schema["maxItems"]?.intValue { cases.append(("too many items", .array(Array(repeating: valid(resolve(schema["items"] ?? .null)), count: Int(limit) + 1)))) }
        }
        return cases
    }

    func typeNames(_ schema: JSONValue) -> Set<String> {
        if let anyOf = schema["anyOf"]?.arrayValue { return anyOf.reduce(into: Set<String>()) { $0.formUnion(typeNames(resolve($1))) } }
        if let name = schema["type"]?.stringValue { return [name] }
        if let names = schema["type"]?.arrayValue { return Set(names.compactMap(\.stringValue)) }
        if schema["const"] != nil { return ["string"] }
        return []
    }

    /// A value the schema accepts, as small as it allows.
    func valid(_ schema: JSONValue) -> JSONValue {
        let schema = resolve(schema)
        if let first = schema["anyOf"]?.arrayValue?.first { return valid(first) }
        if let first = schema["enum"]?.arrayValue?.first { return first }
        switch typeNames(schema).sorted().first {
        case "object"?:
            let required = Set((schema["required"]?.arrayValue ?? []).compactMap(\.stringValue))
            return .object((schema["properties"]?.objectValue ?? []).filter { required.contains($0.0) }.map { ($0.0, valid($0.1)) })
        case "array"?:
            let items = resolve(schema["items"] ?? .null)
            let count = Int(schema["minItems"]?.intValue ?? 0)
            return .array(schema["uniqueItems"]?.boolValue == true
                ? Array((items["enum"]?.arrayValue ?? []).prefix(count)) : Array(repeating: valid(items), count: count))
        case "integer"?: return .int(schema["minimum"]?.intValue ?? 1)
        case "number"?: return .int(1)
        case "boolean"?: return .bool(false)
        case "null"?: return .null
        default: return .string(textExample(schema))
        }
    }

    func textExample(_ schema: JSONValue) -> String {
        if let first = schema["enum"]?.arrayValue?.first?.stringValue { return first }
        if typeNames(schema).contains("integer") { return String(schema["minimum"]?.intValue ?? 1) }
        if schema["format"]?.stringValue == "date-time" { return "2030-01-01T00:00:00Z" }
        if schema["format"]?.stringValue == "uuid" { return UUID().uuidString.lowercased() }
        if schema["pattern"]?.stringValue?.hasPrefix("^[Hh]") == true { return "https://example.com/hook" }
        return String(repeating: "x", count: max(1, Int(schema["minLength"]?.intValue ?? 1)))
    }

    /// The body with one member replaced by bytes, which need not be JSON that JSONValue would write (a string
    /// that is not UTF-8).
    func replacing(_ object: JSONValue, _ key: String, with value: [UInt8]) -> [UInt8] {
        let others = JSONValue.object((object.objectValue ?? []).filter { $0.0 != key }).encoded()
        return Array(others.dropLast()) + (others.count > 2 ? Array(",".utf8) : []) + JSONValue.string(key).encoded() + Array(":".utf8)
            + value + Array("}".utf8)
    }

    // MARK: sending

    func percentEncoded(_ bytes: [UInt8]) -> [UInt8] {
        let unreserved = Set(Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8))
        let hex = Array("0123456789ABCDEF".utf8)
        return bytes.flatMap { byte in unreserved.contains(byte) ? [byte] : [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 15)]] }
    }

    func send(_ attempt: Attempt) -> (status: Int, answer: String) {
        guard let connection = try? RawConnection(port: server.port) else { return (0, "no connection") }
        var request = Array("\(attempt.method) ".utf8)
        request += attempt.path + (attempt.query.isEmpty ? [] : Array("?".utf8) + attempt.query) + Array(" HTTP/1.1\r\nHost: test\r\nConnection: close\r\n".utf8)
        for (name, value) in attempt.headers { request += Array("\(name): ".utf8) + value + Array("\r\n".utf8) }
        if let body = attempt.body { request += Array("Content-Length: \(body.count)\r\n\r\n".utf8) + body } else { request += Array("\r\n".utf8) }
        connection.send(request)
        let answer = connection.receive(timeout: 10)
        let status = answer.split(separator: " ", maxSplits: 2).dropFirst().first.flatMap { Int($0) } ?? 0
        return (status, answer)
    }
}

/// A small seeded generator, so a failure names garbage that the next run makes again.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

private func with<T>(_ value: T, _ change: (inout T) -> Void) -> T {
    var copy = value
    change(&copy)
    return copy
}
