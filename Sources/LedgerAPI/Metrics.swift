import Foundation
import LedgerEngine
import LedgerStorage
import Synchronization

/// Counters and latency histograms for `GET /metrics`, in Prometheus text format.
final class Metrics: Sendable {
    struct RequestKey: Hashable {
        var method: String
        var route: String
        var status: Int
    }

    struct Histogram {
        var buckets: [Int]
        var sum: Double = 0
        var count = 0
    }

    static let bounds: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

    private let state = Mutex<(requests: [RequestKey: Int], latency: [String: Histogram])>(([:], [:]))

    func record(method: String, route: String, status: Int, seconds: Double) {
        state.withLock { state in
            state.requests[RequestKey(method: method, route: route, status: status), default: 0] += 1
            var histogram = state.latency[route] ?? Histogram(buckets: Array(repeating: 0, count: Self.bounds.count))
            if let index = Self.bounds.firstIndex(where: { seconds <= $0 }) { histogram.buckets[index] += 1 }
            histogram.sum += seconds
            histogram.count += 1
            state.latency[route] = histogram
        }
    }

    func render(pool: ConnectionPool.Statistics, poolSize: Int) -> String {
        let (requests, latency) = state.withLock { ($0.requests, $0.latency) }
        var out = """
            # HELP ledger_http_requests_total HTTP requests answered, by method, route template and status.
            # TYPE ledger_http_requests_total counter

            """
        for (key, count) in requests.sorted(by: { ($0.key.route, $0.key.method, $0.key.status) < ($1.key.route, $1.key.method, $1.key.status) }) {
            out += "ledger_http_requests_total{method=\"\(key.method)\",route=\"\(escape(key.route))\",status=\"\(key.status)\"} \(count)\n"
        }
        out += """
            # HELP ledger_http_request_duration_seconds Time to answer a request, by route template.
            # TYPE ledger_http_request_duration_seconds histogram

            """
        for (route, histogram) in latency.sorted(by: { $0.key < $1.key }) {
            var cumulative = 0
            for (index, bound) in Self.bounds.enumerated() {
                cumulative += histogram.buckets[index]
                out += "ledger_http_request_duration_seconds_bucket{route=\"\(escape(route))\",le=\"\(bound)\"} \(cumulative)\n"
            }
            out += "ledger_http_request_duration_seconds_bucket{route=\"\(escape(route))\",le=\"+Inf\"} \(histogram.count)\n"
            out += "ledger_http_request_duration_seconds_sum{route=\"\(escape(route))\"} \(histogram.sum)\n"
            out += "ledger_http_request_duration_seconds_count{route=\"\(escape(route))\"} \(histogram.count)\n"
        }
        out += """
            # HELP ledger_db_pool_connections Database connections of the pool, by state.
            # TYPE ledger_db_pool_connections gauge
            ledger_db_pool_connections{state="in_use"} \(pool.inUse)
            ledger_db_pool_connections{state="idle"} \(pool.open - pool.inUse)
            # HELP ledger_db_pool_size Most connections the pool opens.
            # TYPE ledger_db_pool_size gauge
            ledger_db_pool_size \(poolSize)
            # HELP ledger_db_pool_waiting Requests waiting for a database connection.
            # TYPE ledger_db_pool_waiting gauge
            ledger_db_pool_waiting \(pool.waiting)
            # HELP ledger_events_appended_total Events written by appends (a transaction may still have rolled them back).
            # TYPE ledger_events_appended_total counter
            ledger_events_appended_total \(EventStore.eventsAppended)
            # HELP ledger_db_transaction_retries_total Transactions run again after PostgreSQL aborted them as a deadlock victim or for a serialization failure.
            # TYPE ledger_db_transaction_retries_total counter
            ledger_db_transaction_retries_total \(ConnectionPool.transactionsRetried)
            # HELP ledger_expiry_failures_total Verifications the expiry scheduler failed to handle (each is tried again later).
            # TYPE ledger_expiry_failures_total counter
            ledger_expiry_failures_total \(ExpiryScheduler.failures)
            # HELP process_resident_memory_bytes Resident memory of this process.
            # TYPE process_resident_memory_bytes gauge
            process_resident_memory_bytes \(Self.residentBytes())

            """
        return out
    }

    private func escape(_ label: String) -> String {
        label.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    }

    static func residentBytes() -> Int {
        guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = statm.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
