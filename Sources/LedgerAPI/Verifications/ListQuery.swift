import Foundation
import LedgerDomain
import LedgerHTTP

/// `limit` (1–100, default 10 unless the list says otherwise) and `starting_after` for cursor pagination.
struct ListQuery {
    let limit: Int
    let startingAfter: String?

    init(_ request: HTTPRequest, defaultLimit: Int = 10) throws {
        if let text = request.queryValue("limit") {
            guard let value = Int(text), (1...100).contains(value) else {
                throw APIFailure.invalid("limit", "limit must be a whole number from 1 to 100")
            }
            limit = value
        } else {
            limit = defaultLimit
        }
        startingAfter = request.queryValue("starting_after").flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The list object: `limit + 1` rows were asked for, so one more than `limit` means there is more.
    func page(_ documents: [JSONValue], url: String) -> HTTPResponse {
        .json(200, ["object": "list", "url": .string(url), "has_more": .bool(documents.count > limit),
                    "data": .array(Array(documents.prefix(limit)))])
    }

    static func time(_ request: HTTPRequest, _ name: String) throws -> Date? {
        guard let text = request.queryValue(name) else { return nil }
        guard let date = Timestamp.unixSeconds(text) ?? Timestamp.parse(text) else {
            throw APIFailure.invalid(name, "\(name) takes an RFC 3339 time or Unix seconds, between the years 0001 and 9999")
        }
        return date
    }
}
