import Foundation
import LedgerDomain
import LedgerEngine
import LedgerHTTP
import LedgerStorage

/// `/v1/orders` (seed 000): an order's id is its verification's; it exists once the flow first ends.
enum OrdersResource {
    static let operations: [APIOperation] = [
        .api("GET", "/v1/orders/{id}", id: "getOrder", summary: "An order (404 until the flow first ends); with as_of, as it was then",
             scope: .read, parameters: [APIParameters.id("id", "The order's id, its verification's"), APIParameters.asOf],
             responses: [APIResponses.ok("The order", APISchemas.order)],
             .read { context in
            let caller = try context.authenticated
            let id = context.request.parameter("id")
            if let asOf = context.request.queryValue("as_of").flatMap(Timestamp.parse) {
                guard let loaded = try context.pool.withConnection({
                    try VerificationStore.load($0, organizationID: caller.organizationID, id: id, asOf: asOf, vault: context.engine.vault)
                }), loaded.state.invitation?.livemode == caller.livemode, let order = OrderView.object(id: id, state: loaded.state) else {
                    throw APIFailure.notFound("order", id)
                }
                return .json(200, PersonalDataMarker.marking(order, loaded.state))
            }
            let rows = try context.pool.withConnection {
                try $0.query("""
                    SELECT o.document::text, \(StoredDocuments.keyColumns("o")) FROM ledger.orders o \(StoredDocuments.keyJoin("o"))
                    WHERE o.organization_id = $1 AND o.id = $2 AND o.livemode = $3
                    """, [caller.organizationID, id, caller.livemode])
            }
            guard let document = try StoredDocuments.open(rows, kind: "order", organizationID: caller.organizationID,
                                                          vault: context.engine.vault).first else { throw APIFailure.notFound("order", id) }
            return .json(200, encoded: Array(document.utf8))
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
            let filter = OrderFilter(packageID: ListQuery.filter(request, "package_id"), status: request.queryValue("status"),
                                     score: request.queryValue("score"), entityID: ListQuery.filter(request, "entity_id"),
                                     created: ListQuery.createdBounds(request))
            return try ListQuery(request).page(of: "orders", kind: "order", filter.listFilters, caller: caller, pool: context.pool,
                                               vault: context.engine.vault, url: "/v1/orders")
        }),
    ]
}
