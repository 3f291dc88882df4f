import Foundation
import LedgerAPI
import LedgerDomain
import LedgerTestSupport
import XCTest

/// The clocked service (acme's admin key by default), and the calls the vendor-view tests share: requests of
/// any method that leave the clock where it is, a seed-003 create, then a sync, which returns once every step of
/// the sandbox (up to a deadline) is in the log, whatever the background run started by the create has done
/// meanwhile.
class VendorViewsTestCase: XCTestCase, ClockedServiceTestCase {
    var service: ServiceFixture!

    override func setUpWithError() throws {
        try startService(api: APIConfiguration(authCacheSeconds: 0, logRequests: false, allowPrivateWebhooks: true), clocked: true)
        auth = .bearer(acme.adminKey)
    }

    @discardableResult
    func send(_ path: String, _ body: JSONValue = [:], method: String = "POST", key: String? = nil, headers: [String: String] = [:],
              expect status: Int = 200, file: StaticString = #filePath, line: UInt = #line) throws -> JSONValue {
        let all = (key.map { .bearer($0) } ?? auth).merging(headers) { $1 }.merging(["Content-Type": "application/json"]) { $1 }
        let response = try client.request(method, path, headers: all, body: Data(body.encoded()))
        XCTAssertEqual(response.status, status, "\(method) \(path): \(response.text)", file: file, line: line)
        return response.json ?? .null
    }

    /// With another key than `auth`.
    func get(_ path: String, key: String, expect status: Int = 200, file: StaticString = #filePath, line: UInt = #line) throws -> JSONValue {
        let response = try client.get(path, headers: .bearer(key))
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
