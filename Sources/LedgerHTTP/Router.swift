import Foundation

/// Routes by method and path template (`/v1/verifications/{id}/attempts`) to handlers of any type.
public struct Router<Handler: Sendable>: Sendable {
    public struct Route: Sendable {
        public let method: String
        public let template: String
        let segments: [Segment]
        public let handler: Handler
    }

    public enum Resolution {
        /// The route, and the request with its path parameters and template filled in.
        case matched(Route, HTTPRequest)
        case methodNotAllowed(allowed: [String])
        case notFound
    }

    enum Segment: Sendable, Equatable {
        case literal(String)
        case parameter(String)
    }

    public private(set) var routes: [Route] = []
    /// Each route's method and segments, with its index in `routes`, grouped by how many segments it has and in the
    /// order of `routes` within a group: matched without touching a `Route`, whose layout depends on `Handler`, so that
    /// a request costs no generic copies of the routes it does not take, and tried only against the routes of its own
    /// number of segments (no other can match; scanning every route was 4 % of the server's CPU per command).
    private var patterns: [Int: [(route: Int, method: String, segments: [Segment])]] = [:]

    public init() {}

    public mutating func add(_ method: String, _ template: String, _ handler: Handler) {
        let segments = Self.split(template).map { part -> Segment in
            part.hasPrefix("{") && part.hasSuffix("}") ? .parameter(String(part.dropFirst().dropLast())) : .literal(part)
        }
        patterns[segments.count, default: []].append((routes.count, method, segments))
        routes.append(Route(method: method, template: template, segments: segments, handler: handler))
    }

    public func resolve(_ request: HTTPRequest) -> Resolution {
        let parts = request.path.split(separator: "/", omittingEmptySubsequences: true)
        var allowed: [String] = []
        for pattern in patterns[parts.count] ?? [] where Self.matches(pattern.segments, parts) {
            guard pattern.method == request.method || (request.method == "HEAD" && pattern.method == "GET") else {
                allowed.append(pattern.method)
                continue
            }
            var routed = request
            for (segment, part) in zip(pattern.segments, parts) {
                if case let .parameter(name) = segment { routed.pathParameters[name] = String(part) }
            }
            let route = routes[pattern.route]
            routed.routeTemplate = route.template
            return .matched(route, routed)
        }
        return allowed.isEmpty ? .notFound : .methodNotAllowed(allowed: allowed)
    }

    static func split(_ path: String) -> [String] {
        path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
    }

    /// Compares without allocating: every request is checked against most routes.
    static func matches(_ segments: [Segment], _ parts: [Substring]) -> Bool {
        guard segments.count == parts.count else { return false }
        for (segment, part) in zip(segments, parts) {
            if case let .literal(text) = segment, !text.utf8.elementsEqual(part.utf8) { return false }
        }
        return true
    }
}

extension HTTPResponse {
    public static func notFound(_ request: HTTPRequest) -> HTTPResponse {
        .error(404, type: "invalid_request_error", code: "route_not_found", message: "no route \(request.method) \(request.path)")
    }

    public static func methodNotAllowed(_ request: HTTPRequest, allowed: [String]) -> HTTPResponse {
        .error(405, type: "invalid_request_error", code: "method_not_allowed",
               message: "\(request.method) is not allowed on \(request.path); allowed: \(allowed.joined(separator: ", "))",
               headers: [("Allow", allowed.joined(separator: ", "))])
    }
}

extension Router where Handler == HTTPHandler {
    /// Answers the request, or 404 / 405 in the API's error shape.
    public func handle(_ request: HTTPRequest) -> HTTPResponse {
        switch resolve(request) {
        case let .matched(route, routed): return route.handler(routed)
        case let .methodNotAllowed(allowed): return .methodNotAllowed(request, allowed: allowed)
        case .notFound: return .notFound(request)
        }
    }
}
