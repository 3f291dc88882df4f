import Foundation
import LedgerDomain
import LedgerHTTP

/// A request's JSON object, read after its operation's schema has checked it: every member is known, of its
/// type and within its limits, so reading only picks values out. JSON null reads as absent.
public struct RequestBody: Sendable {
    /// Deep enough for a ruleset whose rules nest to JsonLogic's depth limit, inside the body and its `rules`
    /// object: the rule limit is the one that binds, so a rule the evaluator accepts is never refused as a body.
    public static let maxDepth = JsonLogicLimits.standard.maxDepth + 2
    /// Members of one object or elements of one array, at most: a 1 MB body could otherwise hold half a
    /// million values.
    public static let maxElements = 10_000

    let members: [(String, JSONValue)]

    /// Parses the request's body; an empty body is an empty object.
    static func parse(_ request: HTTPRequest) throws -> JSONValue {
        if request.body.isEmpty { return .object([]) }
        let contentType = request.header("Content-Type")?.lowercased() ?? ""
        guard contentType.hasPrefix("application/json") else {
            throw APIFailure(status: 415, type: "invalid_request_error", code: "unsupported_media_type",
                             message: "send the body as application/json (got \(contentType.isEmpty ? "no Content-Type" : contentType))",
                             param: nil)
        }
        do {
            return try JSONValue.parse(request.body, maxDepth: maxDepth, maxElements: maxElements, uniqueMembers: true)
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
    }

    init(_ value: JSONValue) {
        members = value.objectValue ?? []
    }

    func value(_ key: String) -> JSONValue? {
        guard let found = members.first(where: { $0.0 == key })?.1, !found.isNull else { return nil }
        return found
    }

    func string(_ key: String) -> String? { value(key)?.stringValue }

    /// A member the schema requires; absent only when the schema and the handler disagree.
    func requiredString(_ key: String) throws -> String {
        guard let text = string(key) else { throw APIFailure.missing(key) }
        return text
    }

    func bool(_ key: String) -> Bool? { value(key)?.boolValue }

    func choice<T: RawRepresentable>(_ key: String, _ type: T.Type) -> T? where T.RawValue == String {
        string(key).flatMap(T.init(rawValue:))
    }

    func requiredChoice<T: RawRepresentable>(_ key: String, _ type: T.Type) throws -> T where T.RawValue == String {
        guard let choice = choice(key, type) else { throw APIFailure.missing(key) }
        return choice
    }

    func stringList(_ key: String) -> [String]? { value(key)?.arrayValue?.compactMap(\.stringValue) }

    func object(_ key: String) -> RequestBody? { value(key).map(RequestBody.init) }
}
