import Foundation
import LedgerDomain

/// A JSON Schema of the OpenAPI 3.1 dialect that checks a value and renders itself for the document, so what
/// the service refuses and what the document says are one declaration.
public indirect enum Schema: Sendable {
    case string(StringRules)
    case integer(minimum: Int64? = nil, maximum: Int64? = nil)
    case number
    case boolean
    /// Exactly this string (`"object": "verification"`).
    case constant(String)
    case array(of: Schema, minItems: Int = 0, maxItems: Int? = nil, unique: Bool = false)
    case object([Property], description: String? = nil)
    /// An object whose member names are free (metadata): each value matches `values`.
    case map(values: Schema, maxMembers: Int? = nil, maxKeyLength: Int? = nil)
    /// The schema, or null.
    case nullable(Schema)
    /// Any of the schemas (the first that matches).
    case anyOf([Schema])
    /// The schema plus more members (an object that adds to another, such as a key with its secret).
    case extending(Schema, [Property])
    /// A shared component: rendered as `$ref` to `#/components/schemas/<name>`, checked as the schema.
    case named(String, Schema)
    /// Any JSON value.
    case any

    public struct StringRules: Sendable {
        public let minLength: Int
        public let maxLength: Int?
        public let choices: [String]?
        public let pattern: String?
        /// The pattern compiled once, not at every request (NSRegularExpression is immutable and Sendable).
        private let expression: NSRegularExpression?
        public let format: Format?
        public let description: String?

        public init(minLength: Int = 0, maxLength: Int? = nil, choices: [String]? = nil, pattern: String? = nil,
                    format: Format? = nil, description: String? = nil) {
            self.minLength = minLength
            self.maxLength = maxLength
            self.choices = choices
            self.pattern = pattern
            expression = pattern.flatMap { try? NSRegularExpression(pattern: $0) }
            self.format = format
            self.description = description
        }
    }

    public enum Format: String, Sendable {
        /// RFC 3339, as `Timestamp.parse` reads it.
        case dateTime = "date-time"
        case uuid
    }

    public struct Property: Sendable {
        public let name: String
        public let schema: Schema
        public let required: Bool
        public let description: String?

        public init(_ name: String, _ schema: Schema, required: Bool = false, description: String? = nil) {
            self.name = name
            self.schema = schema
            self.required = required
            self.description = description
        }
    }

    // MARK: shorthands

    /// Text of at most `maxLength` characters.
    public static func text(minLength: Int = 0, maxLength: Int, pattern: String? = nil, description: String? = nil) -> Schema {
        .string(StringRules(minLength: minLength, maxLength: maxLength, pattern: pattern, description: description))
    }

    /// One of the raw values of a domain vocabulary.
    public static func choice<T: RawRepresentable & CaseIterable>(_ type: T.Type, description: String? = nil) -> Schema where T.RawValue == String {
        .string(StringRules(choices: T.allCases.map(\.rawValue), description: description))
    }

    public static func choice(_ values: [String], description: String? = nil) -> Schema {
        .string(StringRules(choices: values, description: description))
    }

    public static let dateTime = Schema.string(StringRules(format: .dateTime))
    public static let uuid = Schema.string(StringRules(format: .uuid))
    public static let anyObject = Schema.map(values: .any)
}

/// Why a value does not match its schema: the parameter it names (`applicant.first_name`, `checks[2]`), the
/// error code the API answers with, a sentence, and what is wrong, for an operation that words its refusals as
/// another API does (`HTTPOperation.wording`).
public struct SchemaViolation: Error, Equatable, Sendable {
    public let param: String?
    public let code: String
    public let message: String
    public let fault: Fault

    public enum Fault: Sendable, Equatable {
        case unknown, duplicate, missing
        /// An empty text where the schema takes none.
        case empty
        case notAnInteger(String)
        case belowMinimum(Int64)
        case aboveMaximum(Int64)
        case notOneOf([String])
        /// Anything else (too long, a pattern, a format, a type in a JSON body).
        case other
    }

    public init(param: String?, code: String = "parameter_invalid", message: String, fault: Fault = .other) {
        self.param = param
        self.code = code
        self.message = message
        self.fault = fault
    }
}

// MARK: - Checking

