import Foundation
import LedgerDomain
import XCTest

/// Runs every case of the JsonLogic conformance suites in `shared/reference/jsonlogic/` (read from there, never
/// copied): results must equal the expected ones (as decimals where a case says `decimal`), errors must carry
/// the expected type. A missing folder or fewer cases than the suites announce fails.
final class JsonLogicConformanceTests: XCTestCase {
    /// The suites' own README announces the total; fewer cases found means files went missing.
    private static let announcedCases = 942
    private static let announcedErrorCases = 113

    static func suitesFolder() -> URL? {
        guard let checkCodes = ViewsTests.checkCodesReference() else { return nil }
        let folder = checkCodes.deletingLastPathComponent().appendingPathComponent("jsonlogic")
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else { return nil }
        return folder
    }

    private struct Case {
        let file: String
        let index: Int
        let description: String
        let rule: JSONValue
        let data: JSONValue
        let expected: Expected
        let decimal: Bool
    }

    private enum Expected {
        case result(JSONValue)
        case error(type: String)
    }

    private func loadCases(from folder: URL) throws -> [Case] {
        guard let walker = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil) else {
            XCTFail("cannot list \(folder.path)")
            return []
        }
        let files = walker.compactMap { $0 as? URL }.filter { $0.pathExtension == "json" }
            .sorted { $0.path < $1.path }
        var cases = [Case]()
        for file in files {
            let name = String(file.path.dropFirst(folder.path.count + 1))
            let document = try JSONValue.parse(Array(try Data(contentsOf: file)), maxDepth: 64)
            guard let entries = document.arrayValue else {
                XCTFail("\(name) is not an array of cases")
                continue
            }
            for (index, entry) in entries.enumerated() {
                guard case .object = entry else { continue }  // comment strings
                guard let rule = entry["rule"] else {
                    XCTFail("\(name)[\(index)] has no rule")
                    continue
                }
                let expected: Expected
                if let error = entry["error"] {
                    guard let type = error["type"]?.stringValue else {
                        XCTFail("\(name)[\(index)] has an error without a type")
                        continue
                    }
                    expected = .error(type: type)
                } else if let result = entry["result"] {
                    expected = .result(result)
                } else {
                    XCTFail("\(name)[\(index)] has neither result nor error")
                    continue
                }
                cases.append(Case(
                    file: name, index: index, description: entry["description"]?.stringValue ?? "",
                    rule: rule, data: entry["data"] ?? .null, expected: expected,
                    decimal: entry["decimal"]?.boolValue ?? false))
            }
        }
        return cases
    }

    func testEveryCaseOfTheConformanceSuitesPasses() throws {
        guard let folder = Self.suitesFolder() else {
            return XCTFail("shared/reference/jsonlogic is in no folder above this repository; set LEDGER_REFERENCE_DIR to the reference folder")
        }
        let cases = try loadCases(from: folder)
        XCTAssertGreaterThanOrEqual(cases.count, Self.announcedCases, "the suites hold \(Self.announcedCases) cases")
        let errorCases = cases.filter { if case .error = $0.expected { return true } else { return false } }.count
        XCTAssertGreaterThanOrEqual(errorCases, Self.announcedErrorCases)

        var passed = 0
        for testCase in cases {
            let label = "\(testCase.file)[\(testCase.index)] \(testCase.description): \(testCase.rule.jsonString)"
            let outcome: Result<JSONValue, JsonLogicError>
            do throws(JsonLogicError) {
                outcome = .success(try JsonLogicRule.apply(testCase.rule, to: testCase.data))
            } catch {
                outcome = .failure(error)
            }
            switch (testCase.expected, outcome) {
            case let (.result(expected), .success(actual)):
                let equal = testCase.decimal ? Self.decimalEquals(actual, expected) : actual == expected
                if equal { passed += 1 } else { XCTFail("\(label): expected \(expected.jsonString), got \(actual.jsonString)") }
            case let (.result(expected), .failure(error)):
                XCTFail("\(label): expected \(expected.jsonString), got error \(error.type) at \(error.path): \(error.message)")
            case let (.error(type), .success(actual)):
                XCTFail("\(label): expected error \(type), got \(actual.jsonString)")
            case let (.error(type), .failure(error)):
                if error.type == type { passed += 1 } else { XCTFail("\(label): expected error \(type), got \(error.type): \(error.message)") }
            }
        }
        print("JsonLogic conformance: \(passed) of \(cases.count) cases pass (\(errorCases) expect an error)")
        XCTAssertEqual(passed, cases.count)
    }

    /// Both numbers, equal as decimals read from their shortest spelling (0.5 is 0.5, not a binary neighbour).
    static func decimalEquals(_ a: JSONValue, _ b: JSONValue) -> Bool {
        guard let x = decimal(a), let y = decimal(b) else { return false }
        return x == y
    }

    private static func decimal(_ value: JSONValue) -> Decimal? {
        switch value {
        case let .int(i): return Decimal(string: String(i))
        case let .double(d): return Decimal(string: "\(d)")
        default: return nil
        }
    }

    func testTheDecimalComparisonTellsDecimalsApart() {
        XCTAssertTrue(Self.decimalEquals(.double(0.5), .double(0.5)))
        XCTAssertTrue(Self.decimalEquals(.int(0), .double(0)))
        XCTAssertFalse(Self.decimalEquals(.double(0.1 + 0.2), .double(0.3)))
        XCTAssertFalse(Self.decimalEquals(.string("0.5"), .double(0.5)))
        // Without `decimal`, results compare as JSON: of the same type, numbers by value.
        XCTAssertNotEqual(JSONValue.int(1), .bool(true))
        XCTAssertNotEqual(JSONValue.array([]), .null)
    }
}
