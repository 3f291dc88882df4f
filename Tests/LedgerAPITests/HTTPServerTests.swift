import Foundation
import LedgerDomain
import LedgerHTTP
import LedgerTestSupport
import XCTest

final class HTTPServerTests: XCTestCase {
    var servers: [TestServer] = []

    override func tearDown() {
        for server in servers { server.stop() }
        servers = []
    }

    func start(_ configuration: HTTPServer.Configuration = .init(port: 0, threads: 4), _ handler: @escaping HTTPHandler) throws -> TestServer {
        let server = try TestServer(configuration: configuration, handler: handler)
        servers.append(server)
        return server
    }

    func echoRouter() -> Router<HTTPHandler> {
        var router = Router<HTTPHandler>()
        router.add("GET", "/things/{id}/parts/{part}") { request in
            .json(200, ["id": .string(request.parameter("id")), "part": .string(request.parameter("part")),
                        "filter": request.queryValue("filter").map(JSONValue.string) ?? .null,
                        "route": .string(request.routeTemplate ?? "")])
        }
        router.add("POST", "/echo") { request in
            HTTPResponse(status: 200, headers: [("Content-Type", "application/octet-stream")], body: request.body)
        }
        router.add("DELETE", "/echo") { _ in .json(200, [:]) }
        return router
    }

