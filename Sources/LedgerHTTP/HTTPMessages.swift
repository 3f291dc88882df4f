import Foundation
import LedgerDomain

public struct HTTPRequest: Sendable {
    /// The methods of HTTP itself (RFC 9110), for bounding what a request's method may add to metrics.
    public static let standardMethods: Set<String> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"]

    public let method: String
    public let path: String
    /// Query arguments in the order given, already percent-decoded.
    public let query: [(name: String, value: String)]
    /// Header names lowercased.
    public let headers: [String: String]
    public let body: [UInt8]
    public let requestID: String
    /// Filled by the router: the values of `{name}` segments of the matched route.
    public internal(set) var pathParameters: [String: String] = [:]
    /// Filled by the router: the template of the matched route, for logs and metrics.
    public internal(set) var routeTemplate: String?

    public init(method: String, path: String, query: [(name: String, value: String)] = [], headers: [String: String] = [:],
                body: [UInt8] = [], requestID: String) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.requestID = requestID
    }

    public func header(_ name: String) -> String? { headers[name.lowercased()] }

    public func queryValue(_ name: String) -> String? { query.first { $0.name == name }?.value }

    public func parameter(_ name: String) -> String { pathParameters[name] ?? "" }
}

public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]
    /// A body sent as it is produced (chunked) instead of `body`, for answers too long to hold in memory.
    public var stream: HTTPBodyStream?

    public init(status: Int, headers: [(String, String)] = [], body: [UInt8] = [], stream: HTTPBodyStream? = nil) {
        self.status = status
        self.headers = headers
        self.body = body
        self.stream = stream
    }

    public static func json(_ status: Int, _ value: JSONValue, headers: [(String, String)] = []) -> HTTPResponse {
        json(status, encoded: value.encoded(), headers: headers)
    }

    /// JSON already encoded: a stored document's text, or a page put together from such texts.
    public static func json(_ status: Int, encoded body: [UInt8], headers: [(String, String)] = []) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "application/json")] + headers, body: body)
    }

    /// The one error shape of the API: `{"error": {"type", "code", "message", "param"}}`.
    public static func error(_ status: Int, type: String, code: String, message: String, param: String? = nil,
                             headers: [(String, String)] = []) -> HTTPResponse {
        json(status, ["error": .object([
            ("type", .string(type)),
            ("code", .string(code)),
            ("message", .string(message)),
            ("param", param.map(JSONValue.string) ?? .null),
        ])], headers: headers)
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }
}

public typealias HTTPHandler = @Sendable (HTTPRequest) -> HTTPResponse

/// A response body written piece by piece. `produce` runs on the worker thread that ran the handler, after the
/// status and headers are sent; each `write` waits while the bytes not yet sent fill the server's buffer, so
/// memory stays bounded however long the body. `write` throws once the client is gone; a `produce` that throws
/// ends the body early (the client sees a truncated chunked body, not a complete one).
public final class HTTPBodyStream: Sendable {
    public let produce: @Sendable (_ write: ([UInt8]) throws -> Void) throws -> Void

    public init(_ produce: @escaping @Sendable (_ write: ([UInt8]) throws -> Void) throws -> Void) {
        self.produce = produce
    }
}
