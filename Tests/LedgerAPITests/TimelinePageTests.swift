import Foundation
import LedgerAPI
import LedgerDomain
import LedgerStorage
import LedgerTestSupport
import XCTest

/// The reviewer's timeline page, opened through a signed link and rendered by headless Chromium (Debian's
/// `chromium`, which scripts/install-dependencies installs): the DOM it builds must tell the history.
final class TimelinePageTests: XCTestCase, ClockedServiceTestCase {
    var service: ServiceFixture!
    var globex: TestOrganization!
    /// The page's size, as the server pages (TimelinePage.pageSize).
    static let pageSize = 50

    override func setUpWithError() throws {
        try startClockedService()
        globex = try TestOrganization(database: database, name: "Globex")
    }

    /// A verification taken through an attempt to an approved identity check.
    func approvedVerification() throws -> String {
        let id = try XCTUnwrap(try post("/v1/verifications", ["entity_id": "cus_timeline", "checks": ["identity_verification"],
                                                               "applicant": ["first_name": "Ada", "last_name": "Lovelace"]], expect: 201)["id"]?.stringValue)
        advance(60)
        let attempt = try XCTUnwrap(try post("/v1/verifications/\(id)/attempts", [:], expect: 201)["id"]?.stringValue)
        for status in ["capture_in_progress", "completed"] {
            advance(60)
            _ = try post("/v1/verifications/\(id)/attempts/\(attempt)/progress", ["status": .string(status)])
        }
        advance(60)
        _ = try post("/v1/verifications/\(id)/results", ["check": "identity_verification", "status": "approved", "response_codes": [10000]])
        return id
    }

    func link(_ id: String, key: String? = nil) throws -> String {
        let made = try post("/v1/verifications/\(id)/timeline_links", [:], key: key ?? acme.readKey, expect: 201)
        XCTAssertEqual(made["expires_at"], .string(Timestamp.rfc3339(clock.get().addingTimeInterval(900))))
        return try XCTUnwrap(made["url"]?.stringValue)
    }

