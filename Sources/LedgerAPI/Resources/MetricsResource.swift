import Foundation
import LedgerHTTP
import LedgerStorage

/// `GET /metrics`: Prometheus text format.
enum MetricsResource {
    static func operations(metrics: Metrics, webhooks: WebhookMetrics) -> [APIOperation] {
        [
            .api("GET", "/metrics", id: "metrics", summary: "Prometheus metrics", scope: nil,
                 responses: [Response(200, "Prometheus text format 0.0.4", .string(.init()), contentType: "text/plain")],
                 .read { context in
                     HTTPResponse(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")],
                                  body: Array((metrics.render(pool: context.pool.pool.statistics, poolSize: context.pool.pool.size)
                                               + webhooks.render(context.pool.pool) + ReplayMetrics.render(context.pool.pool)).utf8))
                 }),
        ]
    }
}