    func testRoutesWithPathParametersAndQuery() throws {
        let router = echoRouter()
        let server = try start { router.handle($0) }
        let response = try TestClient(baseURL: server.baseURL).get("/things/th_1/parts/p%202?filter=a%26b")
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.json, ["id": "th_1", "part": "p 2", "filter": "a&b", "route": "/things/{id}/parts/{part}"])
        XCTAssertEqual(response.header("Content-Type"), "application/json")
    }

    func testUnknownRoutesAndMethodsAnswerInTheErrorShape() throws {
        let router = echoRouter()
        let server = try start { router.handle($0) }
        let client = TestClient(baseURL: server.baseURL)
        let missing = try client.get("/nothing/here")
        XCTAssertEqual(missing.status, 404)
        XCTAssertEqual(missing.json?["error"]?["code"], "route_not_found")
        XCTAssertEqual(missing.json?["error"]?["type"], "invalid_request_error")
        XCTAssertEqual(missing.json?["error"]?["param"], .null)
        XCTAssertNotNil(missing.json?["error"]?["message"]?.stringValue)

        let wrongMethod = try client.request("PUT", "/echo")
        XCTAssertEqual(wrongMethod.status, 405)
        XCTAssertEqual(wrongMethod.json?["error"]?["code"], "method_not_allowed")
        XCTAssertEqual(wrongMethod.header("Allow"), "POST, DELETE")
    }

    func testEveryResponseCarriesItsOwnRequestID() throws {
        let router = echoRouter()
        let server = try start { router.handle($0) }
        let client = TestClient(baseURL: server.baseURL)
        let ids = try (0..<5).map { _ in try client.get("/nothing").header("Request-Id") ?? "" }
        XCTAssertTrue(ids.allSatisfy { $0.hasPrefix("req_") && $0.count == 20 })
        XCTAssertEqual(Set(ids).count, 5)
    }

    func testBodiesUpToTheLimitArriveWhole() throws {
        let router = echoRouter()
        let server = try start(.init(port: 0, threads: 2, maxBodyBytes: 200_000)) { router.handle($0) }
        let body = Data((0..<200_000).map { UInt8($0 % 251) })
        let response = try TestClient(baseURL: server.baseURL).request("POST", "/echo", body: body)
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.body, body)
    }

    func testAnAnnouncedOversizedBodyIsRefusedBeforeItIsSent() throws {
        let router = echoRouter()
        let server = try start(.init(port: 0, threads: 2, maxBodyBytes: 1024)) { router.handle($0) }
        let connection = try RawConnection(port: server.port)
        // Only the headers go out: the answer must come without the server waiting for 10 MB.
        connection.send(Array("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n".utf8))
        let answer = connection.receive(timeout: 5)
        XCTAssertTrue(answer.hasPrefix("HTTP/1.1 413"), answer)
        XCTAssertTrue(answer.contains("\"code\":\"body_too_large\""), answer)
    }

    func testAChunkedBodyOverTheLimitIsRefused() throws {
        let router = echoRouter()
        let server = try start(.init(port: 0, threads: 2, maxBodyBytes: 1024)) { router.handle($0) }
        let connection = try RawConnection(port: server.port)
        var request = Array("POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
        for _ in 0..<4 { request += Array("200\r\n".utf8) + [UInt8](repeating: 65, count: 512) + Array("\r\n".utf8) }
        request += Array("0\r\n\r\n".utf8)
        connection.send(request)
        let answer = connection.receive(timeout: 5)
        XCTAssertTrue(answer.hasPrefix("HTTP/1.1 413"), answer)
    }

    func testTwoHundredIdleConnectionsDoNotStopHealthz() throws {
        let database = try makeDatabase()
        let server = try TestServer(database: database, configuration: .init(port: 0, threads: 2, connectionLimit: 1024))
        servers.append(server)
        let idle = try (0..<200).map { _ in try RawConnection(port: server.port) }
        XCTAssertTrue(eventually { server.server.openConnections >= 200 }, "the server holds all 200 idle connections")
        let client = TestClient(baseURL: server.baseURL)
        for _ in 0..<20 {
            let response = try client.get("/healthz")
            XCTAssertEqual(response.status, 200)
            XCTAssertEqual(response.json, ["status": "ok"])
        }
        XCTAssertEqual(try client.get("/readyz").status, 200)
        XCTAssertGreaterThanOrEqual(server.server.openConnections, 200)
        withExtendedLifetime(idle) {}
    }

    func testSilentConnectionsAreClosedAfterTheTimeout() throws {
        let router = echoRouter()
        let server = try start(.init(port: 0, threads: 2, connectionTimeout: 1)) { router.handle($0) }
        let connection = try RawConnection(port: server.port)
        connection.send(Array("GET /things/a/parts/b HTTP/1.1\r\nHost: test\r\n".utf8)) // never finishes its headers
        XCTAssertTrue(eventually(timeout: 10) { server.server.openConnections == 1 })
        XCTAssertTrue(eventually(timeout: 10) { server.server.openConnections == 0 }, "closed after 1 s of silence")
    }

    /// `GET /slow` signals `entered`, then waits for `release`; `GET /fast` answers at once.
    func waitingRouter(entered: DispatchSemaphore, release: DispatchSemaphore) -> Router<HTTPHandler> {
        var router = Router<HTTPHandler>()
        router.add("GET", "/slow") { _ in
            entered.signal()
            release.wait()
            return .json(200, ["finished": true])
        }
        router.add("GET", "/fast") { _ in .json(200, ["fast": true]) }
        return router
    }

    func testShutdownLetsRequestsInFlightFinish() throws {
        let release = DispatchSemaphore(value: 0)
        let entered = DispatchSemaphore(value: 0)
        let frozen = waitingRouter(entered: entered, release: release)
        let server = try TestServer(configuration: .init(port: 0, threads: 2)) { frozen.handle($0) }
        let result = LockedBox<TestResponse?>(nil)
        let requestDone = DispatchSemaphore(value: 0)
        let baseURL = server.baseURL
        Thread.detachNewThread {
            result.set(try? TestClient(baseURL: baseURL).get("/slow"))
            requestDone.signal()
        }
        entered.wait()
        let shutdownDone = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            server.stop()
            shutdownDone.signal()
        }
        XCTAssertEqual(shutdownDone.wait(timeout: .now() + 0.3), .timedOut, "shutdown waits for the request in flight")
        release.signal()
        XCTAssertEqual(requestDone.wait(timeout: .now() + 10), .success)
        XCTAssertEqual(result.get()?.status, 200)
        XCTAssertEqual(result.get()?.json, ["finished": true])
        XCTAssertEqual(shutdownDone.wait(timeout: .now() + 10), .success)
        XCTAssertThrowsError(try RawConnection(port: server.port), "no longer accepting")
    }

    func testAHandlerThatWaitsHoldsNoOtherConnection() throws {
        let release = DispatchSemaphore(value: 0)
        let entered = DispatchSemaphore(value: 0)
        let routes = waitingRouter(entered: entered, release: release)
        let server = try start(.init(port: 0, threads: 2)) { routes.handle($0) }
        let get = { (path: String) in Array("GET \(path) HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8) }
        // Connections opened while nothing waits spread over libmicrohttpd's polling threads, so some share a
        // thread with the one that will wait.
        let connections = try (0..<6).map { _ in try RawConnection(port: server.port) }
        for connection in connections {
            connection.send(get("/fast"))
            XCTAssertTrue(connection.receive(timeout: 3).hasPrefix("HTTP/1.1 200"))
        }
        connections[0].send(get("/slow"))
        XCTAssertEqual(entered.wait(timeout: .now() + 10), .success)
        for connection in connections.dropFirst() {
            connection.send(get("/fast"))
            XCTAssertTrue(connection.receive(timeout: 3).hasPrefix("HTTP/1.1 200"), "answered while another request waits")
        }
        release.signal()
        XCTAssertTrue(connections[0].receive(timeout: 10).hasPrefix("HTTP/1.1 200"))
    }
}
