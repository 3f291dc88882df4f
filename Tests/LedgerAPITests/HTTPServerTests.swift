import Foundation
import LedgerCLI
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

    func testAChunkedBodyOverTheLimitEndsTheConnectionBeforeItIsAllSent() throws {
        let router = echoRouter()
        let server = try start(.init(port: 0, threads: 2, maxBodyBytes: 1024)) { router.handle($0) }
        let connection = try RawConnection(port: server.port)
        connection.send(Array("POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n".utf8))
        let chunk = Array("400\r\n".utf8) + [UInt8](repeating: 65, count: 1024) + Array("\r\n".utf8)
        let total = 64 << 20
        var sent = 0
        // Sends until the server stops listening; reading the whole 64 MB to answer at the end fails this.
        while sent < total, !connection.isClosedOrAnswered() {
            guard connection.trySend(chunk) else { break }
            sent += 1024
        }
        XCTAssertLessThan(sent, total, "the server cut the body off instead of reading all of it")
        try assertStillServes(server)
    }

    func testATricklingClientLosesItsConnectionAtTheRequestDeadline() throws {
        let router = echoRouter()
        let server = try start(.init(port: 0, threads: 2, connectionTimeout: 60, requestTimeout: 1)) { router.handle($0) }
        let connection = try RawConnection(port: server.port)
        connection.send(Array("GET /things/a/parts/b HTTP/1.1\r\nHost: test\r\nX-Slow: ".utf8))
        let started = Date()
        var closed = false
        // One byte every 50 ms: never silent long enough for the inactivity timeout of 60 s.
        while Date().timeIntervalSince(started) < 15 {
            if connection.isClosedOrAnswered() || !connection.trySend([UInt8(ascii: "a")]) { closed = true; break }
            usleep(50_000) // the client's trickle, not a wait for the server
        }
        XCTAssertTrue(closed, "closed within 15 s although bytes kept coming")
        try assertStillServes(server)
    }

    func testTheRequestDeadlineIsConfiguredByLedgerRequestTimeout() throws {
        XCTAssertEqual(try Settings(environment: ["LEDGER_REQUEST_TIMEOUT": "5"]).httpConfiguration.requestTimeout, 5)
        XCTAssertEqual(try Settings(environment: [:]).httpConfiguration.requestTimeout, 30)
        for bad in ["0", "-1", "1e9", "99999999999999999999"] {
            XCTAssertThrowsError(try Settings(environment: ["LEDGER_REQUEST_TIMEOUT": bad]), bad) { error in
                XCTAssertEqual((error as? Settings.Invalid)?.variable, "LEDGER_REQUEST_TIMEOUT")
            }
        }
    }

    func testTheDeadlineDoesNotCountTheHandlersTime() throws {
        var slow = Router<HTTPHandler>()
        slow.add("GET", "/slow") { _ in
            Thread.sleep(forTimeInterval: 1.5) // a handler slower than the request deadline
            return .json(200, ["finished": true])
        }
        let router = slow
        let server = try start(.init(port: 0, threads: 2, requestTimeout: 0.5)) { router.handle($0) }
        XCTAssertEqual(try TestClient(baseURL: server.baseURL).get("/slow").status, 200)
    }

    func testHundredKilobyteHeadersAreRefused() throws {
        let router = echoRouter()
        let server = try start { router.handle($0) }
        let connection = try RawConnection(port: server.port)
        connection.send(Array("GET /things/a/parts/b HTTP/1.1\r\nHost: test\r\nX-Big: \(String(repeating: "a", count: 100_000))\r\n\r\n".utf8))
        let answer = connection.receive(timeout: 5)
        XCTAssertTrue(answer.isEmpty || answer.hasPrefix("HTTP/1.1 431"), answer)
        try assertStillServes(server)
    }

    func testALongRequestTargetIsAnswered414InTheErrorShape() throws {
        let router = echoRouter()
        let server = try start(.init(port: 0, threads: 2, maxRequestTargetBytes: 4096)) { router.handle($0) }
        let path = "/things/a/parts/b?filter="
        let fitting = try rawExchange(server, "GET \(path)\(String(repeating: "a", count: 4096 - path.utf8.count)) HTTP/1.1\r\nHost: t\r\n\r\n")
        XCTAssertEqual(fitting.status, 200, "a target of exactly the limit is served")
        let long = try rawExchange(server, "GET \(path)\(String(repeating: "a", count: 4097 - path.utf8.count)) HTTP/1.1\r\nHost: t\r\n\r\n")
        assertErrorShape(long, status: 414, code: "uri_too_long")
        try assertStillServes(server)
    }

    func testLargeHeaderFieldsAreAnswered431InTheErrorShape() throws {
        let router = echoRouter()
        let server = try start(.init(port: 0, threads: 2, maxHeaderBytes: 16384)) { router.handle($0) }
        let one = try rawExchange(server, "GET /things/a/parts/b HTTP/1.1\r\nHost: t\r\nX-Big: \(String(repeating: "a", count: 20_000))\r\n\r\n")
        assertErrorShape(one, status: 431, code: "headers_too_large")
        let many = (0..<40).map { "X-Part-\($0): \(String(repeating: "b", count: 500))\r\n" }.joined()
        assertErrorShape(try rawExchange(server, "GET /things/a/parts/b HTTP/1.1\r\nHost: t\r\n\(many)\r\n"),
                         status: 431, code: "headers_too_large")
        let fitting = (0..<20).map { "X-Part-\($0): \(String(repeating: "b", count: 500))\r\n" }.joined()
        XCTAssertEqual(try rawExchange(server, "GET /things/a/parts/b HTTP/1.1\r\nHost: t\r\n\(fitting)\r\n").status, 200)
        // A body announced with large headers is not read: the answer comes without the 10 MB.
        let posted = try rawExchange(server, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10000000\r\n\(many)\r\n")
        assertErrorShape(posted, status: 431, code: "headers_too_large")
        try assertStillServes(server)
    }

    func testTheDefaultLimitsAnswerInJSONWellPastTheirSize() throws {
        let router = echoRouter()
        let defaults = HTTPServer.Configuration()
        let server = try start { router.handle($0) }
        // Twice the limit: still short of the memory libmicrohttpd gives a connection, so the service answers.
        let target = "/things/a/parts/b?filter=" + String(repeating: "a", count: 2 * defaults.maxRequestTargetBytes)
        assertErrorShape(try rawExchange(server, "GET \(target) HTTP/1.1\r\nHost: t\r\n\r\n"), status: 414, code: "uri_too_long")
        let header = "X-Big: " + String(repeating: "a", count: 2 * defaults.maxHeaderBytes - 1024)
        assertErrorShape(try rawExchange(server, "GET /things/a/parts/b HTTP/1.1\r\nHost: t\r\n\(header)\r\n\r\n"),
                         status: 431, code: "headers_too_large")
        try assertStillServes(server)
    }

    /// What libmicrohttpd 0.9.75 answers itself, before any handler sees the request, with a page compiled
    /// into it (README, "Errors the HTTP engine answers itself"): the status is right and the server lives on.
    func testRequestsLibmicrohttpdRefusesItselfLeaveTheServerServing() throws {
        let router = echoRouter()
        let server = try start { router.handle($0) }
        let pastTheMemory = String(repeating: "a", count: HTTPServer.Configuration().connectionMemoryBytes)
        let cases: [(request: String, status: Int)] = [
            ("NOT A REQUEST LINE\r\nHost: t\r\n\r\n", 400),
            ("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
            ("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1x\r\n\r\n", 400),
            ("GET /things/a/parts/b HTTP/2.0\r\nHost: t\r\n\r\n", 505),
            ("GET /things/a/parts/b?filter=\(pastTheMemory) HTTP/1.1\r\nHost: t\r\n\r\n", 414),
            ("GET /things/a/parts/b HTTP/1.1\r\nHost: t\r\nX-Big: \(pastTheMemory)\r\n\r\n", 431),
        ]
        for (request, status) in cases {
            XCTAssertEqual(try rawExchange(server, request).status, status, String(request.prefix(60)))
        }
        try assertStillServes(server)
    }

    func testNULAndInvalidUTF8InPathQueryAndHeadersAreRefusedNotCut() throws {
        let router = echoRouter()
        let server = try start { router.handle($0) }
        let cases: [(request: [UInt8], param: JSONValue)] = [
            (Array("GET /things/a%00b/parts/c HTTP/1.1\r\nHost: t\r\n\r\n".utf8), .null),
            (Array("GET /things/%FF/parts/c HTTP/1.1\r\nHost: t\r\n\r\n".utf8), .null),
            (Array("GET /things/a/parts/b?filter=x%00y HTTP/1.1\r\nHost: t\r\n\r\n".utf8), "filter"),
            (Array("GET /things/a/parts/b?filter=%C3 HTTP/1.1\r\nHost: t\r\n\r\n".utf8), "filter"),
            (Array("GET /things/a/parts/b?%00=1 HTTP/1.1\r\nHost: t\r\n\r\n".utf8), .null),
            (Array("GET /things/a/parts/b HTTP/1.1\r\nHost: t\r\nX-Thing: \u{FF}".utf8) + [0xFF] + Array("\r\n\r\n".utf8), "X-Thing"),
        ]
        for (request, param) in cases {
            let connection = try RawConnection(port: server.port)
            connection.send(request)
            let answer = connection.receive(timeout: 5)
            let label = String(decoding: request.prefix(60), as: UTF8.self)
            XCTAssertTrue(answer.hasPrefix("HTTP/1.1 400"), "\(label): \(answer)")
            let body = answer.components(separatedBy: "\r\n\r\n").last ?? ""
            let error = try? JSONValue.parse(Array(body.utf8))["error"]
            XCTAssertEqual(error?["code"], "parameter_invalid", label)
            XCTAssertEqual(error?["param"], param, label)
        }
        try assertStillServes(server)
    }

    func testContentLengthsPastEveryLimitAreRefused() throws {
        let router = echoRouter()
        let server = try start(.init(port: 0, threads: 2, maxBodyBytes: 1024)) { router.handle($0) }
        for length in ["99999999999999999999", "18446744073709551615", "18446744073709551616", "-1", "9223372036854775808", "1e3"] {
            let connection = try RawConnection(port: server.port)
            connection.send(Array("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: \(length)\r\n\r\n".utf8))
            let answer = connection.receive(timeout: 5)
            XCTAssertTrue(answer.isEmpty || answer.hasPrefix("HTTP/1.1 4"), "\(length): \(answer)")
        }
        try assertStillServes(server)
    }

    /// One request written as raw bytes on a fresh connection, and the answer split at the end of its headers.
    func rawExchange(_ server: TestServer, _ request: String) throws -> (status: Int, head: String, body: String) {
        let connection = try RawConnection(port: server.port)
        connection.send(Array(request.utf8))
        let answer = connection.receive(timeout: 5)
        let parts = answer.components(separatedBy: "\r\n\r\n")
        let status = parts[0].split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return (status, parts[0], parts.dropFirst().joined(separator: "\r\n\r\n"))
    }

    func assertErrorShape(_ answer: (status: Int, head: String, body: String), status: Int, code: String,
                          file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(answer.status, status, answer.head, file: file, line: line)
        let headers = answer.head.lowercased()
        XCTAssertTrue(headers.contains("\r\ncontent-type: application/json"), answer.head, file: file, line: line)
        XCTAssertTrue(headers.contains("\r\nx-content-type-options: nosniff"), answer.head, file: file, line: line)
        XCTAssertTrue(headers.contains("\r\nrequest-id: req_"), answer.head, file: file, line: line)
        let error = try? JSONValue.parse(Array(answer.body.utf8))["error"]
        XCTAssertEqual(error?["type"], "invalid_request_error", answer.body, file: file, line: line)
        XCTAssertEqual(error?["code"], .string(code), answer.body, file: file, line: line)
        XCTAssertEqual(error?["param"], .null, answer.body, file: file, line: line)
        XCTAssertNotNil(error?["message"]?.stringValue, answer.body, file: file, line: line)
    }

    func assertStillServes(_ server: TestServer, file: StaticString = #filePath, line: UInt = #line) throws {
        let response = try TestClient(baseURL: server.baseURL).get("/things/x/parts/y")
        XCTAssertEqual(response.status, 200, "the server still answers", file: file, line: line)
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

extension RawConnection {
    /// Sends all of `bytes`; false once the peer has closed or reset the connection.
    func trySend(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 { return false }
            offset += sent
        }
        return true
    }

    /// Without waiting: whether the peer closed the connection or has sent something (an answer).
    func isClosedOrAnswered() -> Bool {
        var byte: UInt8 = 0
        let count = recv(descriptor, &byte, 1, Int32(MSG_DONTWAIT | MSG_PEEK))
        if count >= 0 { return true }
        return errno != EAGAIN && errno != EWOULDBLOCK
    }
}
