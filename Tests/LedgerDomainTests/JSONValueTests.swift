import LedgerDomain
import XCTest

final class JSONValueTests: XCTestCase {
    func testRoundTripKeepsTypes() throws {
        let text = #"{"a":1,"b":-2.5,"c":"x\"y\\z\n","d":[true,false,null],"e":{"f":[]},"g":12345678901234}"#
        let value = try JSONValue.parse(text)
        XCTAssertEqual(value["a"], .int(1))
        XCTAssertEqual(value["b"], .double(-2.5))
        XCTAssertEqual(value["c"], .string("x\"y\\z\n"))
        XCTAssertEqual(value["d"], [true, false, nil])
        XCTAssertEqual(value["g"]?.intValue, 12_345_678_901_234)
        XCTAssertEqual(try JSONValue.parse(value.encoded()), value)
    }

    func testEscapesAndUnicode() throws {
        XCTAssertEqual(try JSONValue.parse(#""a\u00e9\ud83d\ude00\n\/""#), .string("aé😀\n/"))
        XCTAssertEqual(try JSONValue.parse("\"héllo\""), .string("héllo"))
        XCTAssertEqual(try JSONValue.parse(" [ -0.5e2 , 0 , -7 ] "), [.double(-50), 0, -7])
        XCTAssertEqual(try JSONValue.parse("{\"a\":{\"b\":[]}}")["a"]?["b"], [])
        XCTAssertEqual(JSONValue.string("\u{1}\u{1f}\t\"é").jsonString, #""\u0001\u001f\t\"é""#, "control characters as \\u00XX, lower-case hex")
    }

    /// The writer appends the runs between escapes whole: every character needing one, at the start, in the middle and
    /// at the end of a string, gives the bytes an escape of each byte in turn gives, and parses back to the string.
    func testEveryEscapeIsWrittenWhereverItStandsInTheString() throws {
        func escapedByteByByte(_ text: String) -> String {
            var out = "\""
            for scalar in text.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                case _ where scalar.value < 0x20: out += "\\u00" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
                default: out.unicodeScalars.append(scalar)
                }
            }
            return out + "\""
        }
        let specials = (0..<0x20).compactMap(Unicode.Scalar.init).map(String.init) + ["\"", "\\"]
        for special in specials {
            for text in [special, special + "abc", "abc" + special, "a" + special + "é✓" + special + special + "z", "long run " + special + String(repeating: "x", count: 300)] {
                XCTAssertEqual(JSONValue.string(text).jsonString, escapedByteByByte(text), text.debugDescription)
                // NUL is written escaped, but no parse takes it (text cannot hold it).
                if special != "\u{0}" {
                    XCTAssertEqual(try JSONValue.parse(JSONValue.string(text).jsonString), .string(text), text.debugDescription)
                }
            }
        }
        var fromBytes: [UInt8] = []
        JSONValue.writeString(utf8: AnySequence(Array("x\"y\u{1}".utf8)), to: &fromBytes)
        XCTAssertEqual(String(decoding: fromBytes, as: UTF8.self), #""x\"y\u0001""#, "bytes not held together are written alike")
    }

    /// Written digit by digit: the same text ISO 8601 formatting with milliseconds gives (from 1583 on, where its
    /// calendar is the Gregorian one the writer's is throughout; the years before are checked by their day count).
    func testTimestampsAreWrittenAsISO8601WithMillisecondsInUTC() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            // Whole milliseconds, so that the formatter's rounding and the writer's rounding down cannot differ.
            let millis = Double(Int64.random(in: -12_212_553_600_000 ..< 253_402_300_800_000, using: &generator))
            let date = Date(timeIntervalSince1970: millis / 1000)
            XCTAssertEqual(Timestamp.rfc3339(date), formatter.string(from: Date(timeIntervalSince1970: (date.timeIntervalSince1970 * 1000).rounded(.down) / 1000)))
        }
        for _ in 0..<2_000 {
            let seconds = Double(Int64.random(in: -62_135_596_800 ..< 253_402_300_800, using: &generator))
            let text = Timestamp.rfc3339(Date(timeIntervalSince1970: seconds))
            XCTAssertEqual(Timestamp.parse(text)?.timeIntervalSince1970, seconds, text)
        }
        XCTAssertEqual(Timestamp.rfc3339(Date(timeIntervalSince1970: 0)), "1970-01-01T00:00:00.000Z")
        XCTAssertEqual(Timestamp.rfc3339(Date(timeIntervalSince1970: -1)), "1969-12-31T23:59:59.000Z")
    }

    func testTimestampsRoundTrip() {
        let date = Date(timeIntervalSince1970: 1_795_000_000.123)
        XCTAssertEqual(Timestamp.rfc3339(date), "2026-11-18T11:06:40.123Z")
        XCTAssertEqual(Timestamp.parse("2026-11-18T11:06:40.123Z")?.timeIntervalSince1970 ?? 0, 1_795_000_000.123, accuracy: 0.0001)
        XCTAssertEqual(Timestamp.parse("2026-11-18T12:06:40+01:00")?.timeIntervalSince1970, 1_795_000_000)
        XCTAssertEqual(Timestamp.parse("1969-12-31T23:59:59Z")?.timeIntervalSince1970, -1)
        // PostgreSQL's own output.
        XCTAssertEqual(Timestamp.parse("2026-11-18 11:06:40.123456+00")?.timeIntervalSince1970 ?? 0, 1_795_000_000.123456, accuracy: 0.000001)
        XCTAssertEqual(Timestamp.parse("2026-11-18 12:06:40+01")?.timeIntervalSince1970, 1_795_000_000)
        for bad in ["2026-11-18", "2026-13-01T00:00:00Z", "2026-11-18T09:06:40", "yesterday", "2026-11-18T09:06:40.Z", "2026-11-18T09:06:40+1"] {
            XCTAssertNil(Timestamp.parse(bad), bad)
        }
    }

