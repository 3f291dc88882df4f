import LedgerDomain
import XCTest

/// The evaluator beyond the conformance suites: its limits, every error it raises and where, and JavaScript's
/// coercions case by case.
final class JsonLogicTests: XCTestCase {
    private func json(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> JSONValue {
        do { return try JSONValue.parse(text, maxDepth: 200) } catch {
            XCTFail("test JSON does not parse: \(text)", file: file, line: line)
            return .null
        }
    }

    private func evaluate(_ rule: String, _ data: String = "null", limits: JsonLogicLimits = .standard) throws(JsonLogicError) -> JSONValue {
        try JsonLogicRule.apply(json(rule), to: json(data), limits: limits)
    }

    private func assertResult(_ rule: String, _ data: String = "null", _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        do throws(JsonLogicError) {
            let result = try evaluate(rule, data)
            XCTAssertEqual(result, json(expected), "\(rule) with \(data) gave \(result.jsonString)", file: file, line: line)
        } catch {
            XCTFail("\(rule) with \(data) failed: \(error.type) at \(error.path): \(error.message)", file: file, line: line)
        }
    }

    private func failure(_ rule: String, _ data: String = "null", path: String = "rule", limits: JsonLogicLimits = .standard) -> JsonLogicError? {
        do throws(JsonLogicError) {
            _ = try JsonLogicRule.apply(json(rule), to: json(data), path: path, limits: limits)
            return nil
        } catch {
            return error
        }
    }

    private func assertFailure(_ rule: String, _ data: String = "null", _ kind: JsonLogicError.Kind, at path: String = "rule", rootPath: String = "rule", limits: JsonLogicLimits = .standard, file: StaticString = #filePath, line: UInt = #line) {
        guard let error = failure(rule, data, path: rootPath, limits: limits) else {
            return XCTFail("\(rule) with \(data) did not fail", file: file, line: line)
        }
        XCTAssertEqual(error.kind, kind, "\(rule): \(error.message)", file: file, line: line)
        XCTAssertEqual(error.path, path, "\(rule): \(error.message)", file: file, line: line)
    }

    private func nested(_ levels: Int, inner: String = "1", wrap: (String) -> String) -> String {
        var text = inner
        for _ in 0..<levels { text = wrap(text) }
        return text
    }

    // MARK: - Limits

    func testARuleNestsAtMostSixtyFourLevels() {
        assertResult(nested(64) { "[\($0)]" }, "null", nested(64) { "[\($0)]" })
        assertFailure(nested(65) { "[\($0)]" }, "null", .limitExceeded(.depth), at: "rule" + String(repeating: "[0]", count: 64))
        // An operation with its argument array is two levels.
        assertResult(nested(32) { #"{"!": [\#($0)]}"# }, "null", "true")
        XCTAssertEqual(failure(nested(33) { #"{"!": [\#($0)]}"# })?.kind, .limitExceeded(.depth))
        XCTAssertEqual(failure(nested(64) { #"{"!": \#($0)}"# })?.kind, nil)
        XCTAssertEqual(failure(nested(65) { #"{"!": \#($0)}"# })?.kind, .limitExceeded(.depth))
    }

    func testAHostileNestingIsRefusedWithoutRecursingIntoIt() throws {
        var rule = JSONValue.int(1)
        for _ in 0..<5_000 { rule = .object([("!", rule)]) }
        XCTAssertThrowsError(try JsonLogicRule(rule)) { error in
            XCTAssertEqual((error as? JsonLogicError)?.kind, .limitExceeded(.depth))
        }
    }

    func testAReduceCannotNestItsAccumulatorPastTheDepthLimit() {
        let wrap = #"{"reduce": [{"var": ""}, [{"var": "accumulator"}], 0]}"#
        assertResult(wrap, "[1, 2, 3]", "[[[0]]]")
        assertResult(wrap, "[" + Array(repeating: "1", count: 64).joined(separator: ",") + "]", nested(64) { "[\($0)]" }.replacingOccurrences(of: "[1]", with: "[0]"))
        assertFailure(wrap, "[" + Array(repeating: "1", count: 65).joined(separator: ",") + "]", .limitExceeded(.depth))
        XCTAssertEqual(failure(wrap, "[" + Array(repeating: "1", count: 30_000).joined(separator: ",") + "]")?.kind, .limitExceeded(.depth))
    }

    func testARuleHoldsAtMostTenThousandNodes() {
        let items = { (count: Int) in "[" + Array(repeating: "1", count: count).joined(separator: ",") + "]" }
        // The array itself is a node: 9,999 elements make 10,000.
        XCTAssertNil(failure(items(9_999)))
        assertFailure(items(10_000), "null", .limitExceeded(.nodes), at: "rule[9999]")
        assertFailure(#"{"merge": \#(items(10_000))}"#, "null", .limitExceeded(.nodes), at: "rule.merge[9998]")
    }

    func testBuiltStringsAndArraysAreBounded() {
        let small = JsonLogicLimits(maxDepth: 64, maxNodes: 100, maxStringLength: 8, maxArrayLength: 3, maxSteps: 1_000)
        XCTAssertEqual(try? evaluate(#"{"cat": ["abcd", "efgh"]}"#, limits: small), "abcdefgh")
        assertFailure(#"{"cat": ["abcd", "efgh", "i"]}"#, "null", .limitExceeded(.stringLength), limits: small)
        // Code units as JavaScript counts them: an emoji is two.
        assertFailure(#"{"cat": ["abcdefg", "😀"]}"#, "null", .limitExceeded(.stringLength), limits: small)
        assertFailure(#"{"cat": [{"var": ""}]}"#, #"[1234, 5678]"#, .limitExceeded(.stringLength), limits: small)
        XCTAssertEqual(try? evaluate(#"{"merge": [[1, 2], 3]}"#, limits: small), [1, 2, 3])
        assertFailure(#"{"merge": [[1, 2], [3, 4]]}"#, "null", .limitExceeded(.arrayLength), limits: small)
        assertFailure(#"{"map": [{"var": ""}, 1]}"#, "[1, 2, 3, 4]", .limitExceeded(.arrayLength), limits: small)
        assertFailure(#"{"filter": [{"var": ""}, true]}"#, "[1, 2, 3, 4]", .limitExceeded(.arrayLength), limits: small)
        assertFailure(#"{"missing": ["a", "b", "c", "d"]}"#, "{}", .limitExceeded(.arrayLength), limits: small)
        assertFailure(#"{"substr": [{"var": ""}, 0]}"#, #""abcdefghi""#, .limitExceeded(.stringLength), limits: small)
    }

    func testAnEvaluationHasABudgetOfSteps() {
        let tight = JsonLogicLimits(maxDepth: 64, maxNodes: 100, maxStringLength: 100, maxArrayLength: 100, maxSteps: 50)
        let count = #"{"reduce": [{"var": ""}, {"+": [{"var": "accumulator"}, 1]}, 0]}"#
        XCTAssertEqual(try? evaluate(count, "[1, 2, 3, 4, 5]", limits: tight), 5)
        XCTAssertEqual(failure(count, "[" + (1...30).map(String.init).joined(separator: ",") + "]", limits: tight)?.kind, .limitExceeded(.steps))
        // A quadratic rule over a modest array stops at the standard budget instead of running for minutes.
        let quadratic = #"{"reduce": [{"var": ""}, {"merge": [{"var": "accumulator"}, [{"var": "current"}]]}, []]}"#
        let data = "[" + (1...20_000).map(String.init).joined(separator: ",") + "]"
        XCTAssertEqual(failure(quadratic, data)?.kind, .limitExceeded(.steps))
        // Comparing large documents is paid for by their size.
        let big = "[" + Array(repeating: "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]", count: 2_000).joined(separator: ",") + "]"
        let compareOften = #"{"and": ["# + Array(repeating: #"{"===": [{"var": ""}, {"var": ""}]}"#, count: 100).joined(separator: ",") + "]}"
        XCTAssertEqual(failure(compareOften, big)?.kind, .limitExceeded(.steps))
        // So is reading long strings: converting half a megabyte of spaces to a number, a thousand times.
        let spaces = #"{"s": "\#(String(repeating: " ", count: 500_000))"}"#
        let convertOften = #"{"and": ["# + Array(repeating: #"{"<": [{"var": "s"}, 1]}"#, count: 1_000).joined(separator: ",") + "]}"
        XCTAssertEqual(failure(convertOften, spaces)?.kind, .limitExceeded(.steps))
        XCTAssertNil(failure(#"{"<": [{"var": "s"}, 1]}"#, spaces))
    }

    // MARK: - Errors and their paths

    func testAnUnknownOperatorIsNamedWithItsPathEvenInABranchNotTaken() {
        guard let error = failure(#"{"if": [true, 1, {"bogus": [1]}]}"#, path: "rules.score") else { return XCTFail("accepted") }
        XCTAssertEqual(error.kind, .unknownOperator("bogus"))
        XCTAssertEqual(error.path, "rules.score.if[2]")
        XCTAssertEqual(error.type, "Unknown Operator")
        XCTAssertTrue(error.message.contains("bogus"), error.message)
        assertFailure(#"[1, {"cat": [{"nope": 1}]}]"#, "null", .unknownOperator("nope"), at: "rule[1].cat[0]")
        assertFailure(#"{"!": {"": 1}}"#, "null", .unknownOperator(""), at: "rule.!")
    }

    func testAnObjectWithSeveralKeysIsAMalformedRule() {
        guard let error = failure(#"{"and": [true, {"var": "a", "==": [1, 1]}]}"#) else { return XCTFail("accepted") }
        XCTAssertEqual(error.kind, .malformedRule)
        XCTAssertEqual(error.path, "rule.and[1]")
        XCTAssertEqual(error.type, "Malformed Rule")
        // The empty object is data, and truthy.
        assertResult(#"{"if": [{}, "yes", "no"]}"#, "null", #""yes""#)
    }

    func testArgumentsThatCanNeverWorkAreRefusedBeforeEvaluation() {
        for rule in [#"{"if": "x"}"#, #"{"and": true}"#, #"{"or": {"var": "a"}}"#, #"{"<": 1}"#, #"{"map": 1}"#, #"{"missing_some": 1}"#] {
            guard let error = failure(rule) else { XCTFail("\(rule) accepted"); continue }
            XCTAssertEqual(error.kind, .invalidArguments, rule)
            XCTAssertEqual(error.type, "Invalid Arguments", rule)
        }
        assertFailure(#"{"if": [true, {"%": [1]}]}"#, "null", .invalidArguments, at: "rule.if[1]")
        assertFailure(#"{"==": [1]}"#, "null", .invalidArguments)
        assertFailure(#"{"-": []}"#, "null", .invalidArguments)
        assertFailure(#"{"/": []}"#, "null", .invalidArguments)
        assertFailure(#"{"substr": []}"#, "null", .invalidArguments)
        assertFailure(#"{"reduce": [[1]]}"#, "null", .invalidArguments)
        assertFailure(#"{"map": [null, 1]}"#, "null", .invalidArguments)
        assertFailure(#"{"map": ["abc", 1]}"#, "null", .invalidArguments)
        assertFailure(#"{"filter": [[1], null]}"#, "null", .invalidArguments)
        assertFailure(#"{"reduce": [[1], null, 0]}"#, "null", .invalidArguments)
        assertFailure(#"{"some": [5, true]}"#, "null", .invalidArguments)
    }

    func testArgumentsOfTheWrongTypeFailWhereTheyAreEvaluated() {
        assertFailure(#"{"cat": ["x", {"all": [{"var": "a"}, true]}]}"#, #"{"a": 5}"#, .invalidArguments, at: "rule.cat[1]")
        assertFailure(#"{"map": [{"var": "a"}, 1]}"#, #"{"a": "abc"}"#, .invalidArguments)
        assertFailure(#"{"none": [{"var": "a"}, true]}"#, #"{}"#, .invalidArguments)
        assertFailure(#"{"var": [[1]]}"#, "null", .invalidArguments)
        assertFailure(#"{"var": {"merge": [["a"]]}}"#, "null", .invalidArguments)
        assertFailure(#"{"val": [[1]]}"#, "null", .invalidArguments)
        assertFailure(#"{"missing_some": [1, "a"]}"#, "null", .invalidArguments)
        assertFailure(#"{"missing_some": ["x", ["a"]]}"#, "null", .invalidArguments)
        assertFailure(#"{"max": ["3", 2]}"#, "null", .invalidArguments)
        assertFailure(#"{"min": []}"#, "null", .invalidArguments)
        assertFailure(#"{"max": [1, null]}"#, "null", .invalidArguments)
    }

    func testNotANumberIsAnErrorAtTheOperationThatNeededOne() {
        guard let error = failure(#"{"+": [1, {"/": [1, 0]}]}"#) else { return XCTFail("accepted") }
        XCTAssertEqual(error.kind, .notANumber)
        XCTAssertEqual(error.path, "rule.+[1]")
        XCTAssertEqual(error.type, "NaN")
        // Messages name types, never values: the document may hold personal data.
        let named = failure(#"{"<": [{"var": "name"}, 1]}"#, #"{"name": "Jane Doe"}"#)
        XCTAssertEqual(named?.kind, .notANumber)
        XCTAssertEqual(named.map { $0.message.contains("Jane") }, false, named?.message ?? "")
        for rule in [#"{"%": [5, 0]}"#, #"{"%": [5, "0.0"]}"#, #"{"/": [1, -0.0]}"#, #"{"/": 0}"#, #"{"*": [2, "two"]}"#,
                     #"{"-": [{}]}"#, #"{"+": [[1]]}"#, #"{"==": [1, "one"]}"#, #"{">": [[], 0]}"#, #"{"<=": [{}, {}]}"#,
                     #"{"substr": ["abc", "one"]}"#, #"{"substr": ["abc", 0, [1]]}"#] {
            XCTAssertEqual(failure(rule)?.kind, .notANumber, rule)
        }
    }

    func testArithmeticPastTheFiniteNumbersIsOutOfRange() {
        for rule in [#"{"*": [1e308, 10]}"#, #"{"+": [1.7976931348623157e308, 1.7976931348623157e308]}"#,
                     #"{"+": "Infinity"}"#, #"{"-": "1e400"}"#, #"{"/": [1e308, 1e-308]}"#] {
            guard let error = failure(rule) else { XCTFail("\(rule) accepted"); continue }
            XCTAssertEqual(error.kind, .outOfRange, rule)
            XCTAssertEqual(error.type, "Out Of Range", rule)
        }
        // Infinity may still be compared with, as in JavaScript.
        assertResult(#"{"<": [1e308, "Infinity"]}"#, "null", "true")
        assertResult(#"{">": ["-Infinity", -1e308]}"#, "null", "false")
    }

    func testARuleCanThrowItsOwnErrorType() {
        assertFailure(#"{"if": [{"var": "blocked"}, {"throw": "Blocked Entity"}, 1]}"#, #"{"blocked": true}"#, .thrown("Blocked Entity"), at: "rule.if[1]")
        XCTAssertEqual(failure(#"{"throw": "Blocked Entity"}"#)?.type, "Blocked Entity")
        XCTAssertEqual(failure(#"{"throw": {"var": "error"}}"#, #"{"error": {"type": "Review"}}"#)?.type, "Review")
        XCTAssertEqual(failure(#"{"throw": 42}"#)?.type, "42")
        assertResult(#"{"if": [false, {"throw": "never"}, "lazy"]}"#, "null", #""lazy""#)
    }

    // MARK: - No trap on any input

    func testHugeOrOddIndicesNeverTrap() {
        assertResult(#"{"substr": ["abc", 1e300]}"#, "null", #""""#)
        assertResult(#"{"substr": ["abc", -1e300, 1e300]}"#, "null", #""abc""#)
        assertResult(#"{"substr": ["abc", 9223372036854775807, -9223372036854775808]}"#, "null", #""""#)
        assertResult(#"{"substr": ["abc", -9223372036854775808, 9223372036854775807]}"#, "null", #""abc""#)
        assertResult(#"{"substr": ["abc", 1, -1e300]}"#, "null", #""""#)
        assertResult(#"{"substr": ["abc", 1.9, 1.9]}"#, "null", #""b""#)
        assertResult(#"{"substr": ["abc", "Infinity"]}"#, "null", #""""#)
        assertResult(#"{"var": "99999999999999999999999999"}"#, "[1]", "null")
        assertResult(#"{"var": 1e300}"#, "[1]", "null")
        assertResult(#"{"missing_some": [1e300, ["a"]]}"#, #"{"a": 1}"#, "[]")
    }

    func testIntegerOverflowBecomesADoubleAsInJavaScript() {
        assertResult(#"{"+": [9223372036854775807, 1]}"#, "null", "9.223372036854776e18")
        assertResult(#"{"-": [-9223372036854775808]}"#, "null", "9.223372036854776e18")
        assertResult(#"{"*": [9223372036854775807, 9223372036854775807]}"#, "null", "8.507059173023462e37")
        assertResult(#"{"-": [-9223372036854775808, 1]}"#, "null", "-9.223372036854776e18")
        // Integral results within 2^53 are integers; beyond, doubles.
        guard case .int(2)? = try? evaluate(#"{"/": [4, 2]}"#) else { return XCTFail("4 / 2 is the integer 2") }
        guard case .int(9_007_199_254_740_992)? = try? evaluate(#"{"+": [9007199254740991, 1]}"#) else { return XCTFail("2^53 is an integer") }
        guard case .double? = try? evaluate(#"{"*": [9007199254740992, 2]}"#) else { return XCTFail("past 2^53 a double") }
        // Integers from the data compare exactly, past what a double tells apart.
        assertResult(#"{"==": [9223372036854775807, 9223372036854775806]}"#, "null", "false")
        assertResult(#"{"max": [9223372036854775806, 9223372036854775807]}"#, "null", "9223372036854775807")
    }

    // MARK: - Coercions

    func testStringsConvertToNumbersAsJavaScriptConvertsThem() {
        let numbers: [(String, String)] = [
            (#"" 12 ""#, "12"), (#""\n\t3\u00a0\ufeff""#, "3"), (#""""#, "0"), (#""   ""#, "0"), (#""+5""#, "5"),
            (#""-5""#, "-5"), (#""1e2""#, "100"), (#""1E-2""#, "0.01"), (#"".5""#, "0.5"), (#""5.""#, "5"),
            (#""0x1F""#, "31"), (#""0X1f""#, "31"), (#""0o17""#, "15"), (#""0b101""#, "5"), (#""007""#, "7"),
            ("null", "0"), ("true", "1"), ("false", "0"), ("2.5", "2.5"),
        ]
        for (value, number) in numbers { assertResult(#"{"+": [\#(value)]}"#, "null", number) }
        let notNumbers = [#""abc""#, #""1_000""#, #""-0x1""#, #""0x""#, #""0xG""#, #""0b2""#, #""1e""#, #""--5""#, #""nan""#,
                          #""inf""#, #""infinity""#, #""0x1p3""#, #""1,5""#, #"".""#, #""٣""#, #""1 2""#, "[]", "[1]", "{}"]
        for value in notNumbers { XCTAssertEqual(failure(#"{"+": [\#(value)]}"#)?.kind, .notANumber, value) }
    }

    func testLooseEqualityConvertsToNumbersUnlessBothAreStringsOrNull() {
        let table: [(String, String, Bool)] = [
            ("1", #""1""#, true), ("0", #""""#, true), ("null", "0", true), ("null", "false", true), ("null", "null", true),
            ("null", #""""#, false), (#""abc""#, "null", false), ("true", #""1""#, true), (#""1.0""#, "1", true),
            (#""1.0""#, #""1""#, false), ("1", "1.0", true), (#""a""#, #""a""#, true), ("false", "0", true), ("true", "2", false),
        ]
        for (a, b, equal) in table {
            assertResult(#"{"==": [\#(a), \#(b)]}"#, "null", equal ? "true" : "false")
            assertResult(#"{"!=": [\#(a), \#(b)]}"#, "null", equal ? "false" : "true")
        }
        XCTAssertEqual(failure(#"{"==": [[1], [1]]}"#)?.kind, .notANumber)
        XCTAssertEqual(failure(#"{"!=": [{}, 1]}"#)?.kind, .notANumber)
        XCTAssertEqual(failure(#"{"==": ["a", 1]}"#)?.kind, .notANumber)
    }

    func testAnIntegerAndADoubleCompareByTheirExactValues() {
        // 2^53 + 1 is no double: rounded to one first, it would equal 2^53.
        assertResult(#"{"==": [9007199254740993, 9007199254740992.0]}"#, "null", "false")
        assertResult(#"{"===": [{"var": "id"}, 9007199254740992.0]}"#, #"{"id": 9007199254740993}"#, "false")
        assertResult(#"{"<": [9007199254740992.0, 9007199254740993, 9007199254740994.0]}"#, "null", "true")
        // 9223372036854775807.0 is the double 2^63, above every integer.
        assertResult(#"{"<": [9223372036854775807, 9223372036854775807.0]}"#, "null", "true")
        assertResult(#"{"==": [-9223372036854775808, -9223372036854775808.0]}"#, "null", "true")
        assertResult(#"{"<=": [3, 3.0, 3.5]}"#, "null", "true")
        assertResult(#"{"<": [-3, -3.5]}"#, "null", "false")
        // A string still converts as JavaScript converts it.
        assertResult(#"{"==": [7, "7.0"]}"#, "null", "true")
    }

    func testStrictEqualityComparesTypeAndContent() {
        let table: [(String, String, Bool)] = [
            ("1", "1.0", true), ("1", #""1""#, false), ("null", "null", true), ("null", "0", false), ("true", "1", false),
            ("[1, [2]]", "[1, [2]]", true), ("[1, 2]", "[2, 1]", false), (#"{"a": 1, "b": 2}"#, #"{"b": 2, "a": 1}"#, true),
            (#"{"a": 1}"#, #"{"a": "1"}"#, false), (#"{"a": 1}"#, #"{"a": 1, "b": 2}"#, false), ("[]", "{}", false),
        ]
        for (a, b, equal) in table {
            assertResult(#"{"===": [{"var": "a"}, {"var": "b"}]}"#, #"{"a": \#(a), "b": \#(b)}"#, equal ? "true" : "false")
            assertResult(#"{"!==": [{"var": "a"}, {"var": "b"}]}"#, #"{"a": \#(a), "b": \#(b)}"#, equal ? "false" : "true")
        }
        assertResult(#"{"in": [[1], [[1], [2]]]}"#, "null", "true")
    }

    func testStringsCompareByUTF16CodeUnitsAsInJavaScript() {
        assertResult(#"{"<": ["Z", "a"]}"#, "null", "true")
        assertResult(#"{"<": ["abc", "abd", "b"]}"#, "null", "true")
        assertResult(#"{"<=": ["10", "9"]}"#, "null", "true")
        // U+10000 is a surrogate pair starting with 0xD800, which sorts before U+FFFF (Swift's order says otherwise).
        assertResult(#"{"<": ["\ud800\udc00", "\uffff"]}"#, "null", "true")
        // No Unicode normalisation: é precomposed is not e with a combining accent.
        assertResult(#"{"==": ["\u00e9", "e\u0301"]}"#, "null", "false")
        assertResult(#"{"===": ["\u00e9", "e\u0301"]}"#, "null", "false")
        // null against a string orders as 0 against the string's number, and equals no string.
        assertResult(#"{"<": [null, "5"]}"#, "null", "true")
        assertResult(#"{"<": [null, "a"]}"#, "null", "false")
        assertResult(#"{">=": [null, "a"]}"#, "null", "false")
        assertResult(#"{"<=": [null, null]}"#, "null", "true")
        assertResult(#"{"<": [false, true]}"#, "null", "true")
        assertResult(#"{"<": ["2", 10]}"#, "null", "true")
    }

    func testTruthiness() {
        let table: [(String, Bool)] = [
            ("0", false), ("0.0", false), ("-0.0", false), ("1", true), ("-1", true), ("0.1", true), (#""""#, false),
            (#""0""#, true), (#""false""#, true), ("[]", false), ("[0]", true), ("{}", true), (#"{"a": 0}"#, true),
            ("null", false), ("true", true), ("false", false),
        ]
        for (value, truthy) in table {
            assertResult(#"{"!!": {"var": "v"}}"#, #"{"v": \#(value)}"#, truthy ? "true" : "false")
            assertResult(#"{"!": {"var": "v"}}"#, #"{"v": \#(value)}"#, truthy ? "false" : "true")
        }
    }

    func testNumbersPrintAsJavaScriptPrintsThem() {
        let table: [(String, String)] = [
            ("100", "100"), ("1.0", "1"), ("-1.5", "-1.5"), ("0.000001", "0.000001"), ("1e-7", "1e-7"), ("1.5e-7", "1.5e-7"),
            ("1e21", "1e+21"), ("1.5e300", "1.5e+300"), ("123456789012345680000", "123456789012345680000"),
            ("1e16", "10000000000000000"), ("5e-324", "5e-324"), ("1.7976931348623157e308", "1.7976931348623157e+308"),
            ("-0.0", "0"), ("0.1", "0.1"), ("9223372036854775807", "9223372036854775807"),
        ]
        for (number, text) in table { assertResult(#"{"cat": [\#(number)]}"#, "null", #""\#(text)""#) }
        assertResult(#"{"cat": [{"+": [0.1, 0.2]}]}"#, "null", #""0.30000000000000004""#)
        assertResult(#"{"cat": [{"var": "x"}, true, null, false]}"#, #"{"x": [1, [2, null], {"a": 1}]}"#, #""1,2,,[object Object]truefalse""#)
        assertResult(#"{"substr": [null, 0]}"#, "null", #""null""#)
        assertResult(#"{"substr": [[1, 2], 1]}"#, "null", #"",2""#)
    }

    // MARK: - Operators beyond the suites

    func testVarReadsDottedPathsIndicesAndLengths() {
        assertResult(#"{"var": "a.0.b"}"#, #"{"a": [{"b": "x"}]}"#, #""x""#)
        assertResult(#"{"var": "a.01"}"#, #"{"a": ["x", "y"]}"#, "null")
        assertResult(#"{"var": "a.-1"}"#, #"{"a": ["x"]}"#, "null")
        assertResult(#"{"var": 1.5}"#, #"{"1": {"5": "deep"}}"#, #""deep""#)
        assertResult(#"{"var": true}"#, #"{"true": 1}"#, "1")
        assertResult(#"{"var": "checks.length"}"#, #"{"checks": [1, 2, 3]}"#, "3")
        assertResult(#"{"var": "name.length"}"#, #"{"name": "h\u00e9\ud83d\ude00"}"#, "4")
        assertResult(#"{"var": "a.length"}"#, #"{"a": {"length": "own"}}"#, #""own""#)
        // The default replaces a missing value, not a present null.
        assertResult(#"{"var": ["n", 5]}"#, #"{"n": null}"#, "null")
        assertResult(#"{"var": ["n", 5]}"#, #"{}"#, "5")
        assertResult(#"{"var": ["n.m", 5]}"#, #"{"n": 1}"#, "5")
        // A duplicated key reads as JavaScript's JSON.parse keeps it: the last one.
        assertResult(#"{"var": "k"}"#, #"{"k": 1, "k": 2}"#, "2")
        assertResult(#"{"val": ["a.b"]}"#, #"{"a.b": 1, "a": {"b": 2}}"#, "1")
        assertResult(#"{"val": ["a", "b"]}"#, #"{"a": {"b": 2}}"#, "2")
        assertResult(#"{"val": ["a", 0]}"#, #"{"a": ["first"]}"#, #""first""#)
        assertResult(#"{"val": "missing"}"#, #"{}"#, "null")
    }

    func testMissingCountsNullAndEmptyStringsAsMissing() {
        assertResult(#"{"missing": ["a", "b", "c", "d"]}"#, #"{"a": null, "b": "", "c": 0, "d": false}"#, #"["a", "b"]"#)
        assertResult(#"{"missing": [["x.y", "z"]]}"#, #"{"x": {"y": 1}}"#, #"["z"]"#)
        assertResult(#"{"missing_some": [2, ["a", "b", "c"]]}"#, #"{"a": 1, "b": ""}"#, #"["b", "c"]"#)
        assertResult(#"{"missing_some": ["1", ["a", "b"]]}"#, #"{"b": 1}"#, "[]")
    }

    func testInSearchesArraysStrictlyAndStringsAsText() {
        assertResult(#"{"in": [1, "a1b"]}"#, "null", "true")
        assertResult(#"{"in": [1, ["1"]]}"#, "null", "false")
        assertResult(#"{"in": ["x", null]}"#, "null", "false")
        assertResult(#"{"in": ["x", 5]}"#, "null", "false")
        assertResult(#"{"in": ["aab", "aaab"]}"#, "null", "true")
        assertResult(#"{"in": ["abab", "abaabab"]}"#, "null", "true")
        assertResult(#"{"in": ["abac", "abaabab"]}"#, "null", "false")
        assertResult(#"{"in": ["\ud83d\ude00", "a\ud83d\ude00b"]}"#, "null", "true")
    }

    func testSubstrCutsUTF16CodeUnits() {
        assertResult(#"{"substr": ["a\ud83d\ude00b", 1, 2]}"#, "null", #""\ud83d\ude00""#)
        // Half a surrogate pair is no character: it becomes U+FFFD.
        assertResult(#"{"substr": ["a\ud83d\ude00b", 1, 1]}"#, "null", #""\ufffd""#)
        assertResult(#"{"substr": [12345, -2]}"#, "null", #""45""#)
    }

    func testMinMaxReduceAndLog() {
        assertResult(#"{"min": [1.5, -2, 3]}"#, "null", "-2")
        assertResult(#"{"max": [2, 2.5, 1]}"#, "null", "2.5")
        // Without an initial value the accumulator starts as null, as jsonlogic.com's implementation has it.
        assertResult(#"{"reduce": [[1, 2, 3], {"+": [{"var": "current"}, {"var": "accumulator"}]}]}"#, "null", "6")
        assertResult(#"{"reduce": [[2, 3], {"*": [{"var": "current"}, {"var": "accumulator"}]}]}"#, "null", "0")
        assertResult(#"{"log": [{"var": "a"}, "ignored"]}"#, #"{"a": [1]}"#, "[1]")
        assertResult(#"{"log": []}"#, "null", "null")
        assertResult(#"{"?:": [{"<": [1, 2, 3]}, "between", "outside"]}"#, "null", #""between""#)
        assertResult(#"{"<=": [1, 1, 0]}"#, "null", "false")
    }

    func testACompiledRuleEvaluatesManyDocuments() throws {
        let rule = try JsonLogicRule(json(#"{"if": [{">=": [{"var": "score"}, 50]}, "high", "low"]}"#), path: "rules.band")
        XCTAssertEqual(try rule.evaluate(json(#"{"score": 72}"#)), "high")
        XCTAssertEqual(try rule.evaluate(json(#"{"score": "12"}"#)), "low")
        XCTAssertThrowsError(try rule.evaluate(json(#"{"score": "n/a"}"#))) { error in
            XCTAssertEqual((error as? JsonLogicError)?.path, "rules.band.if[0]")
        }
    }
}
