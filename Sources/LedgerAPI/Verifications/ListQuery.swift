import Foundation
import LedgerDomain
import LedgerHTTP

/// `limit` (1–100, default 10 unless the list says otherwise) and `starting_after` for cursor pagination,
/// read after the operation's declaration has checked them.
struct ListQuery {
    let limit: Int
    let startingAfter: String?

    init(_ request: HTTPRequest, defaultLimit: Int = 10) {
        limit = request.queryValue("limit").flatMap { Int($0) } ?? defaultLimit
        startingAfter = Self.filter(request, "starting_after")
    }

    /// A text filter's value; an empty one does not filter.
    static func filter(_ request: HTTPRequest, _ name: String) -> String? {
        request.queryValue(name).flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The list object: `limit + 1` rows were asked for, so one more than `limit` means there is more.
    func page(_ documents: [JSONValue], url: String) -> HTTPResponse {
        .json(200, ["object": "list", "url": .string(url), "has_more": .bool(documents.count > limit),
                    "data": .array(Array(documents.prefix(limit)))])
    }

    /// A time filter the declaration accepted: RFC 3339 or Unix seconds.
    static func time(_ request: HTTPRequest, _ name: String) -> Date? {
        guard let text = request.queryValue(name) else { return nil }
        return Timestamp.unixSeconds(text) ?? Timestamp.parse(text)
    }
}