    func chromium(_ arguments: [String]) throws -> ChildProcess.Outcome {
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("chromium-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: profile) }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium") else {
            throw XCTSkip("chromium is not installed: scripts/install-dependencies installs it")
        }
        // Bounded: a hung browser is killed after a minute.
        return try ChildProcess.run("timeout", ["60", "/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                                "--disable-dev-shm-usage", "--user-data-dir=\(profile.path)", "--virtual-time-budget=5000"] + arguments)
    }

    func testChromiumRendersTheTimelineWithTimesActorsChangesCodesChainAndProofLinks() throws {
        let id = try approvedVerification()
        let url = server.baseURL + (try link(id))
        let page = try client.get(String(url.dropFirst(server.baseURL.count)))
        XCTAssertEqual(page.status, 200, page.text)
        let policy = try XCTUnwrap(page.header("Content-Security-Policy"))
        XCTAssertTrue(policy.hasPrefix("default-src 'none'; style-src 'nonce-"), policy)
        XCTAssertFalse(policy.contains("script-src"), "no script is allowed at all")
        XCTAssertEqual(page.header("Referrer-Policy"), "no-referrer")
        XCTAssertFalse(page.text.contains("<script"))

        let dom = try chromium(["--dump-dom", url])
        XCTAssertEqual(dom.status, 0, dom.output)
        let text = dom.output
        for expected in ["Verification", id, "Chain intact: 5 events checked now", "VerificationInvited", "AttemptStarted",
                         "CheckResultRecorded", "status", "approved", "→", "<b>10000</b> approved", "inclusion proof", "api_key", "Ada"] {
            XCTAssertTrue(text.contains(expected), "the rendered page lacks \(expected)")
        }
        XCTAssertEqual(text.components(separatedBy: "<li class=\"event\"").count - 1, 5, "one entry per event")
        XCTAssertTrue(text.contains("<th>status</th><td class=\"old\">checks_in_progress</td><td>→</td><td class=\"new\">approved</td>"),
                      "the status change old → new")
        let events = try client.get("/v1/verifications/\(id)/events", headers: .bearer(acme.readKey)).json?["data"]?.arrayValue ?? []
        for event in events {
            XCTAssertTrue(text.contains("href=\"/v1/events/\(event["id"]?.stringValue ?? "")/proof\""))
        }

        let png = FileManager.default.temporaryDirectory.appendingPathComponent("timeline-\(UUID().uuidString).png")
        addTeardownBlock { try? FileManager.default.removeItem(at: png) }
        let shot = try chromium(["--screenshot=\(png.path)", "--window-size=1200,1600", url])
        XCTAssertEqual(shot.status, 0, shot.output)
        let bytes = try Data(contentsOf: png)
        XCTAssertEqual(Array(bytes.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "a PNG")
        XCTAssertGreaterThan(bytes.count, 10_000, "with something drawn on it")
    }

    /// A long stream is read a page at a time through the same link: each page's first change reads against
    /// the state before it, and the pages link to each other with the link's token.
    func testChromiumReadsALongStreamPageByPageThroughTheSameLink() throws {
        let id = try XCTUnwrap(try post("/v1/verifications", ["entity_id": "cus_long", "checks": ["email"]], expect: 201)["id"]?.stringValue)
        let count = 2 * TimelinePageTests.pageSize + 20
        let started = clock.get()
        _ = try EventStore.append(try database.ownerConnection(), organizationID: acme.id, streamID: id, expectedVersion: .exact(1),
                                  events: (2...count).map { step in
                                      NewEvent(id: UUID(), type: "MetadataUpdated", schemaVersion: 2, data: ["changes": ["step": .string("\(step)")]],
                                               occurredAt: started.addingTimeInterval(Double(step)))
                                  },
                                  metadata: EventMetadata(actorID: "scheduler", actorType: .system))
        let page = server.baseURL + "/ui/verifications/\(id)"
        var pages: [String] = []
        var next: String? = server.baseURL + (try link(id))
        while let address = next, pages.count < 5 {
            let dom = try chromium(["--dump-dom", address])
            XCTAssertEqual(dom.status, 0, dom.output)
            pages.append(dom.output)
            next = dom.output.components(separatedBy: "<a rel=\"next\" href=\"").dropFirst().first?.components(separatedBy: "\"").first
                .map { page + $0.replacingOccurrences(of: "&amp;", with: "&") }
        }
        XCTAssertEqual(pages.count, 3, "two full pages and the rest")
        XCTAssertEqual(pages.map { $0.components(separatedBy: "<li class=\"event\"").count - 1 }, [50, 50, 20])
        for (index, range) in ["1–50", "51–100", "101–120"].enumerated() where index < pages.count {
            XCTAssertTrue(pages[index].contains("events \(range) of \(count)"), "page \(index + 1) says which events it shows")
            XCTAssertTrue(pages[index].contains("Chain intact: \(count) events checked now"), "the whole chain is checked on every page")
            XCTAssertEqual(pages[index].contains("rel=\"prev\""), index > 0, "a link to the earlier page from the second on")
        }
        XCTAssertTrue(pages.dropFirst().first?.contains("<th>metadata.step</th><td class=\"old\">50</td><td>→</td><td class=\"new\">51</td>") == true,
                      "the second page's first change reads against the last state of the first")
        XCTAssertEqual(try client.get("/ui/verifications/\(id)?token=x&after=50").status, 400)
    }

    func testALinkOpensOnlyItsVerificationForFifteenMinutesAndNeedsAKeyToBeMade() throws {
        let id = try approvedVerification()
        let other = try XCTUnwrap(try post("/v1/verifications", ["entity_id": "cus_other", "checks": ["email"]], expect: 201)["id"]?.stringValue)
        let url = try link(id)
        let token = try XCTUnwrap(url.components(separatedBy: "token=").last)
        XCTAssertEqual(try client.get(url).status, 200, "no key needed")
        _ = try post("/v1/verifications/\(id)/metadata", ["metadata": ["note": "<script>alert(1)</script>"]])
        let escaped = try client.get(url).text
        XCTAssertTrue(escaped.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "every text is escaped")
        XCTAssertFalse(escaped.contains("<script"))

        func code(_ path: String) throws -> String? { try client.get(path).json?["error"]?["code"]?.stringValue }
        XCTAssertEqual(try code("/ui/verifications/\(other)?token=\(token)"), "link_invalid", "bound to its verification")
        var tampered = Array(token)
        tampered[tampered.count - 1] = tampered.last == "0" ? "1" : "0"
        XCTAssertEqual(try code("/ui/verifications/\(id)?token=\(String(tampered))"), "link_invalid")
        let otherOrganization = token.replacingOccurrences(of: acme.id.uuidString.lowercased(), with: globex.id.uuidString.lowercased())
        XCTAssertEqual(try code("/ui/verifications/\(id)?token=\(otherOrganization)"), "link_invalid", "bound to its organization")
        let otherMode = token.replacingOccurrences(of: ".t.", with: ".l.")
        XCTAssertEqual(try code("/ui/verifications/\(id)?token=\(otherMode)"), "link_invalid", "bound to its mode")
        XCTAssertEqual(try client.get("/ui/verifications/\(id)").status, 400, "a token is required")

        advance(14 * 60)
        XCTAssertEqual(try client.get(url).status, 200)
        advance(61)
        XCTAssertEqual(try code(url), "link_expired")

        XCTAssertEqual(try client.post("/v1/verifications/\(id)/timeline_links", json: [:]).status, 401)
        XCTAssertEqual(try client.post("/v1/verifications/\(id)/timeline_links", json: [:], headers: .bearer(globex.readKey)).status, 404)
    }
}
