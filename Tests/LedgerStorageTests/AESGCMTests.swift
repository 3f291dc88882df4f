import Foundation
import LedgerCrypto
import LedgerDomain
import LedgerStorage
import XCTest

/// AES-256-GCM checked against the `cryptography` package from PyPI (OpenSSL underneath, but driven through its own
/// API and box layout), and refused for every altered, short or mis-keyed input without trapping.
final class AESGCMTests: XCTestCase {
    /// Takes a JSON list of cases, `["open", key, aad, box]` or `["seal", key, aad, nonce, plaintext]` (hex), and
    /// prints a JSON list of answers: the plaintext or box in hex, or "invalid tag". One process for them all.
    static let python = """
        import json, sys
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        from cryptography.exceptions import InvalidTag
        def answer(case):
            mode, key, aad = case[0], bytes.fromhex(case[1]), bytes.fromhex(case[2])
            if mode == "open":
                box = bytes.fromhex(case[3])
                try:
                    return AESGCM(key).decrypt(box[:12], box[12:], aad or None).hex()
                except InvalidTag:
                    return "invalid tag"
            nonce, plaintext = bytes.fromhex(case[3]), bytes.fromhex(case[4])
            return (nonce + AESGCM(key).encrypt(nonce, plaintext, aad or None)).hex()
        print(json.dumps([answer(case) for case in json.loads(sys.argv[1])]))
        """

    func python(_ cases: [[String]]) throws -> [String] {
        let input = JSONValue.array(cases.map { .array($0.map(JSONValue.string)) }).jsonString
        let outcome = try ChildProcess.run("python3", ["-c", Self.python, input])
        let answers = try? JSONValue.parse(outcome.output).arrayValue?.compactMap(\.stringValue)
        guard let answers, answers.count == cases.count else { throw Unexpected(output: outcome.output) }
        return answers
    }

    struct Unexpected: Error { let output: String }

    func random(_ count: Int) throws -> [UInt8] { try XCTUnwrap(Digest.randomBytes(count)) }

    static let plaintexts: [[UInt8]] = [
        [], [0x41], Array("Jolanda Quackenbush-Øre, born 1984-02-29 ✓".utf8), (0..<1000).map { UInt8($0 % 251) },
    ]

    func testPythonOpensWhatWeSeal() throws {
        let key = try random(32)
        var cases = [[String]](), expected = [String]()
        for plaintext in Self.plaintexts {
            for aad in [[], Array("org|entity|event".utf8)] as [[UInt8]] {
                let sealed = try AESGCM.seal(plaintext, key: key, associatedData: aad)
                XCTAssertEqual(sealed.count, plaintext.count + 28)
                cases.append(["open", key.hexString, aad.hexString, sealed.hexString])
                expected.append(plaintext.hexString)
                cases.append(["open", key.hexString, "00", sealed.hexString])
                expected.append("invalid tag")
            }
        }
        XCTAssertEqual(try python(cases), expected)
    }

    func testWeOpenWhatPythonSeals() throws {
        let key = try random(32), aad = Array("bound".utf8)
        let nonces = try Self.plaintexts.map { _ in try random(12) }
        let boxes = try python(zip(Self.plaintexts, nonces).map { ["seal", key.hexString, aad.hexString, $1.hexString, $0.hexString] })
        for ((plaintext, nonce), box) in zip(zip(Self.plaintexts, nonces), boxes) {
            let sealed = try XCTUnwrap([UInt8](hexString: box))
            XCTAssertEqual(try AESGCM.open(sealed, key: key, associatedData: aad), plaintext)
            XCTAssertEqual(try AESGCM.seal(plaintext, key: key, nonce: nonce, associatedData: aad), sealed, "same nonce, same box")
        }
    }

    func testEveryAlteredByteAndEveryShortenedBoxIsRefused() throws {
        let key = try random(32), aad = Array("ctx".utf8)
        let sealed = try AESGCM.seal(Array("personal".utf8), key: key, associatedData: aad)
        for index in sealed.indices {
            for flip: UInt8 in [0x01, 0x80] {
                var altered = sealed
                altered[index] ^= flip
                XCTAssertThrowsError(try AESGCM.open(altered, key: key, associatedData: aad)) { error in
                    XCTAssertEqual(error as? AESGCM.Failure, .authenticationFailed, "byte \(index)")
                }
            }
        }
        for length in 0..<sealed.count {
            XCTAssertThrowsError(try AESGCM.open(Array(sealed.prefix(length)), key: key, associatedData: aad)) { error in
                XCTAssertEqual(error as? AESGCM.Failure, length < 28 ? .sealedBoxTooShort(length) : .authenticationFailed)
            }
        }
        XCTAssertThrowsError(try AESGCM.open(sealed + [0], key: key, associatedData: aad))
        XCTAssertThrowsError(try AESGCM.open(sealed, key: try random(32), associatedData: aad)) { error in
            XCTAssertEqual(error as? AESGCM.Failure, .authenticationFailed)
        }
        XCTAssertThrowsError(try AESGCM.open(sealed, key: key, associatedData: [])) { error in
            XCTAssertEqual(error as? AESGCM.Failure, .authenticationFailed)
        }
        XCTAssertEqual(try AESGCM.open(sealed, key: key, associatedData: aad), Array("personal".utf8))
    }

    func testKeysAndNoncesOfTheWrongLengthAreErrorsNotTraps() throws {
        for count in [0, 16, 31, 33] {
            let key = try random(max(count, 1)).prefix(count).map { $0 }
            XCTAssertThrowsError(try AESGCM.seal([1], key: key)) { XCTAssertEqual($0 as? AESGCM.Failure, .wrongKeyLength(count)) }
            XCTAssertThrowsError(try AESGCM.open([UInt8](repeating: 0, count: 40), key: key)) {
                XCTAssertEqual($0 as? AESGCM.Failure, .wrongKeyLength(count))
            }
        }
        XCTAssertThrowsError(try AESGCM.seal([1], key: try random(32), nonce: try random(16))) {
            XCTAssertEqual($0 as? AESGCM.Failure, .wrongNonceLength(16))
        }
        XCTAssertTrue(AESGCM.Failure.authenticationFailed.description.contains("wrong key"))
    }

    func testEverySealUsesAFreshNonce() throws {
        let key = try random(32)
        let boxes = try (0..<50).map { _ in try AESGCM.seal(Array("same".utf8), key: key) }
        XCTAssertEqual(Set(boxes.map { Array($0.prefix(12)).hexString }).count, 50)
    }
}