extension Schema {
    /// Checks a JSON value; `path` names it in the refusal (empty for a whole body).
    public func validate(_ value: JSONValue, at path: String) throws(SchemaViolation) {
        let label = path.isEmpty ? "the body" : path
        let param: String? = path.isEmpty ? nil : path
        switch self {
        case .any:
            return
        case let .named(_, schema):
            try schema.validate(value, at: path)
        case let .nullable(schema):
            if value.isNull { return }
            try schema.validate(value, at: path)
        case let .string(rules):
            guard let text = value.stringValue else { throw SchemaViolation(param: param, message: "\(label) must be a string") }
            try rules.check(text, param: param, label: label)
        case let .constant(expected):
            guard value.stringValue == expected else { throw SchemaViolation(param: param, message: "\(label) must be \"\(expected)\"") }
        case let .integer(minimum, maximum):
            // JSON Schema counts 2.0 as an integer, so the checks read it as one (JSONValue.intValue does).
            guard let number = value.intValue else { throw SchemaViolation(param: param, message: "\(label) must be a whole number") }
            try Self.checkRange(number, minimum, maximum, param: param, label: label)
        case .number:
            switch value {
            case .int, .double: return
            default: throw SchemaViolation(param: param, message: "\(label) must be a number")
            }
        case .boolean:
            guard value.boolValue != nil else { throw SchemaViolation(param: param, message: "\(label) must be true or false") }
        case let .array(items, minItems, maxItems, unique):
            guard let elements = value.arrayValue else { throw SchemaViolation(param: param, message: "\(label) must be a list") }
            if elements.count < minItems {
                throw SchemaViolation(param: param, message: "\(label) must have at least \(minItems) item\(minItems == 1 ? "" : "s")")
            }
            if let maxItems, elements.count > maxItems {
                throw SchemaViolation(param: param, code: "list_too_long", message: "\(label) has more than \(maxItems) items")
            }
            for (index, element) in elements.enumerated() {
                try items.validate(element, at: "\(path)[\(index)]")
                if unique, elements[..<index].contains(element) {
                    throw SchemaViolation(param: "\(path)[\(index)]", message: "\(path)[\(index)] repeats an earlier item")
                }
            }
        case let .object(properties, _):
            try Self.checkObject(value, properties, param: param, path: path, label: label)
        case let .extending(base, more):
            try Self.checkObject(value, base.properties + more, param: param, path: path, label: label)
        case let .map(values, maxMembers, maxKeyLength):
            guard let members = value.objectValue else { throw SchemaViolation(param: param, message: "\(label) must be an object") }
            if let maxMembers, members.count > maxMembers {
                throw SchemaViolation(param: param, message: "\(label) has more than \(maxMembers) keys")
            }
            for (key, member) in members {
                if let maxKeyLength, key.isEmpty || key.unicodeScalars.count > maxKeyLength {
                    throw SchemaViolation(param: "\(path)[\(key)]", message: "\(label) keys are 1 to \(maxKeyLength) characters")
                }
                try values.validate(member, at: "\(path)[\(key)]")
            }
        case let .anyOf(choices):
            var first: SchemaViolation?
            for choice in choices {
                do throws(SchemaViolation) {
                    try choice.validate(value, at: path)
                    return
                } catch {
                    first = first ?? error
                }
            }
            if let first { throw first }
        }
    }

    /// Checks a query, path or header value, which arrives as text: integers and booleans are read from it. An
    /// empty text refused for any reason is refused as empty.
    public func validate(text: String, at name: String) throws(SchemaViolation) {
        do throws(SchemaViolation) {
            try validateText(text, at: name)
        } catch {
            guard text.isEmpty else { throw error }
            throw SchemaViolation(param: error.param, code: error.code, message: error.message, fault: .empty)
        }
    }

