import Foundation
import LedgerDomain
import XCTest

/// Input no conversion may trap on, and strings no text column can hold: refused with the path that names them.
final class BadInputTests: XCTestCase {
    func refusal(_ text: [UInt8], maxElements: Int = .max, uniqueMembers: Bool = false) -> JSONParseError? {
        do {
            _ = try JSONValue.parse(text, maxDepth: 32, maxElements: maxElements, uniqueMembers: uniqueMembers)
            return nil
        } catch {
            return error
        }
    }

    func testAnEscapedNULIsRefusedWithThePathOfItsValue() {
        XCTAssertEqual(refusal(Array(#"{"metadata":{"note":"a\u0000b"}}"#.utf8)),
                       .unacceptableString(path: "metadata.note", reason: "the value contains \\u0000 (NUL), which text cannot hold"))
        guard case .unacceptableString(path: "checks[1]", _) = refusal(Array(#"{"checks":["document","\u0000"]}"#.utf8)) else {
            return XCTFail("the array element is named")
        }
        guard case .unacceptableString(path: "[0][2].x", _) = refusal(Array(#"[[1,2,{"x":"\u0000"}]]"#.utf8)) else {
            return XCTFail("nested arrays are named")
        }
        guard case .unacceptableString(path: "metadata", _) = refusal(Array(#"{"metadata":{"a\u0000":"b"}}"#.utf8)) else {
            return XCTFail("a member name with NUL names its object")
        }
        guard case .unacceptableString(path: "", _) = refusal(Array(#""\u0000""#.utf8)) else { return XCTFail("the document itself") }
    }

    func testARawNULByteIsRefusedWithThePathOfItsValue() {
        guard case .unacceptableString(path: "reason", _) = refusal(Array(#"{"reason":"a"#.utf8) + [0] + Array(#"b"}"#.utf8)) else {
            return XCTFail("a raw NUL names its field")
        }
    }

    func testInvalidUTF8IsRefusedNotRepaired() {
        let cases: [[UInt8]] = [
            [0xFF],                    // never valid
            [0xC3],                    // truncated sequence
            [0xC0, 0xAF],              // overlong '/'
            [0xED, 0xA0, 0x80],        // an encoded surrogate
            [0xF4, 0x90, 0x80, 0x80],  // past U+10FFFF
        ]
        for bytes in cases {
            for escaped in [false, true] {
                // With an escape before it the string takes the slow path.
                let body = Array(#"{"applicant":{"first_name":"A"#.utf8) + (escaped ? Array(#"\n"#.utf8) : []) + bytes + Array(#""}}"#.utf8)
                guard case .unacceptableString(path: "applicant.first_name", _) = refusal(body) else {
                    return XCTFail("\(bytes) (escaped: \(escaped)) is refused: \(String(describing: refusal(body)))")
                }
            }
        }
        XCTAssertEqual(try JSONValue.parse(Array(#"{"a":"é😀"}"#.utf8)), ["a": "é😀"], "valid UTF-8 still reads")
    }

    func testContainersPastTheElementLimitAreRefusedByName() {
        let members = (0..<11).map { "\"k\($0)\":\($0)" }.joined(separator: ",")
        XCTAssertEqual(refusal(Array(#"{"metadata":{\#(members)}}"#.utf8), maxElements: 10), .tooManyElements(path: "metadata", limit: 10))
        XCTAssertEqual(refusal(Array("[[\((0..<11).map(String.init).joined(separator: ","))]]".utf8), maxElements: 10),
                       .tooManyElements(path: "[0]", limit: 10))
        XCTAssertNil(refusal(Array(#"{\#((0..<10).map { "\"k\($0)\":\($0)" }.joined(separator: ","))}"#.utf8), maxElements: 10))
    }

    func testTenThousandMembersParseAndDuplicatesAreRefused() throws {
        let members = (0..<10_000).map { "\"key\($0)\":\"v\"" }.joined(separator: ",")
        XCTAssertEqual(try JSONValue.parse(Array("{\(members)}".utf8), maxElements: 10_000).objectValue?.count, 10_000)
        let twice = Array(#"{"status":"approved","status":"declined"}"#.utf8)
        XCTAssertEqual(refusal(twice, uniqueMembers: true), .duplicateMember(path: "status"))
        XCTAssertEqual(refusal(Array("{\"x\":{\(members),\"key9999\":1}}".utf8), uniqueMembers: true), .duplicateMember(path: "x.key9999"))
        // Stored documents are read as they are.
        XCTAssertEqual(try JSONValue.parse(twice).objectValue?.count, 2)
    }

    func testNumbersOutOfEveryRangeNeverTrap() throws {
        XCTAssertEqual(try JSONValue.parse("99999999999999999999").intValue, nil, "too large for Int64: a double, no integer")
        XCTAssertEqual(try JSONValue.parse("-9223372036854775808").intValue, Int64.min)
        XCTAssertEqual(try JSONValue.parse("1e300").intValue, nil)
        XCTAssertEqual(try JSONValue.parse("-1e300").intValue, nil)
        XCTAssertEqual(try JSONValue.parse("1e-300").intValue, nil)
        XCTAssertEqual(JSONValue.double(1e300).jsonString, "1e+300")
        XCTAssertEqual(JSONValue.double(-9.2e18).jsonString, "-9.2e+18")
    }

    func testTimesOutsideTheRepresentableYearsAreRefused() {
        for text in ["99999-01-01T00:00:00Z", "0000-01-01T00:00:00Z", "0001-01-01T00:00:00+00:01", "9999-12-31T23:59:59-00:01",
                     "2026-02-30T00:00:00Z", "2025-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-01-01T00:00:00+24:00",
                     "2026-01-01T00:00:00+01:60", "2026-01-01T00:00:00+99"] {
            XCTAssertNil(Timestamp.parse(text), text)
        }
        XCTAssertNotNil(Timestamp.parse("2024-02-29T00:00:00Z"))
        XCTAssertEqual(Timestamp.parse("0001-01-01T00:00:00Z")?.timeIntervalSince1970, -62_135_596_800)
        XCTAssertEqual(Timestamp.parse("9999-12-31T23:59:59.999Z").map(Timestamp.rfc3339), "9999-12-31T23:59:59.999Z")
        for text in ["9223372036854775807", "-9223372036854775808", "253402300800", "-62135596801", "1e300", "99999999999999999999"] {
            XCTAssertNil(Timestamp.unixSeconds(text), text)
        }
        XCTAssertEqual(Timestamp.unixSeconds("1795000000")?.timeIntervalSince1970, 1_795_000_000)
    }

    func testFormattingAnyDateNeverTraps() {
        XCTAssertEqual(Timestamp.rfc3339(Date(timeIntervalSince1970: 1e300)), "9999-12-31T23:59:59.999Z")
        XCTAssertEqual(Timestamp.rfc3339(Date(timeIntervalSince1970: -1e300)), "0001-01-01T00:00:00.000Z")
        XCTAssertEqual(Timestamp.rfc3339(Date(timeIntervalSince1970: .nan)), "0001-01-01T00:00:00.000Z")
        XCTAssertEqual(Timestamp.rfc3339(.distantFuture), "4001-01-01T00:00:00.000Z")
        // Every field padded where it has fewer digits than its width, and a time before 1970.
        XCTAssertEqual(Timestamp.rfc3339(Date(timeIntervalSince1970: 1_772_600_767.125)), "2026-03-04T05:06:07.125Z")
        XCTAssertEqual(Timestamp.rfc3339(Date(timeIntervalSince1970: -61_820_445_601.5)), "0010-12-27T13:59:58.500Z")
        XCTAssertEqual(Timestamp.rfc3339(Date(timeIntervalSince1970: 1_795_000_000.75)), "2026-11-18T11:06:40.750Z")
    }
}
