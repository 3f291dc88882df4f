import Foundation
import LedgerDomain
import LedgerHTTP
import LedgerStorage

/// A read answers from a connection; a command runs in a transaction (with its Idempotency-Key, if any).
enum Endpoint: Sendable {
    case read(@Sendable (RequestContext) throws -> HTTPResponse)
    case command(@Sendable (RequestContext, PostgresConnection) throws -> HTTPResponse)
    /// A command with work to do before its transaction, such as resolving a URL's host, which may take long
    /// and must not hold a pooled connection meanwhile: the first closure runs outside any transaction and
    /// returns the transaction's body.
    case preparedCommand(@Sendable (RequestContext) throws -> (PostgresConnection) throws -> HTTPResponse)
    /// A command run through the engine, which opens the transaction itself (so that it can run it again).
    case engineCommand(@Sendable (RequestContext, CommandTransaction) throws -> HTTPResponse)

    var isCommand: Bool {
        if case .read = self { return false }
        return true
    }
}

/// The pipeline's command transaction, for the engine to open: with the request's Idempotency-Key, the
/// transaction that keeps its response (or the replay of the response kept before, without running anything).
struct CommandTransaction {
    let run: ((PostgresConnection) throws -> HTTPResponse) throws -> HTTPResponse
}

typealias APIOperation = HTTPOperation<Endpoint>

extension HTTPOperation where Handler == Endpoint {
    /// An operation of this API. The failures the pipeline itself answers with are added to `responses`, so
    /// the document lists every status an operation can return: 400 for any parameter (an unknown query
    /// parameter included), 401, 403, 429 and 503 for operations that need a key, 404 where the path names an
    /// object, 413 and 415 where a body is read, 409 and 422 for a command's `Idempotency-Key`, and 414 and 431,
    /// which the HTTP server answers for any request past its limits.
    static func api(_ method: String, _ path: String, id: String, summary: String, description: String? = nil, scope: Scope?,
                    parameters: [Parameter] = [], body: Schema? = nil, responses: [Response],
                    wording: (@Sendable (SchemaViolation) -> SchemaViolation)? = nil, _ endpoint: Endpoint) -> APIOperation {
        var parameters = parameters
        var all = responses
        func add(_ response: Response) {
            if !all.contains(where: { $0.status == response.status }) { all.append(response) }
        }
        let idempotent = method != "GET"
        if endpoint.isCommand, idempotent { parameters.append(APIParameters.idempotencyKey) }
        add(APIResponses.badRequest)
        add(APIResponses.uriTooLong)
        add(APIResponses.headersTooLarge)
        if scope != nil {
            add(APIResponses.unauthenticated)
            add(APIResponses.forbidden)
            add(APIResponses.rateLimited)
            add(APIResponses.unavailable)
        }
        if parameters.contains(where: { $0.location == .path }) { add(APIResponses.notFound) }
        if body != nil {
            add(APIResponses.tooLarge)
            add(APIResponses.unsupportedMediaType)
        }
        if endpoint.isCommand, idempotent {
            add(APIResponses.conflict)
            add(APIResponses.idempotencyMismatch)
        }
        return HTTPOperation(method, path, id: id, summary: summary, description: description, scope: scope?.rawValue,
                         parameters: parameters, body: body, responses: all, wording: wording, handler: endpoint)
    }
}

enum APIParameters {
    /// A view as the log had it at a time: its streams folded up to it.
    static let asOf = Parameter.query("as_of", .dateTime, description: "Fold the history up to this time (RFC 3339)")
    static let idempotencyKey = Parameter(
        "Idempotency-Key", in: .header, .text(minLength: 1, maxLength: 255, pattern: "^[\\x20-\\x7E]+$"),
        description: "Up to 255 printable ASCII characters. The same key with the same request replays the first response "
            + "(header Idempotent-Replayed: true); with another request it is refused (422); while the first is still running, 409. "
            + "Kept 24 hours.",
        component: "IdempotencyKey")

    static let ifMatch = Parameter(
        "If-Match", in: .header, .text(minLength: 1, maxLength: 40, pattern: "^(\\*|(W/)?\"\(version)\"|\(version))$"),
        description: "The ETag of a read (\"3\", or 3): the command runs only on that version, else 409 version_conflict. "
            + "* means any version.",
        component: "IfMatch")

    /// A stream version as If-Match takes it: the decimal numbers from 0 to Int64.max, exactly.
    static let version = digits(upTo: Int64.max)