    private func validateText(_ text: String, at name: String) throws(SchemaViolation) {
        switch self {
        case let .named(_, schema):
            try schema.validateText(text, at: name)
        case let .integer(minimum, maximum):
            // Digits with an optional sign, and Int64's failable parse: a number too large is refused, not wrapped.
            let digits = text.hasPrefix("-") ? text.dropFirst() : Substring(text)
            guard !digits.isEmpty, digits.utf8.allSatisfy({ (48...57).contains($0) }), let number = Int64(text) else {
                throw SchemaViolation(param: name, message: "\(name) must be a whole number\(Self.rangeText(minimum, maximum))",
                                      fault: .notAnInteger(text))
            }
            try Self.checkRange(number, minimum, maximum, param: name, label: name)
        case .boolean:
            guard text == "true" || text == "false" else { throw SchemaViolation(param: name, message: "\(name) must be true or false") }
        case let .anyOf(choices):
            var first: SchemaViolation?
            for choice in choices {
                do throws(SchemaViolation) {
                    try choice.validateText(text, at: name)
                    return
                } catch {
                    first = first ?? error
                }
            }
            if let first { throw first }
        default:
            try validate(.string(text), at: name)
        }
    }

    /// The members of an object schema (empty for any other).
    var properties: [Property] {
        switch self {
        case let .object(properties, _): return properties
        case let .named(_, schema): return schema.properties
        case let .extending(base, more): return base.properties + more
        default: return []
        }
    }

    private static func checkObject(_ value: JSONValue, _ properties: [Property], param: String?, path: String, label: String) throws(SchemaViolation) {
        guard let members = value.objectValue else {
            throw SchemaViolation(param: param, message: path.isEmpty ? "the body must be a JSON object" : "\(label) must be an object")
        }
        let prefix = path.isEmpty ? "" : path + "."
        for (key, _) in members where !properties.contains(where: { $0.name == key }) {
            throw SchemaViolation(param: prefix + key, code: "parameter_unknown", message: "unknown parameter \(prefix + key)", fault: .unknown)
        }
        for property in properties {
            let name = prefix + property.name
            guard let member = members.first(where: { $0.0 == property.name })?.1 else {
                if property.required {
                    throw SchemaViolation(param: name, code: "parameter_missing", message: "\(name) is required", fault: .missing)
                }
                continue
            }
            try property.schema.validate(member, at: name)
        }
    }

    private static func checkRange(_ number: Int64, _ minimum: Int64?, _ maximum: Int64?, param: String?, label: String) throws(SchemaViolation) {
        if let minimum, number < minimum {
            throw SchemaViolation(param: param, message: "\(label) must be a whole number\(rangeText(minimum, maximum))", fault: .belowMinimum(minimum))
        }
        if let maximum, number > maximum {
            throw SchemaViolation(param: param, message: "\(label) must be a whole number\(rangeText(minimum, maximum))", fault: .aboveMaximum(maximum))
        }
    }

    private static func rangeText(_ minimum: Int64?, _ maximum: Int64?) -> String {
        switch (minimum, maximum) {
        case let (low?, high?): return " from \(low) to \(high)"
        case let (low?, nil): return " of at least \(low)"
        case let (nil, high?): return " of at most \(high)"
        case (nil, nil): return ""
        }
    }
}

extension Schema.StringRules {
    /// A pattern that does not compile matches nothing, so the mistake shows in the first test that sends a value.
    func matches(_ text: String) -> Bool {
        guard let expression else { return false }
        return expression.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }

    func check(_ text: String, param: String?, label: String) throws(SchemaViolation) {
        if let choices {
            guard choices.contains(text) else {
                throw SchemaViolation(param: param, message: "\(label) must be one of \(choices.joined(separator: ", "))", fault: .notOneOf(choices))
            }
            return
        }
        if text.unicodeScalars.count < minLength {
            throw minLength == 1
                ? SchemaViolation(param: param, message: "\(label) must not be empty")
                : SchemaViolation(param: param, message: "\(label) is shorter than \(minLength) characters")
        }
        // JSON Schema counts code points, not grapheme clusters.
        if let maxLength, text.unicodeScalars.count > maxLength {
            throw SchemaViolation(param: param, code: "string_too_long", message: "\(label) is longer than \(maxLength) characters")
        }
        if let pattern, !matches(text) {
            throw SchemaViolation(param: param, message: "\(label) does not have the expected form (\(pattern))")
        }
        switch format {
        case .dateTime?:
            guard Timestamp.parse(text) != nil else { throw SchemaViolation(param: param, message: "\(label) takes an RFC 3339 time") }
        case .uuid?:
            guard UUID(uuidString: text) != nil else { throw SchemaViolation(param: param, message: "\(label) takes a UUID") }
        case nil:
            break
        }
    }
}

// MARK: - Rendering

