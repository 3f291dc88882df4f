import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import LedgerAPI
import LedgerDomain
import LedgerHTTP
import LedgerStorage

/// A server on an ephemeral loopback port for one test.
public final class TestServer: @unchecked Sendable {
    public let server: HTTPServer
    public var port: UInt16 { server.port }
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    public init(configuration: HTTPServer.Configuration = .init(port: 0, threads: 4), handler: @escaping HTTPHandler) throws {
        var configuration = configuration
        configuration.host = "127.0.0.1"
        configuration.port = 0
        server = HTTPServer(configuration: configuration, handler: handler)
        try server.start()
    }

    /// The whole service over a test database, with personal-data encryption on as `ledger serve` has it (under
    /// the test key-encryption key unless `api` brings a vault of its own).
    public convenience init(database: TestDatabase, configuration: HTTPServer.Configuration = .init(port: 0, threads: 4),
                            api: APIConfiguration = APIConfiguration(authCacheSeconds: 0, logRequests: false)) throws {
        var api = api
        if api.personalDataVault == nil { api.personalDataVault = try TestKeyEncryptionKey.vault() }
        let migrator = try Migrator(directory: TestPostgres.schemaDirectory)
        // Commits batched as `ledger serve` batches them, so every API test goes through the commit threads.
        let application = LedgerApplication(pool: database.pool(size: 8, commitThreads: 2), schemaVersion: migrator.migrations.last?.version ?? 0,
                                            configuration: api)
        try self.init(configuration: configuration, handler: application.handle)
    }

    public func stop() { server.shutdown(gracePeriod: 5) }
}

public struct TestResponse: Sendable {
    public let status: Int
    public let headers: [String: String]
    public let body: Data

    public var json: JSONValue? { try? JSONValue.parse(Array(body), maxDepth: 512) }
    public var text: String { String(decoding: body, as: UTF8.self) }
    public func header(_ name: String) -> String? {
        headers.first { $0.key.lowercased() == name.lowercased() }?.value
    }
}

/// A blocking HTTP client for tests, on URLSession.
public final class TestClient: @unchecked Sendable {
    public let baseURL: String
    private let session: URLSession

    public init(baseURL: String) {
        self.baseURL = baseURL
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 30
        session = URLSession(configuration: configuration)
    }

    public func request(_ method: String, _ path: String, headers: [String: String] = [:], body: Data? = nil) throws -> TestResponse {
        guard let url = URL(string: baseURL + path) else { throw URLError(.badURL) }
        var request = URLRequest(url: url)
        request.httpMethod = method
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        request.httpBody = body
        let done = DispatchSemaphore(value: 0)
        let result = LockedBox<Result<TestResponse, any Error>>(.failure(URLError(.unknown)))
        session.dataTask(with: request) { data, response, error in
            if let error {
                result.set(.failure(error))
            } else if let response = response as? HTTPURLResponse {
                var headers: [String: String] = [:]
                for (key, value) in response.allHeaderFields { headers["\(key)"] = "\(value)" }
                result.set(.success(TestResponse(status: response.statusCode, headers: headers, body: data ?? Data())))
            }
            done.signal()
        }.resume()
        done.wait()
        return try result.get().get()
    }

    public func get(_ path: String, headers: [String: String] = [:]) throws -> TestResponse {
        try request("GET", path, headers: headers)
    }

    public func post(_ path: String, json: JSONValue, headers: [String: String] = [:]) throws -> TestResponse {
        var all = headers
        if all["Content-Type"] == nil { all["Content-Type"] = "application/json" }
        return try request("POST", path, headers: all, body: Data(json.encoded()))
    }
}

/// One value shared between threads. A change that depends on the value goes through `update`, in one step;
/// `set(get() …)` is two, and loses a concurrent change (a list of results: `Collector`).
public final class LockedBox<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    public init(_ value: Value) { self.value = value }
    public func set(_ newValue: Value) { lock.lock(); value = newValue; lock.unlock() }
    public func get() -> Value { lock.lock(); defer { lock.unlock() }; return value }
    public func update(_ change: (inout Value) -> Void) { lock.lock(); change(&value); lock.unlock() }
}

/// A plain TCP connection, for tests about connections themselves (idle clients, raw requests).
public final class RawConnection {
    public let descriptor: Int32

    public init(port: UInt16) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { close(descriptor); throw POSIXError(.ECONNREFUSED) }
    }

    deinit { close(descriptor) }

    public func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 { return }
            offset += sent
        }
    }

    /// Reads until the peer closes or `timeout` seconds pass without data.
    public func receive(timeout: Double = 5) -> String {
        var timeoutValue = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1_000_000))
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeoutValue, socklen_t(MemoryLayout<timeval>.size))
        var data = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(descriptor, &buffer, buffer.count, 0)
            if count <= 0 { break }
            data += buffer[0..<count]
            if let text = String(bytes: data, encoding: .utf8), text.contains("\r\n\r\n"),
               let length = text.components(separatedBy: "\r\n").first(where: { $0.lowercased().hasPrefix("content-length:") })
                .flatMap({ Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) }),
               let headerEnd = text.range(of: "\r\n\r\n"),
               text[headerEnd.upperBound...].utf8.count >= length {
                break
            }
        }
        return String(decoding: data, as: UTF8.self)
    }
}

/// A loopback port nothing listens on right now.
public func freeLoopbackPort() throws -> UInt16 {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) } }
    guard bound == 0 else { throw POSIXError(.EADDRINUSE) }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) } }
    return UInt16(bigEndian: address.sin_port)
}

/// The `ledger` executable the build made (the test command builds it before testing).
public func ledgerExecutable() throws -> String {
    let project = TestPostgres.schemaDirectory.deletingLastPathComponent()
    for configuration in ["debug", "release"] {
        let path = project.appendingPathComponent(".build/\(configuration)/ledger").path
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "build the ledger executable first (swift build)"])
}
