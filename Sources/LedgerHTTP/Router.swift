import Foundation

/// Routes by method and path template (`/v1/verifications/{id}/attempts`).
public struct Router: Sendable {
    public struct Route: Sendable {
        public let method: String
        public let template: String
        let segments: [Segment]
        let handler: HTTPHandler
    }

    enum Segment: Sendable, Equatable {
        case literal(String)
        case parameter(String)
    }

    public private(set) var routes: [Route] = []

    public init() {}

    public mutating func add(_ method: String, _ template: String, _ handler: @escaping HTTPHandler) {
        let segments = Router.split(template).map { part -> Segment in
            part.hasPrefix("{") && part.hasSuffix("}") ? .parameter(String(part.dropFirst().dropLast())) : .literal(part)
        }
        routes.append(Route(method: method, template: template, segments: segments, handler: handler))
    }

    /// Answers the request, or 404 / 405 in the API's error shape.
    public func handle(_ request: HTTPRequest) -> HTTPResponse {
        let parts = Router.split(request.path)
        var allowed: [String] = []
        for route in routes {
            guard let parameters = Router.match(route.segments, parts) else { continue }
            guard route.method == request.method || (request.method == "HEAD" && route.method == "GET") else {
                allowed.append(route.method)
                continue
            }
            var routed = request
            routed.pathParameters = parameters
            routed.routeTemplate = route.template
            return route.handler(routed)
        }
        if !allowed.isEmpty {
            return .error(405, type: "invalid_request_error", code: "method_not_allowed",
                          message: "\(request.method) is not allowed on \(request.path); allowed: \(allowed.joined(separator: ", "))",
                          headers: [("Allow", allowed.joined(separator: ", "))])
        }
        return .error(404, type: "invalid_request_error", code: "route_not_found",
                      message: "no route \(request.method) \(request.path)")
    }

    /// The template a path would be routed to, for metrics and logs.
    public func template(for path: String) -> String? {
        let parts = Router.split(path)
        return routes.first { Router.match($0.segments, parts) != nil }?.template
    }

    static func split(_ path: String) -> [String] {
        path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
    }

    static func match(_ segments: [Segment], _ parts: [String]) -> [String: String]? {
        guard segments.count == parts.count else { return nil }
        var parameters: [String: String] = [:]
        for (segment, part) in zip(segments, parts) {
            switch segment {
            case let .literal(text): if text != part { return nil }
            case let .parameter(name): parameters[name] = part
            }
        }
        return parameters
    }
}
