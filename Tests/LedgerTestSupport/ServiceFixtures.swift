import Foundation
import LedgerAPI
import LedgerDomain
import XCTest

/// The service as a suite drives it over HTTP: a database of the test's own, a server with the API's pipeline
/// on it, a client, and acme, an organization with a key of every scope.
public final class ServiceFixture {
    public let database: TestDatabase
    public fileprivate(set) var server: TestServer
    public fileprivate(set) var client: TestClient
    public let acme: TestOrganization
    /// What the server reads as the time when the suite started it clocked; moved by `advance`.
    public let clock: LockedBox<Date>
    /// The headers `post` and `get` send: acme's write key unless the suite sets another.
    public var auth: [String: String]

    fileprivate init(database: TestDatabase, server: TestServer, acme: TestOrganization, clock: LockedBox<Date>) {
        self.database = database
        self.server = server
        client = TestClient(baseURL: server.baseURL)
        self.acme = acme
        self.clock = clock
        auth = .bearer(acme.writeKey)
    }
}

/// A suite on a `ServiceFixture`: it declares `service` and calls `startService` in its setUp, and reads the
/// fixture's parts by their own names. The server stops when the test ends.
///
/// A protocol rather than a base class: Linux finds tests by reading the sources, and only in classes that
/// derive from XCTestCase in their own module.
public protocol ServiceTestCase: XCTestCase {
    var service: ServiceFixture! { get set }
}

extension ServiceTestCase {
    public var database: TestDatabase { service.database }
    public var server: TestServer { service.server }
    public var client: TestClient { service.client }
    public var acme: TestOrganization { service.acme }

    /// `clocked`: the server reads `service.clock` as the time instead of the system's.
    public func startService(api: APIConfiguration = APIConfiguration(authCacheSeconds: 0, logRequests: false),
                             clocked: Bool = false) throws {
        let database = try makeDatabase()
        let clock = LockedBox(Date(timeIntervalSince1970: 1_795_000_000))
        var api = api
        if clocked { api.clock = { clock.get() } }
        let server = try startServer(database, api)
        service = ServiceFixture(database: database, server: server, acme: try TestOrganization(database: database), clock: clock)
    }

    /// Stops the server and starts another with `api` (as given: without the fixture's clock) on the same
    /// database, with a client on it.
    public func restartServer(api: APIConfiguration) throws {
        service.server.stop()
        service.server = try startServer(database, api)
        service.client = TestClient(baseURL: service.server.baseURL)
    }

    /// GET with `key` (acme's read key unless given), asserting the status; the JSON answer.
    public func get(_ path: String, key: String? = nil, expect status: Int = 200, file: StaticString = #filePath,
                    line: UInt = #line) throws -> JSONValue {
        let response = try client.get(path, headers: .bearer(key ?? acme.readKey))
        XCTAssertEqual(response.status, status, "\(path): \(response.text)", file: file, line: line)
        return response.json ?? .null
    }

    private func startServer(_ database: TestDatabase, _ api: APIConfiguration) throws -> TestServer {
        let started = try TestServer(database: database, api: api)
        addTeardownBlock { started.stop() }
        return started
    }
}

/// A service suite that starts its server clocked and sends `auth` (acme's write key unless the suite sets
/// another) on every request that names no key.
public protocol ClockedServiceTestCase: ServiceTestCase {}

extension ClockedServiceTestCase {
    public var clock: LockedBox<Date> { service.clock }
    public var auth: [String: String] {
        get { service.auth }
        set { service.auth = newValue }
    }

    public func startClockedService() throws { try startService(clocked: true) }

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