extension Schema {
    /// The schema as the document shows it; every `named` schema met is added to `components`.
    public func rendered(into components: inout [String: JSONValue]) -> JSONValue {
        switch self {
        case .any:
            return .object([])
        case let .named(name, schema):
            if components[name] == nil {
                components[name] = .object([]) // a placeholder while rendering, so a self-reference ends
                components[name] = schema.rendered(into: &components)
            }
            return ["$ref": .string("#/components/schemas/\(name)")]
        case let .nullable(schema):
            var inner = schema.rendered(into: &components)
            guard case let .object(members) = inner else { return inner }
            if let type = members.first(where: { $0.0 == "type" })?.1.stringValue {
                inner = .object(members.map { $0.0 == "type" ? ("type", [.string(type), "null"]) : $0 }
                    .map { $0.0 == "enum" ? ("enum", .array(($0.1.arrayValue ?? []) + [.null])) : $0 })
                return inner
            }
            return ["anyOf": [inner, ["type": "null"]]]
        case let .string(rules):
            var members: [(String, JSONValue)] = [("type", "string")]
            if let choices = rules.choices { members.append(("enum", .array(choices.map(JSONValue.string)))) }
            if rules.minLength > 0 { members.append(("minLength", .int(Int64(rules.minLength)))) }
            if let maxLength = rules.maxLength { members.append(("maxLength", .int(Int64(maxLength)))) }
            // No text holds NUL: the JSON parser and the HTTP engine refuse it before any schema is checked, so
            // the document says so wherever no pattern of the string's own says more.
            if rules.choices == nil { members.append(("pattern", .string(rules.pattern ?? "^[^\\x00]*$"))) }
            if let format = rules.format { members.append(("format", .string(format.rawValue))) }
            if let description = rules.description { members.append(("description", .string(description))) }
            return .object(members)
        case let .constant(value):
            return ["type": "string", "const": .string(value)]
        case let .integer(minimum, maximum):
            var members: [(String, JSONValue)] = [("type", "integer")]
            if let minimum { members.append(("minimum", .int(minimum))) }
            if let maximum { members.append(("maximum", .int(maximum))) }
            return .object(members)
        case .number:
            return ["type": "number"]
        case .boolean:
            return ["type": "boolean"]
        case let .array(items, minItems, maxItems, unique):
            var members: [(String, JSONValue)] = [("type", "array"), ("items", items.rendered(into: &components))]
            if minItems > 0 { members.append(("minItems", .int(Int64(minItems)))) }
            if let maxItems { members.append(("maxItems", .int(Int64(maxItems)))) }
            if unique { members.append(("uniqueItems", true)) }
            return .object(members)
        case let .object(properties, description):
            return Self.renderObject(properties, description: description, into: &components)
        case let .extending(base, more):
            // One flat object rather than allOf: every member is declared in one place, so the object stays closed.
            return Self.renderObject(base.properties + more, description: nil, into: &components)
        case let .map(values, maxMembers, maxKeyLength):
            var members: [(String, JSONValue)] = [("type", "object")]
            if case .any = values {} else { members.append(("additionalProperties", values.rendered(into: &components))) }
            if let maxMembers { members.append(("maxProperties", .int(Int64(maxMembers)))) }
            if let maxKeyLength { members.append(("propertyNames", ["minLength": 1, "maxLength": .int(Int64(maxKeyLength))])) }
            return .object(members)
        case let .anyOf(choices):
            return ["anyOf": .array(choices.map { $0.rendered(into: &components) })]
        }
    }

    private static func renderObject(_ properties: [Property], description: String?, into components: inout [String: JSONValue]) -> JSONValue {
        var members: [(String, JSONValue)] = [("type", "object")]
        if let description { members.append(("description", .string(description))) }
        let required = properties.filter(\.required).map { JSONValue.string($0.name) }
        if !required.isEmpty { members.append(("required", .array(required))) }
        members.append(("properties", .object(properties.map { property in
            var rendered = property.schema.rendered(into: &components)
            if let description = property.description, case let .object(inner) = rendered, !inner.contains(where: { $0.0 == "$ref" }) {
                rendered = .object(inner + [("description", .string(description))])
            }
            return (property.name, rendered)
        })))
        members.append(("additionalProperties", false))
        return .object(members)
    }
}
