import Foundation
import LedgerDomain
import LedgerHTTP

/// A JSON object from a request, read strictly: unknown members, wrong types and over-long strings are
/// refused with a 400 naming the parameter (`applicant.first_name` for nested members).
public struct RequestBody: Sendable {
    public static let maxDepth = 32
    /// Members of one object or elements of one array, at most: a 1 MB body could otherwise hold half a
    /// million values.
    public static let maxElements = 10_000
    public static let defaultMaxStringLength = 500

    let members: [(String, JSONValue)]
    let prefix: String

    /// Parses the request's body; an empty body is an empty object.
    static func parse(_ request: HTTPRequest, allowed: Set<String>) throws -> RequestBody {
        if request.body.isEmpty { return try RequestBody(.object([]), allowed: allowed, prefix: "") }
        let contentType = request.header("Content-Type")?.lowercased() ?? ""
        guard contentType.hasPrefix("application/json") else {
            throw APIFailure(status: 415, type: "invalid_request_error", code: "unsupported_media_type",
                             message: "send the body as application/json (got \(contentType.isEmpty ? "no Content-Type" : contentType))",
                             param: nil)
        }
        let value: JSONValue
        do {
            value = try JSONValue.parse(request.body, maxDepth: maxDepth, maxElements: maxElements, uniqueMembers: true)
        } catch .tooDeep(let limit) {
            throw APIFailure.invalid(nil, code: "body_too_deep", "the JSON body is nested deeper than \(limit) levels")
        } catch .malformed(let reason) {
            throw APIFailure.invalid(nil, code: "body_invalid_json", "the body is not valid JSON: \(reason)")
        } catch let .unacceptableString(path, reason) {
            throw APIFailure.invalid(path.isEmpty ? nil : path, "\(path.isEmpty ? "the body" : path): \(reason)")
        } catch let .tooManyElements(path, limit) {
            throw APIFailure.invalid(path.isEmpty ? nil : path, code: "body_too_many_elements",
                                     "\(path.isEmpty ? "the body" : path) has more than \(limit) members or elements")
        } catch let .duplicateMember(path) {
            throw APIFailure.invalid(path, code: "parameter_duplicate", "\(path) is given more than once")
        }
        return try RequestBody(value, allowed: allowed, prefix: "")
    }

    init(_ value: JSONValue, allowed: Set<String>, prefix: String) throws {
        guard let members = value.objectValue else {
            throw APIFailure.invalid(prefix.isEmpty ? nil : String(prefix.dropLast()), code: "parameter_invalid",
                                     prefix.isEmpty ? "the body must be a JSON object" : "\(prefix.dropLast()) must be an object")
        }
        for (key, _) in members where !allowed.contains(key) {
            throw APIFailure.invalid(prefix + key, code: "parameter_unknown", "unknown parameter \(prefix + key)")
        }
        self.members = members
        self.prefix = prefix
    }

    func value(_ key: String) -> JSONValue? {
        guard let found = members.first(where: { $0.0 == key })?.1, !found.isNull else { return nil }
        return found
    }

    func name(_ key: String) -> String { prefix + key }

    func has(_ key: String) -> Bool { members.contains { $0.0 == key } }

    func string(_ key: String, required: Bool = false, maxLength: Int = defaultMaxStringLength) throws -> String? {
        guard let value = value(key) else {
            if required { throw APIFailure.missing(name(key)) }
            return nil
        }
        guard let text = value.stringValue else { throw APIFailure.invalid(name(key), "\(name(key)) must be a string") }
        if required && text.isEmpty { throw APIFailure.missing(name(key)) }
        guard text.count <= maxLength else {
            throw APIFailure.invalid(name(key), code: "string_too_long", "\(name(key)) is longer than \(maxLength) characters")
        }
        return text
    }

    func requiredString(_ key: String, maxLength: Int = defaultMaxStringLength) throws -> String {
        guard let text = try string(key, required: true, maxLength: maxLength) else { throw APIFailure.missing(name(key)) }
        return text
    }

    func bool(_ key: String) throws -> Bool? {
        guard let value = value(key) else { return nil }
        guard let flag = value.boolValue else { throw APIFailure.invalid(name(key), "\(name(key)) must be true or false") }
        return flag
    }

    /// One of the raw values of `T`.
    func choice<T: RawRepresentable & CaseIterable>(_ key: String, _ type: T.Type, required: Bool = false) throws -> T?
    where T.RawValue == String {
        guard let text = try string(key, required: required, maxLength: 100) else { return nil }
        guard let choice = T(rawValue: text) else {
            throw APIFailure.invalid(name(key), "\(name(key)) must be one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return choice
    }

    func stringList(_ key: String, required: Bool = false, maxCount: Int = 100,
                    maxLength: Int = defaultMaxStringLength) throws -> [String]? {
        guard let value = value(key) else {
            if required { throw APIFailure.missing(name(key)) }
            return nil
        }
        guard let items = value.arrayValue else { throw APIFailure.invalid(name(key), "\(name(key)) must be a list of strings") }
        guard items.count <= maxCount else {
            throw APIFailure.invalid(name(key), code: "list_too_long", "\(name(key)) has more than \(maxCount) items")
        }
        return try items.enumerated().map { index, item in
            guard let text = item.stringValue else { throw APIFailure.invalid("\(name(key))[\(index)]", "\(name(key))[\(index)] must be a string") }
            guard text.count <= maxLength else {
                throw APIFailure.invalid("\(name(key))[\(index)]", code: "string_too_long", "\(name(key))[\(index)] is longer than \(maxLength) characters")
            }
            return text
        }
    }

    func object(_ key: String, allowed: Set<String>) throws -> RequestBody? {
        guard let value = value(key) else { return nil }
        return try RequestBody(value, allowed: allowed, prefix: name(key) + ".")
    }
}
