import Foundation
import LedgerDomain
import LedgerHTTP
import LedgerTestSupport
import XCTest

/// Bodies sent as they are produced: whole and chunked for a client that reads, held back for one that does
/// not (memory stays bounded), and stopped when the client leaves.
final class StreamedResponseTests: XCTestCase {
    func testAStreamedBodyArrivesWholeAndChunked() throws {
        let server = try TestServer { _ in
            HTTPResponse(status: 200, headers: [("Content-Type", "text/plain")], stream: HTTPBodyStream { write in
                for line in 0..<5_000 { try write(Array("line \(line)\n".utf8)) }
            })
        }
        defer { server.stop() }
        let response = try TestClient(baseURL: server.baseURL).get("/anything")
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.header("Transfer-Encoding")?.lowercased(), "chunked")
        let lines = response.text.split(separator: "\n")
        XCTAssertEqual(lines.count, 5_000)
        XCTAssertEqual(lines.last, "line 4999")
        XCTAssertNotNil(response.header("Request-Id"))
    }

    func testAClientThatStopsReadingHoldsTheProducerBackAndOneThatLeavesStopsIt() throws {
        let chunks = LockedBox(0)
        let ended = LockedBox(false)
        let server = try TestServer { _ in
            HTTPResponse(status: 200, stream: HTTPBodyStream { write in
                let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 64 * 1024)
                defer { ended.set(true) }
                while true {
                    try write(chunk)
                    chunks.update { $0 += 1 }
                }
            })
        }
        defer { server.stop() }
        var connection: RawConnection? = try RawConnection(port: server.port)
        connection?.send(Array("GET /endless HTTP/1.1\r\nHost: test\r\n\r\n".utf8))
        var first = [UInt8](repeating: 0, count: 1024)
        XCTAssertGreaterThan(recv(connection?.descriptor ?? -1, &first, first.count, 0), 0, "the headers and the first bytes arrive")

        // The producer runs until the buffers between it and the client are full, then waits.
        var last = -1
        var unchanged = 0
        XCTAssertTrue(eventually(timeout: 30, interval: 0.01) {
            let now = chunks.get()
            unchanged = now == last ? unchanged + 1 : 0
            last = now
            return unchanged >= 50
        }, "the producer never stopped writing")
        XCTAssertLessThan(chunks.get() * 64 * 1024, 64 << 20, "at most the server's buffer and the sockets' hold the unread body")
        XCTAssertFalse(ended.get())

        connection = nil
        XCTAssertTrue(eventually(timeout: 10) { ended.get() }, "the producer learns that the client left")
    }
}
