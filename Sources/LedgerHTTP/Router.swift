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
    /// Each route's method and segments, in the order of `routes`: matched without touching a `Route`, whose layout
    /// depends on `Handler`, so that a request costs no generic copies of the routes it does not take.
    private var patterns: [(method: String, segments: [Segment])] = []
    /// The indexes into `patterns` of the routes of each number of segments, in the order of `routes`: a path is only
    /// compared with the routes it could match (a route added late was compared with nearly every other, 8 % of the
    /// service's CPU on the Stripe report list).
    private var bySegmentCount: [Int: [Int]] = [:]

    public init() {}

    public mutating func add(_ method: String, _ template: String, _ handler: Handler) {
        let segments = Self.split(template).map { part -> Segment in
            part.hasPrefix("{") && part.hasSuffix("}") ? .parameter(String(part.dropFirst().dropLast())) : .literal(part)
        }
        bySegmentCount[segments.count, default: []].append(patterns.count)
        routes.append(Route(method: method, template: template, segments: segments, handler: handler))
        patterns.append((method, segments))
    }

    public func resolve(_ request: HTTPRequest) -> Resolution {
        let parts = request.path.split(separator: "/", omittingEmptySubsequences: true)
        var allowed: [String] = []
        for index in bySegmentCount[parts.count] ?? [] {
            let pattern = patterns[index]
            guard Self.matches(pattern.segments, parts) else { continue }
            guard pattern.method == request.method || (request.method == "HEAD" && pattern.method == "GET") else {
                allowed.append(pattern.method)
                continue
            }
            var routed = request
            for position in pattern.segments.indices {
                if case let .parameter(name) = pattern.segments[position] { routed.pathParameters[name] = String(parts[position]) }
            }
            let route = routes[index]
            routed.routeTemplate = route.template
            return .matched(route, routed)
        }
        return allowed.isEmpty ? .notFound : .methodNotAllowed(allowed: allowed)
    }

    static func split(_ path: String) -> [String] {
        path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
    }

    /// Compares without allocating, by position (a `zip` of the two looked up its generic metadata on each call).
    static func matches(_ segments: [Segment], _ parts: [Substring]) -> Bool {
        guard segments.count == parts.count else { return false }
        for position in segments.indices {
            if case let .literal(text) = segments[position], !text.utf8.elementsEqual(parts[position].utf8) { return false }
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