    /// A regular expression for the decimal numbers from 0 to `limit`: any shorter one, or one as long that is
    /// smaller at its first differing figure, or `limit` itself.
    static func digits(upTo limit: Int64) -> String {
        let figures = String(limit).compactMap(\.wholeNumberValue)
        var choices = figures.count > 1 ? ["[0-9]{1,\(figures.count - 1)}"] : []
        for (index, figure) in figures.enumerated() where figure > 0 {
            let rest = figures.count - index - 1
            let prefix = figures[..<index].map(String.init).joined()
            choices.append(prefix + (figure == 1 ? "0" : "[0-\(figure - 1)]") + (rest > 0 ? "[0-9]{\(rest)}" : ""))
        }
        choices.append(String(limit))
        return "(" + choices.joined(separator: "|") + ")"
    }

    /// The id of an object in the path: never empty, at most 100 characters; an id that names nothing is 404.
    static func id(_ name: String = "id", _ description: String) -> Parameter {
        .path(name, .text(minLength: 1, maxLength: 100), description: description)
    }

    static let limit = Parameter.query("limit", .integer(minimum: 1, maximum: 100), description: "1 to 100; 10 unless the list says otherwise")
    static let startingAfter = Parameter.query("starting_after", .text(maxLength: 100),
                                               description: "The id of the last object of the previous page (empty: the first page)")

    /// A filter on one of a vocabulary's values.
    static func filter(_ name: String, _ schema: Schema, _ description: String) -> Parameter {
        .query(name, schema, description: description)
    }

    /// A filter on an exact text; an empty value does not filter (as `client_reference_id=` from an object
    /// that has none).
    static func filter(_ name: String, _ description: String) -> Parameter {
        .query(name, .text(maxLength: 200), description: description + " (empty: not filtered)")
    }

    /// `created[gte]` and its kin: an RFC 3339 time or Unix seconds.
    static func created(_ bound: String, _ meaning: String) -> Parameter {
        .query("created[\(bound)]", .anyOf([.dateTime, .integer(minimum: -62_135_596_800, maximum: 253_402_300_799)]),
               description: "Created \(meaning) this time (RFC 3339 or Unix seconds)")
    }
}

enum APIResponses {
    private static func error(_ status: Int, _ component: String, _ description: String, headers: [Response.Header] = []) -> Response {
        Response(status, description, APISchemas.error, headers: headers, component: component)
    }

    static let badRequest = error(400, "BadRequest", "A parameter, header or body member is missing, unknown, repeated or invalid "
        + "(param names it), or the body is not a JSON object of at most \(RequestBody.maxDepth) levels")
    static let unauthenticated = error(401, "Unauthenticated", "No API key, or an unknown or revoked one")
    static let forbidden = error(403, "Forbidden", "The key lacks the scope this operation needs")
    static let notFound = error(404, "NotFound", "No such object in the caller's organization and mode")
    static let conflict = error(409, "Conflict", "A stale If-Match, a command the object's state does not allow, "
        + "or a request with the same Idempotency-Key still running")
    static let tooLarge = error(413, "TooLarge", "The body is larger than the limit (1 MiB by default)")
    static let uriTooLong = error(414, "URITooLong", "The request target (path and query) is longer than the limit "
        + "(\(HTTPServer.Configuration().maxRequestTargetBytes >> 10) KiB)")
    static let headersTooLarge = error(431, "HeadersTooLarge", "The header fields add up to more than the limit "
        + "(\(HTTPServer.Configuration().maxHeaderBytes >> 10) KiB)")
    static let unsupportedMediaType = error(415, "UnsupportedMediaType", "The body is not application/json")
    static let idempotencyMismatch = error(422, "IdempotencyMismatch", "The Idempotency-Key was used with a different request")
    static let rateLimited = error(429, "RateLimited", "Too many requests for this key; see Retry-After",
                                   headers: [Response.Header("Retry-After", .integer(minimum: 0), "Seconds to wait")])
    static let unavailable = error(503, "Unavailable", "The database is unreachable or not migrated",
                                   headers: [Response.Header("Retry-After", .integer(minimum: 0), "Seconds to wait")])

    static let etag = Response.Header("ETag", .text(maxLength: 40), "The stream version, for If-Match")

    static func ok(_ description: String, _ schema: Schema, headers: [Response.Header] = [], links: [Response.Link] = []) -> Response {
        Response(200, description, schema, headers: headers, links: links)
    }

    static func created(_ description: String, _ schema: Schema, headers: [Response.Header] = [], links: [Response.Link] = []) -> Response {
        Response(201, description, schema, headers: headers, links: links)
    }

    /// From a response whose body is the object, to the operation that reads it again.
    static func get(_ operationID: String, id pointer: String = "/id", name: String? = nil) -> Response.Link {
        Response.Link(name ?? operationID, operationID: operationID, parameters: [("id", "$response.body#\(pointer)")])
    }
}
