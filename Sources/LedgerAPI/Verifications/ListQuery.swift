import Foundation
import LedgerDomain
import LedgerHTTP
import LedgerStorage

/// `limit` (1–100, default 10 unless the list says otherwise) and the cursor for cursor pagination (the id after
/// which the page starts: `starting_after`, or the list's own name for it, as seed 003's and 004's `cursor`), read
/// after the operation's declaration has checked them.
struct ListQuery {
    let limit: Int
    let startingAfter: String?

    init(_ request: HTTPRequest, defaultLimit: Int = 10, cursor: String = "starting_after") {
        limit = request.queryValue("limit").flatMap { Int($0) } ?? defaultLimit
        startingAfter = Self.filter(request, cursor)
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

    /// The same list object from documents as stored, their text spliced in unparsed (parsing and encoding a
    /// page of them again costs more than its query): `limit + 1` texts were asked for, as above.
    func page(stored documents: [String], url: String) -> HTTPResponse {
        Self.storedPage(Array(documents.prefix(limit)), hasMore: documents.count > limit, url: url)
    }

    /// `{"object":"list","url","has_more","data"}` around documents' text, encoded as `JSONValue` encodes.
    static func storedPage(_ documents: [String], hasMore: Bool, url: String) -> HTTPResponse {
        var body = Array(#"{"object":"list","url":"#.utf8)
        JSONValue.string(url).write(to: &body)
        body += #","has_more":\#(hasMore),"data":"#.utf8
        appendArray(of: documents, to: &body)
        body += "}".utf8
        return .json(200, encoded: body)
    }

    /// A JSON array of documents given as their text, unparsed.
    static func appendArray(of documents: some Sequence<String>, to body: inout [UInt8]) {
        body.append(UInt8(ascii: "["))
        for (index, document) in documents.enumerated() {
            if index > 0 { body.append(UInt8(ascii: ",")) }
            body += document.utf8
        }
        body.append(UInt8(ascii: "]"))
    }

    /// The `created[…]` parameters of a request that it gives.
    static func createdBounds(_ request: HTTPRequest) -> [ListFilter.Bound: Date] {
        ListFilter.Bound.allCases.reduce(into: [:]) { bounds, bound in bounds[bound] = time(request, bound.parameterName) }
    }

    /// A page of the documents of a table of the caller's (its `organization_id`, `livemode`, `id`, `created_at`
    /// and `document`), newest first, after the cursor and within every filter, as the list object. Each document is
    /// opened under its entity's key (`StoredDocuments`), as a `kind` of document, read in the same statement.
    func page(of table: String, kind: String, _ filters: [ListFilter], caller: Caller, pool: ScopedPool, vault: PersonalDataVault?,
              url: String) throws -> HTTPResponse {
        page(try documents(of: table, kind: kind, filters, caller: caller, pool: pool, vault: vault), url: url)
    }

    /// The `limit + 1` documents of such a page, opened, for a list with an envelope of its own.
    func documents(of table: String, kind: String, _ filters: [ListFilter], caller: Caller, pool: ScopedPool,
                   vault: PersonalDataVault?) throws -> [JSONValue] {
        let rows = try self.rows(of: table, filters, caller: caller, pool: pool)
        return StoredDocuments.json(try StoredDocuments.open(rows, kind: kind, organizationID: caller.organizationID, vault: vault))
    }

    /// The `limit + 1` rows of such a page, unopened: the document, `StoredDocuments.keyColumns` (the entity being
    /// the table's `entity` column), then the `also` columns (on alias `t`). The table and column names come from the
    /// code, the values as parameters (`ListFilter.conditions`).
    func rows(of table: String, _ filters: [ListFilter], entity: String = "entity_id", also: [String] = [], caller: Caller,
              pool: ScopedPool) throws -> PostgresRows {
        var parameters: [(any PostgresEncodable)?] = [caller.organizationID, caller.livemode]
        var conditions = ["t.organization_id = $1", "t.livemode = $2"] + ListFilter.conditions(filters, on: "t", parameters: &parameters)
        let cursor = "$\(parameters.count + 1)"
        conditions.append("(\(cursor)::text IS NULL OR (t.created_at, t.id) < ("
            + "SELECT c.created_at, c.id FROM ledger.\(table) c WHERE c.organization_id = $1 AND c.livemode = $2 AND c.id = \(cursor)))")
        parameters.append(startingAfter)
        parameters.append(limit + 1)
        let columns = (["t.document::text", StoredDocuments.keyColumns("t", entity: entity)] + also).joined(separator: ", ")
        // The page is cut first and only its rows are joined to their keys (see `StoredDocuments.keyJoin`).
        let order = " ORDER BY t.created_at DESC, t.id DESC"
        let sql = "SELECT \(columns) FROM (SELECT * FROM ledger.\(table) t WHERE " + conditions.joined(separator: " AND ")
            + order + " LIMIT $\(parameters.count)) t \(StoredDocuments.keyJoin("t", entity: entity))" + order
        return try pool.withConnection { try $0.query(sql, parameters) }
    }

    /// Rows of one JSON document each.
    static func documents(_ rows: PostgresRows) -> [JSONValue] {
        (0..<rows.count).compactMap { rows.string($0, 0).flatMap { try? JSONValue.parse(Array($0.utf8), maxDepth: 512) } }
    }

    /// A time filter the declaration accepted: RFC 3339 or Unix seconds.
    static func time(_ request: HTTPRequest, _ name: String) -> Date? {
        guard let text = request.queryValue(name) else { return nil }
        return Timestamp.unixSeconds(text) ?? Timestamp.parse(text)
    }
}
