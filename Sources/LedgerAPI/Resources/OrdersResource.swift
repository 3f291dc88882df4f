import Foundation
import LedgerDomain
import LedgerHTTP
import LedgerStorage

/// `/v1/orders` (seed 000): an order's id is its verification's; it exists once the flow first ends.
enum OrdersResource {
    static let operations: [APIOperation] = [
        .api("GET", "/v1/orders/{id}", id: "getOrder", summary: "An order (404 until the flow first ends)", scope: .read,
             parameters: [APIParameters.id("id", "The order's id, its verification's")],
             responses: [APIResponses.ok("The order", APISchemas.order)],
             .read { context in
            let caller = try context.authenticated
            let id = context.request.parameter("id")
            let rows = try context.pool.withConnection {
                try $0.query("SELECT document::text FROM ledger.orders WHERE organization_id = $1 AND id = $2 AND livemode = $3",
                             [caller.organizationID, id, caller.livemode])
            }
            guard let document = rows.string(0, 0) else { throw APIFailure.notFound("order", id) }
            return HTTPResponse(status: 200, headers: [("Content-Type", "application/json")], body: Array(document.utf8))
        }),

        .api("GET", "/v1/orders", id: "listOrders", summary: "Orders, newest first", scope: .read,
             parameters: [
                 APIParameters.filter("package_id", "Only of this package"),
                 APIParameters.filter("status", .choice(OrderStatus.self), "Only in this status"),
                 APIParameters.filter("score", .choice(OrderScore.self), "Only with this score"),
                 APIParameters.filter("entity_id", "Only this entity's"),
                 APIParameters.created("gte", "at or after"), APIParameters.created("gt", "after"),
                 APIParameters.created("lte", "at or before"), APIParameters.created("lt", "before"),
                 APIParameters.limit, APIParameters.startingAfter,
             ],
             responses: [APIResponses.ok("A page of orders", APISchemas.list("OrderList", of: APISchemas.order),
                                         links: [APIResponses.get("getOrder", id: "/data/0/id")])],
             .read { context in
            let caller = try context.authenticated
            let request = context.request
            let query = ListQuery(request)
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
                    """, [caller.organizationID, caller.livemode, ListQuery.filter(request, "package_id"), request.queryValue("status"),
                          request.queryValue("score"), ListQuery.filter(request, "entity_id"),
                          ListQuery.time(request, "created[gte]"), ListQuery.time(request, "created[gt]"),
                          ListQuery.time(request, "created[lte]"), ListQuery.time(request, "created[lt]"),
                          query.startingAfter, query.limit + 1])
            }
            return query.page(VerificationsResource.documents(rows), url: "/v1/orders")
        }),
    ]
}
