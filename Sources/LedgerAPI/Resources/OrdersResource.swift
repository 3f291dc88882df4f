import Foundation
import LedgerDomain
import LedgerHTTP
import LedgerStorage

/// `/v1/orders` (seed 000): an order's id is its verification's; it exists once the flow first ends.
enum OrdersResource {
    static func register(on router: inout Router<Endpoint>) {
        router.add("GET", "/v1/orders/{id}", .read(.scope(.read)) { context in
            let caller = try context.authenticated
            let id = context.request.parameter("id")
            let rows = try context.pool.withConnection {
                try $0.query("SELECT document::text FROM ledger.orders WHERE organization_id = $1 AND id = $2 AND livemode = $3",
                             [caller.organizationID, id, caller.livemode])
            }
            guard let document = rows.string(0, 0) else { throw APIFailure.notFound("order", id) }
            return HTTPResponse(status: 200, headers: [("Content-Type", "application/json")], body: Array(document.utf8))
        })

        router.add("GET", "/v1/orders", .read(.scope(.read)) { context in
            let caller = try context.authenticated
            let request = context.request
            let query = try ListQuery(request)
            if let status = request.queryValue("status"), OrderStatus(rawValue: status) == nil {
                throw APIFailure.invalid("status", "status must be one of \(OrderStatus.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            if let score = request.queryValue("score"), OrderScore(rawValue: score) == nil {
                throw APIFailure.invalid("score", "score must be one of the fifteen order scores")
            }
            let rows = try context.pool.withConnection { connection in
                try connection.query("""
                    SELECT o.document::text FROM ledger.orders o
                    WHERE o.organization_id = $1 AND o.livemode = $2
                      AND ($3::text IS NULL OR o.package_id = $3)
                      AND ($4::text IS NULL OR o.status = $4)
                      AND ($5::text IS NULL OR o.score = $5)
                      AND ($6::text IS NULL OR o.entity_id = $6)
                      AND ($7::timestamptz IS NULL OR o.created_at >= $7)
                      AND ($8::timestamptz IS NULL OR o.created_at > $8)
                      AND ($9::timestamptz IS NULL OR o.created_at <= $9)
                      AND ($10::timestamptz IS NULL OR o.created_at < $10)
                      AND ($11::text IS NULL OR (o.created_at, o.id) < (
                          SELECT c.created_at, c.id FROM ledger.orders c WHERE c.organization_id = $1 AND c.id = $11))
                    ORDER BY o.created_at DESC, o.id DESC
                    LIMIT $12
                    """, [caller.organizationID, caller.livemode, request.queryValue("package_id"), request.queryValue("status"),
                          request.queryValue("score"), request.queryValue("entity_id"),
                          try ListQuery.time(request, "created[gte]"), try ListQuery.time(request, "created[gt]"),
                          try ListQuery.time(request, "created[lte]"), try ListQuery.time(request, "created[lt]"),
                          query.startingAfter, query.limit + 1])
            }
            return query.page(VerificationsResource.documents(rows), url: "/v1/orders")
        })
    }
}