    func testEncodingIsCompactAndInOrder() {
        let value: JSONValue = ["z": 1, "a": ["k": "v"], "ctl": "\u{01}\t"]
        XCTAssertEqual(value.jsonString, #"{"z":1,"a":{"k":"v"},"ctl":"\u0001\t"}"#)
        XCTAssertEqual(JSONValue.double(.nan).jsonString, "null")
        XCTAssertEqual(JSONValue.double(2.0).jsonString, "2")
    }

    func testObjectsCompareWithoutRegardToMemberOrder() {
        XCTAssertEqual(JSONValue.object([("a", 1), ("b", 2)]), JSONValue.object([("b", 2), ("a", 1)]))
        XCTAssertNotEqual(JSONValue.object([("a", 1)]), JSONValue.object([("a", 2)]))
        XCTAssertEqual(JSONValue.int(2), JSONValue.double(2))
    }

    func testMalformedJSONIsRefused() {
        for text in ["{", "{\"a\":}", "[1 2]", "[1,]", "{\"a\":1,}", "nul", "{\"a\" 1}", "", "01", "1.", "\"\\x\"", "\"\u{01}\"",
                     "\"\\ud800\"", "[1] 2", "1e999"] {
            XCTAssertThrowsError(try JSONValue.parse(text), text) { error in
                guard case .malformed = error as? JSONParseError else { return XCTFail("\(text): \(error)") }
            }
        }
    }

    func testNestingDeeperThanTheLimitIsRefusedBeforeDecoding() {
        let deep = String(repeating: "[", count: 33) + String(repeating: "]", count: 33)
        XCTAssertThrowsError(try JSONValue.parse(deep)) { error in
            XCTAssertEqual(error as? JSONParseError, .tooDeep(limit: 32))
        }
        let ok = String(repeating: "[", count: 32) + String(repeating: "]", count: 32)
        XCTAssertNoThrow(try JSONValue.parse(ok))
        // Brackets inside strings do not count.
        XCTAssertNoThrow(try JSONValue.parse("[\"" + String(repeating: "[", count: 100) + "\"]"))
        // Nor does a huge unbalanced input cost more than a scan.
        XCTAssertThrowsError(try JSONValue.parse(String(repeating: "{\"a\":", count: 100_000)))
    }
}

final class EnvelopeTests: XCTestCase {
    func testExpectedVersionStoredValues() {
        XCTAssertNil(ExpectedVersion.any.storedValue)
        XCTAssertEqual(ExpectedVersion.noStream.storedValue, 0)
        XCTAssertEqual(ExpectedVersion.exact(7).storedValue, 7)
    }

    func testFeedCursorOrdersByTransactionThenPosition() {
        let a = FeedCursor(transactionID: 10, position: 50)
        let b = FeedCursor(transactionID: 11, position: 3)
        XCTAssertLessThan(a, b)
        XCTAssertLessThan(FeedCursor.start, a)
        XCTAssertEqual(FeedCursor(a.description), a)
        XCTAssertNil(FeedCursor("10"))
        XCTAssertNil(FeedCursor("x-1"))
        XCTAssertNil(FeedCursor("1--2"))
    }

    func testMetadataRoundTripsThroughJSON() {
        let metadata = EventMetadata(actorID: "key_1", actorType: .apiKey, requestID: "req_1", idempotencyKey: "k",
                                     causationID: "c", correlationID: "r")
        XCTAssertEqual(EventMetadata(json: metadata.json), metadata)
        let minimal = EventMetadata(actorID: "system", actorType: .system)
        XCTAssertEqual(minimal.json, ["actor_id": "system", "actor_type": "system"])
        XCTAssertNil(EventMetadata(json: ["actor_id": "x", "actor_type": "robot"]))
    }
}

final class AccessTests: XCTestCase {
    func testScopeLists() {
        XCTAssertEqual(try Scope.parseList("read, write,admin").get(), [.read, .write, .admin])
        XCTAssertEqual(try Scope.parseList("read").get(), [.read])
        guard case let .failure(unknown) = Scope.parseList("read,root") else { return XCTFail() }
        XCTAssertEqual(unknown.name, "root")
        guard case .failure = Scope.parseList("") else { return XCTFail("an empty list is not a list of scopes") }
    }

    func testSecretShapes() {
        let hex = String(repeating: "ab12", count: 16)
        XCTAssertEqual(APIKeySecret.livemode(of: "sk_test_" + hex), false)
        XCTAssertEqual(APIKeySecret.livemode(of: "sk_live_" + hex), true)
        XCTAssertNil(APIKeySecret.livemode(of: "sk_test_" + hex.dropLast()))
        XCTAssertNil(APIKeySecret.livemode(of: "sk_test_" + hex.uppercased()))
        XCTAssertNil(APIKeySecret.livemode(of: "pk_test_" + hex))
        XCTAssertEqual(APIKeySecret.hint(of: "sk_test_" + hex), "sk_test_…ab12")
    }
}
