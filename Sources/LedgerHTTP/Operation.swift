import Foundation
import LedgerDomain

/// One operation of the API, declared once: from it come its route, the checks of every parameter, header
/// and body before its handler runs, and its entry in the OpenAPI document.
public struct HTTPOperation<Handler: Sendable>: Sendable {
    public let method: String
    public let path: String
    public let id: String
    public let summary: String
    public let description: String?
    /// The scope a key needs; nil for an operation anyone may call.
    public let scope: String?
    public let parameters: [Parameter]
    /// The JSON body it takes; nil for none.
    public let body: Schema?
    public let responses: [Response]
    /// How this operation words a refused parameter when not as the rest of the API does (the Stripe routes answer
    /// in Stripe's codes and sentences): the violation found, reworded; nil keeps it.
    public let wording: (@Sendable (SchemaViolation) -> SchemaViolation)?
    public let handler: Handler

    public init(_ method: String, _ path: String, id: String, summary: String, description: String? = nil, scope: String?,
                parameters: [Parameter] = [], body: Schema? = nil, responses: [Response],
                wording: (@Sendable (SchemaViolation) -> SchemaViolation)? = nil, handler: Handler) {
        self.method = method
        self.path = path
        self.id = id
        self.summary = summary
        self.description = description
        self.scope = scope
        self.parameters = parameters
        self.body = body
        self.responses = responses
        self.wording = wording
        self.handler = handler
    }

    /// Checks the path, query and header parameters: unknown or repeated query parameters are refused too. A
    /// refusal is worded as the operation words them.
    public func validateParameters(_ request: HTTPRequest) throws(SchemaViolation) {
        do throws(SchemaViolation) {
            try checkParameters(request)
        } catch {
            throw wording?(error) ?? error
        }
    }

    private func checkParameters(_ request: HTTPRequest) throws(SchemaViolation) {
        for parameter in parameters where parameter.location == .path {
            try parameter.schema.validate(text: request.parameter(parameter.name), at: parameter.name)
        }
        var seen = Set<String>()
        for (name, value) in request.query {
            guard let parameter = parameters.first(where: { $0.location == .query && $0.name == name }) else {
                throw SchemaViolation(param: name, code: "parameter_unknown", message: "unknown query parameter \(name)", fault: .unknown)
            }
            guard seen.insert(name).inserted else {
                throw SchemaViolation(param: name, code: "parameter_duplicate", message: "\(name) is given more than once", fault: .duplicate)
            }
            try parameter.schema.validate(text: value, at: name)
        }
        for parameter in parameters where parameter.location == .query && parameter.required && !seen.contains(parameter.name) {
            throw SchemaViolation(param: parameter.name, code: "parameter_missing", message: "\(parameter.name) is required", fault: .missing)
        }
        for parameter in parameters where parameter.location == .header {
            guard let value = request.header(parameter.name) else {
                if parameter.required {
                    throw SchemaViolation(param: parameter.name, code: "parameter_missing", message: "\(parameter.name) is required", fault: .missing)
                }
                continue
            }
            try parameter.schema.validate(text: value, at: parameter.name)
        }
    }
}

/// A path, query or header parameter. Query and header values are text; an integer schema reads one from it.
public struct Parameter: Sendable {
    public enum Location: String, Sendable { case path, query, header }

    public let name: String
    public let location: Location
    public let schema: Schema
    public let required: Bool
    public let description: String?
    /// A shared parameter: rendered as `$ref` to `#/components/parameters/<name>`.
    public let component: String?

    public init(_ name: String, in location: Location, _ schema: Schema, required: Bool = false, description: String? = nil,
                component: String? = nil) {
        self.name = name
        self.location = location
        self.schema = schema
        self.required = location == .path || required
        self.description = description
        self.component = component
    }

    public static func path(_ name: String, _ schema: Schema, description: String? = nil) -> Parameter {
        Parameter(name, in: .path, schema, description: description)
    }

    public static func query(_ name: String, _ schema: Schema, description: String? = nil) -> Parameter {
        Parameter(name, in: .query, schema, description: description)
    }
}

/// A status an operation answers with, what it means and its body.
public struct Response: Sendable {
    public let status: Int
    public let description: String
    public let schema: Schema?
    public let contentType: String
    public let headers: [Header]
    public let links: [Link]
    /// A shared response: rendered as `$ref` to `#/components/responses/<name>`.
    public let component: String?

    public struct Header: Sendable {
        public let name: String
        public let schema: Schema
        public let description: String

        public init(_ name: String, _ schema: Schema, _ description: String) {
            self.name = name
            self.schema = schema
            self.description = description
        }
    }

    /// How a client reaches a related operation from this response: its id and where each parameter comes from
    /// (`$response.body#/id`).
    public struct Link: Sendable {
        public let name: String
        public let operationID: String
        public let parameters: [(String, String)]

        public init(_ name: String, operationID: String, parameters: [(String, String)]) {
            self.name = name
            self.operationID = operationID
            self.parameters = parameters
        }
    }

    public init(_ status: Int, _ description: String, _ schema: Schema?, contentType: String = "application/json",
                headers: [Header] = [], links: [Link] = [], component: String? = nil) {
        self.status = status
        self.description = description
        self.schema = schema
        self.contentType = contentType
        self.headers = headers
        self.links = links
        self.component = component
    }
}
