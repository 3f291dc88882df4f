import Foundation
import LedgerHTTP
import LedgerTestSupport
import LedgerWebhooks
import Synchronization
import XCTest

/// The dispatcher's libcurl client against an in-process receiver on loopback.
final class WebhookHTTPClientTests: XCTestCase {
    var servers: [HTTPServer] = []

    override func tearDown() {
        for server in servers { server.shutdown(gracePeriod: 1) }
    }

    func receiver(_ handler: @escaping HTTPHandler) throws -> String {
        let server = HTTPServer(configuration: .init(host: "127.0.0.1", port: 0, threads: 2), handler: handler)
        try server.start()
        servers.append(server)
        return "http://127.0.0.1:\(server.port)/hooks"
    }

    func post(_ client: CurlClient, _ url: String, headers: [(String, String)] = [], body: String = "{}", timeout: TimeInterval = 5)
        -> CurlClient.Response? {
        let answer = Mutex<CurlClient.Response?>(nil)
        let done = DispatchSemaphore(value: 0)
        client.post(url, headers: headers, body: Array(body.utf8), timeout: timeout) { response in
            answer.withLock { $0 = response }
            done.signal()
        }
        guard done.wait(timeout: .now() + 20) == .success else { return nil }
        return answer.withLock { $0 }
    }

    func testTheBodyAndHeadersArriveAndTheExcerptIsTheFirstKiB() throws {
        let seen = Mutex<HTTPRequest?>(nil)
        let url = try receiver { request in
            seen.withLock { $0 = request }
            return HTTPResponse(status: 200, body: Array(String(repeating: "a", count: 5000).utf8))
        }
        let client = CurlClient()
        let body = "{\"payload\":\"" + String(repeating: "é", count: 800) + "\"}"
        let response = post(client, url, headers: [("Content-Type", "application/json"), ("webhook-id", "msg_1")], body: body)
        XCTAssertEqual(response?.status, 200)
        XCTAssertNil(response?.error)
        XCTAssertEqual(response?.excerpt, String(repeating: "a", count: 1024))
        let request = seen.withLock { $0 }
        XCTAssertEqual(request?.method, "POST")
        XCTAssertEqual(request?.body, Array(body.utf8))
        XCTAssertEqual(request?.header("webhook-id"), "msg_1")
        XCTAssertEqual(request?.header("content-type"), "application/json")
    }

    func testARedirectIsAnAnswerAndIsNotFollowed() throws {
        let redirected = Atomic<Int>(0)
        let elsewhere = try receiver { _ in redirected.add(1, ordering: .relaxed); return HTTPResponse(status: 204) }
        let url = try receiver { _ in HTTPResponse(status: 307, headers: [("Location", elsewhere)]) }
        let client = CurlClient()
        let response = post(client, url)
        XCTAssertEqual(response?.status, 307)
        XCTAssertEqual(redirected.load(ordering: .relaxed), 0)
    }

    func testATimeoutAndARefusedConnectionAreFailuresWithTheirCause() throws {
        let answered = Atomic<Int>(0)
        let url = try receiver { _ in
            usleep(1_000_000) // a receiver slower than the client's timeout
            answered.add(1, ordering: .relaxed)
            return HTTPResponse(status: 204)
        }
        let client = CurlClient()
        let late = post(client, url, timeout: 0.2)
        XCTAssertNil(late?.status)
        XCTAssertTrue(late?.error?.lowercased().contains("timed out") ?? false, late?.error ?? "no answer")
        // The receiver is stopped only once its handler is done with the abandoned request.
        XCTAssertTrue(eventually(timeout: 10) { answered.load(ordering: .relaxed) == 1 })
        let refused = post(client, "http://127.0.0.1:1/hooks")
        XCTAssertNil(refused?.status)
        XCTAssertNotNil(refused?.error)
        let unsupported = post(client, "ftp://127.0.0.1/hooks")
        XCTAssertNil(unsupported?.status)
        XCTAssertNotNil(unsupported?.error)
    }
}
