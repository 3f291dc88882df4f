import Foundation
import LedgerAPI
import LedgerDomain
import XCTest

/// A suite that drives the whole service over HTTP: a database of the test's own, a server with the API's
/// pipeline on it and a client. The suite declares the three properties and calls `startService` in its
/// setUp; the server stops when the test ends.
///
/// A protocol rather than a base class: Linux finds tests by reading the sources, and only in classes that
/// derive from XCTestCase in their own module.
public protocol ServiceTestCase: XCTestCase {
    var database: TestDatabase! { get set }
    var server: TestServer! { get set }
    var client: TestClient! { get set }
}

extension ServiceTestCase {
    public func startService(api: APIConfiguration = APIConfiguration(authCacheSeconds: 0, logRequests: false)) throws {
        database = try makeDatabase()
        try restartServer(api: api)
    }

    /// Stops the server and starts another with `api` on the same database, with a client on it.
    public func restartServer(api: APIConfiguration) throws {
        server?.stop()
        let started = try TestServer(database: database, api: api)
        addTeardownBlock { started.stop() }
        server = started
        client = TestClient(baseURL: started.baseURL)
    }
}

/// A service suite whose server reads a clock the test moves, with acme's write key (`auth`) on every request
/// unless one says otherwise.
public protocol ClockedServiceTestCase: ServiceTestCase {
    var acme: TestOrganization! { get set }
    var auth: [String: String] { get set }
    var clock: LockedBox<Date> { get }
}

extension ClockedServiceTestCase {
    public func startClockedService() throws {
        let clock = self.clock
        try startService(api: APIConfiguration(authCacheSeconds: 0, logRequests: false, clock: { clock.get() }))
        acme = try TestOrganization(database: database)
        auth = .bearer(acme.writeKey)
    }

    public func advance(_ seconds: Double) { clock.update { $0 = $0.addingTimeInterval(seconds) } }

    /// A second after the previous command, so that every command has its own time.
    @discardableResult
    public func post(_ path: String, _ body: JSONValue, key: String? = nil, headers: [String: String] = [:], expect status: Int = 200,
                     file: StaticString = #filePath, line: UInt = #line) throws -> JSONValue {
        advance(1)
        let response = try client.post(path, json: body, headers: (key.map { .bearer($0) } ?? auth).merging(headers) { $1 })
        XCTAssertEqual(response.status, status, response.text, file: file, line: line)
        return response.json ?? .null
    }

    public func get(_ path: String, expect status: Int = 200, file: StaticString = #filePath, line: UInt = #line) throws -> JSONValue {
        let response = try client.get(path, headers: auth)
        XCTAssertEqual(response.status, status, response.text, file: file, line: line)
        return response.json ?? .null
    }
}

/// Two instances of the service on one database, each with its own state cache (commands committed by the
/// commit threads), and a write key of one organization (`auth`).
public protocol TwoInstancesTestCase: XCTestCase {
    var database: TestDatabase! { get set }
    var first: TestServer! { get set }
    var second: TestServer! { get set }
    var auth: [String: String] { get set }
}

extension TwoInstancesTestCase {
    public func startTwoInstances() throws {
        database = try makeDatabase()
        let api = APIConfiguration(authCacheSeconds: 0, logRequests: false)
        let first = try TestServer(database: database, api: api)
        addTeardownBlock { first.stop() }
        self.first = first
        let second = try TestServer(database: database, api: api)
        addTeardownBlock { second.stop() }
        self.second = second
        auth = .bearer(try TestOrganization(database: database).writeKey)
    }
}
