import Foundation
import LedgerAPI
import LedgerDomain
import LedgerTestSupport
import XCTest

/// The service with a clock the test moves, and the calls the vendor-view tests share: a seed-003 create, then a
/// sync, which returns once every step of the sandbox (up to a deadline) is in the log, whatever the background
/// run started by the create has done meanwhile.
class VendorViewsTestCase: XCTestCase {
    var database: TestDatabase!
    var server: TestServer!
    var client: TestClient!
    var acme: TestOrganization!
    var auth: [String: String] = [:]
    let clock = LockedBox(Date(timeIntervalSince1970: 1_795_000_000))

    override func setUpWithError() throws {
        database = try makeDatabase()
        let clock = self.clock
        server = try TestServer(database: database, api: APIConfiguration(authCacheSeconds: 0, logRequests: false, clock: { clock.get() },
                                                                          allowPrivateWebhooks: true))
        client = TestClient(baseURL: server.baseURL)
        acme = try TestOrganization(database: database)
        auth = .bearer(acme.adminKey)
    }

    override func tearDown() { server?.stop() }

    func advance(_ seconds: Double) { clock.update { $0 = $0.addingTimeInterval(seconds) } }

    @discardableResult
    func send(_ path: String, _ body: JSONValue = [:], method: String = "POST", key: String? = nil, headers: [String: String] = [:],
              expect status: Int = 200, file: StaticString = #filePath, line: UInt = #line) throws -> JSONValue {
        let all = (key.map { .bearer($0) } ?? auth).merging(headers) { $1 }.merging(["Content-Type": "application/json"]) { $1 }
        let response = try client.request(method, path, headers: all, body: Data(body.encoded()))
        XCTAssertEqual(response.status, status, "\(method) \(path): \(response.text)", file: file, line: line)
        return response.json ?? .null
    }

    func get(_ path: String, key: String? = nil, expect status: Int = 200, file: StaticString = #filePath, line: UInt = #line) throws -> JSONValue {
        let response = try client.get(path, headers: key.map { .bearer($0) } ?? auth)
        XCTAssertEqual(response.status, status, "GET \(path): \(response.text)", file: file, line: line)
        return response.json ?? .null
    }

    /// A seed-003 create; its id.
    func createCustomerVerification(_ customerID: String, check: String = "identity_verification", type: String = "kyc", key: String? = nil,
                                    file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let created = try send("/v1/customer_verifications", ["customer_id": .string(customerID), "check_type": .string(check),
                                                              "verification_type": .string(type), "provider": "sandbox"],
                               key: key, expect: 201, file: file, line: line)
        XCTAssertEqual(created["data"]?["status"], "pending", file: file, line: line)
        return created["data"]?["id"]?.stringValue ?? ""
    }

    /// Runs the provider to its end (or its deadline) now.
    @discardableResult
    func sync(_ id: String, key: String? = nil, file: StaticString = #filePath, line: UInt = #line) throws -> JSONValue {
        try send("/v1/validations/\(id)/sync", key: key, file: file, line: line)
    }

    /// The JSON type of every member, for the field-by-field type checks.
    func kinds(_ object: JSONValue?) -> [String: String] {
        var kinds: [String: String] = [:]
        for (key, value) in object?.objectValue ?? [] {
            switch value {
            case .null: kinds[key] = "null"
            case .bool: kinds[key] = "bool"
            case .string(let text): kinds[key] = Timestamp.parse(text) != nil ? "time" : "string"
            case .int, .double: kinds[key] = "number"
            case .array: kinds[key] = "array"
            case .object: kinds[key] = "object"
            }
        }
        return kinds
    }
}
