import Foundation
import LedgerDomain

/// The OpenAPI 3.1 document of a set of operations: paths in the order declared, shared schemas, parameters
/// and responses under `components`, sorted by name so the output is stable.
public struct OpenAPIRendering: Sendable {
    public let title: String
    public let version: String
    public let description: String
    public let servers: [String]
    /// `components.securitySchemes`; operations with a scope use all of them, the others none.
    public let securitySchemes: [(String, JSONValue)]

    public init(title: String, version: String, description: String, servers: [String], securitySchemes: [(String, JSONValue)]) {
        self.title = title
        self.version = version
        self.description = description
        self.servers = servers
        self.securitySchemes = securitySchemes
    }

    public func document<Handler>(_ operations: [HTTPOperation<Handler>]) -> JSONValue {
        var schemas: [String: JSONValue] = [:]
        var parameters: [String: JSONValue] = [:]
        var responses: [String: JSONValue] = [:]
        var paths: [(String, [(String, JSONValue)])] = []
        for operation in operations {
            let rendered = render(operation, schemas: &schemas, parameters: &parameters, responses: &responses)
            if let index = paths.firstIndex(where: { $0.0 == operation.path }) {
                paths[index].1.append((operation.method.lowercased(), rendered))
            } else {
                paths.append((operation.path, [(operation.method.lowercased(), rendered)]))
            }
        }
        func sorted(_ values: [String: JSONValue]) -> JSONValue { .object(values.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }) }
        return .object([
            ("openapi", "3.1.0"),
            ("info", ["title": .string(title), "version": .string(version), "description": .string(description)]),
            ("servers", .array(servers.map { ["url": .string($0)] })),
            ("security", .array(securitySchemes.map { JSONValue.object([($0.0, [])]) })),
            ("paths", .object(paths.map { ($0.0, .object($0.1)) })),
            ("components", .object([
                ("securitySchemes", .object(securitySchemes)),
                ("parameters", sorted(parameters)),
                ("responses", sorted(responses)),
                ("schemas", sorted(schemas)),
            ])),
        ])
    }

    private func render<Handler>(_ operation: HTTPOperation<Handler>, schemas: inout [String: JSONValue],
                                 parameters: inout [String: JSONValue], responses: inout [String: JSONValue]) -> JSONValue {
        var members: [(String, JSONValue)] = [("operationId", .string(operation.id)), ("summary", .string(operation.summary))]
        var description = operation.description ?? ""
        if let scope = operation.scope {
            description += (description.isEmpty ? "" : " ") + "Needs the `\(scope)` scope."
        } else {
            members.append(("security", []))
        }
        if !description.isEmpty { members.append(("description", .string(description))) }
        if !operation.parameters.isEmpty {
            members.append(("parameters", .array(operation.parameters.map { parameter in
                let rendered = render(parameter, schemas: &schemas)
                guard let component = parameter.component else { return rendered }
                parameters[component] = rendered
                return ["$ref": .string("#/components/parameters/\(component)")]
            })))
        }
        if let body = operation.body {
            members.append(("requestBody", [
                "required": .bool(!body.properties.filter(\.required).isEmpty),
                "content": ["application/json": ["schema": body.rendered(into: &schemas)]],
            ]))
        }
        members.append(("responses", .object(operation.responses.sorted { $0.status < $1.status }.map { response in
            let rendered = render(response, schemas: &schemas)
            guard let component = response.component else { return (String(response.status), rendered) }
            responses[component] = rendered
            return (String(response.status), ["$ref": .string("#/components/responses/\(component)")])
        })))
        return .object(members)
    }

    private func render(_ parameter: Parameter, schemas: inout [String: JSONValue]) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("name", .string(parameter.name)), ("in", .string(parameter.location.rawValue)), ("required", .bool(parameter.required)),
        ]
        if let description = parameter.description { members.append(("description", .string(description))) }
        members.append(("schema", parameter.schema.rendered(into: &schemas)))
        return .object(members)
    }

    private func render(_ response: Response, schemas: inout [String: JSONValue]) -> JSONValue {
        var members: [(String, JSONValue)] = [("description", .string(response.description))]
        if !response.headers.isEmpty {
            members.append(("headers", .object(response.headers.map { header in
                (header.name, ["description": .string(header.description), "schema": header.schema.rendered(into: &schemas)])
            })))
        }
        if let schema = response.schema {
            let content: JSONValue = ["schema": schema.rendered(into: &schemas)]
            members.append(("content", .object([(response.contentType, content)])))
        }
        if !response.links.isEmpty {
            members.append(("links", .object(response.links.map { link in
                (link.name, ["operationId": .string(link.operationID),
                             "parameters": .object(link.parameters.map { ($0.0, .string($0.1)) })])
            })))
        }
        return .object(members)
    }
}

extension JSONValue {
    /// Indented two spaces, members in their order, one per line: for documents kept in the repository.
    public func pretty() -> String {
        var out = ""
        writePretty(into: &out, indent: 0)
        return out + "\n"
    }

    private func writePretty(into out: inout String, indent: Int) {
        let inner = String(repeating: " ", count: indent + 2), closing = String(repeating: " ", count: indent)
        switch self {
        case let .array(elements) where !elements.isEmpty:
            out += "[\n"
            for (index, element) in elements.enumerated() {
                out += inner
                element.writePretty(into: &out, indent: indent + 2)
                out += index == elements.count - 1 ? "\n" : ",\n"
            }
            out += closing + "]"
        case let .object(members) where !members.isEmpty:
            out += "{\n"
            for (index, (key, value)) in members.enumerated() {
                out += inner + JSONValue.string(key).jsonString + ": "
                value.writePretty(into: &out, indent: indent + 2)
                out += index == members.count - 1 ? "\n" : ",\n"
            }
            out += closing + "}"
        default:
            out += jsonString
        }
    }
}
