import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import LedgerDomain

/// `ledger bench views`: GET on each vendor view against `/readyz` (one query through the pool) in the same run,
/// on a `ledger serve` child process.
enum ViewsBenchmark {
    static let verifications = 200

    static func run(clients: Int, seconds: Int, settings: Settings) throws {
        let database = try Database(settings: settings)
        defer { database.close() }
        try database.migrate()
        let (server, target) = try LifecycleBenchmark.startServer(database: database, environment: try PersonalDataSetup.benchmarkEnvironment(settings))
        defer { server.signal(SIGTERM); _ = server.wait() }
        let session = URLSession(configuration: .ephemeral)
        var ids: [String] = []
        for index in 0..<verifications {
            let (status, created) = try LifecycleBenchmark.request(session, target, "POST", "/v1/customer_verifications",
                                                                   ["customer_id": .string("cus_bench_\(index % 50)"),
                                                                    "check_type": "identity_verification"])
            guard status == 201, let id = created["data"]?["id"]?.stringValue else {
                throw UsageError(message: "creating a customer verification answered \(status): \(created.jsonString)")
            }
            // The sync finishes what the create's background run started, so every view has its final state.
            let (synced, answer) = try LifecycleBenchmark.request(session, target, "POST", "/v1/validations/\(id)/sync", nil)
            guard synced == 200 else { throw UsageError(message: "sync answered \(synced): \(answer.jsonString)") }
            ids.append(id)
        }
        let id = ids[ids.count / 2]
        let routes: [(label: String, path: String)] = [
            ("report", "/v1/identity/verification_reports/\(StripeReportView.reportID(verificationID: id, key: "a1"))"),
            ("report_list", "/v1/identity/verification_reports?limit=10"),
            ("customer_verification", "/v1/customer_verifications/\(id)"),
            ("validation", "/v1/validations/\(id)"),
            ("kyc_status", "/v1/entities/cus_bench_7/kyc-status"),
        ]
        let auth = ["Authorization: Bearer \(target.key)"]
        for route in routes {
            let (status, answer) = try LifecycleBenchmark.request(session, target, "GET", route.path, nil)
            guard status == 200 else { throw UsageError(message: "\(route.path) answered \(status): \(answer.jsonString)") }
        }
        let (readyz, readyzP99) = try BenchCommand.runWrk(url: target.baseURL + "/readyz", connections: clients, seconds: seconds)
        print("GET /readyz (reference, one query through the pool): \(BenchCommand.format(readyz)) requests/s, p99 \(BenchCommand.format(readyzP99, 2)) ms")
        var figures: [(String, JSONValue)] = []
        var ratioMin = Double.infinity
        for route in routes {
            let (rps, p99) = try BenchCommand.runWrk(url: target.baseURL + route.path, connections: clients, seconds: seconds, headers: auth)
            let ratio = rps / readyz
            ratioMin = min(ratioMin, ratio)
            print("GET \(route.label): \(BenchCommand.format(rps)) requests/s, p99 \(BenchCommand.format(p99, 2)) ms, ratio to /readyz \(BenchCommand.format(ratio, 3))")
            figures.append((route.label, .double(BenchCommand.round2(rps))))
        }
        print("ratio_min: \(BenchCommand.format(ratioMin, 3))  (target >= 0.5; wrk -t2 -c\(clients), \(seconds) s per route, rate limit off)")
        print(JSONValue.object([
            ("clients", .int(Int64(clients))), ("readyz_req_per_s", .double(BenchCommand.round2(readyz))),
            ("req_per_s", .object(figures)), ("ratio_min", .double((ratioMin * 1000).rounded() / 1000)),
        ]).jsonString)
    }
}
