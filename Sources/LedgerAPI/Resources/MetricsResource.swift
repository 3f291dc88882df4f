import Foundation
import LedgerHTTP
import LedgerStorage

/// `GET /metrics`: Prometheus text format.
enum MetricsResource {
    static func register(on router: inout Router<Endpoint>, metrics: Metrics, pool: ConnectionPool) {
        router.add("GET", "/metrics", .read(.everyone) { _ in
            HTTPResponse(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")],
                         body: Array((metrics.render(pool: pool.statistics, poolSize: pool.size) + WebhookMetrics.render(pool)).utf8))
        })
    }
}
