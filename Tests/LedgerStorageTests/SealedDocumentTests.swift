import Foundation
import LedgerCrypto
import LedgerDomain
@testable import LedgerStorage
import XCTest

/// A read row's document as the vault seals it and its readers open it: the appended envelope is found without
/// parsing the document, and any other shape of it (a `jsonb` column's text, a string that quotes an envelope) is
/// opened by parsing, to the same document.
final class SealedDocumentTests: XCTestCase {
    let owner = DataKeyOwner(organizationID: UUID(), entityID: "cus_4410")
    let full = #"{"id":"ver_1","object":"verification","applicant":{"first_name":"Jolanda","email":"jolanda.q@example.org"}}"#
    let plain = #"{"id":"ver_1","object":"verification","applicant":{"first_name":null,"email":null}}"#

    func makeVault() throws -> (PersonalDataVault, PersonalDataKey) {
        let vault = PersonalDataVault(keyEncryptionKey: try KeyEncryptionKey.generate())
        let wrapped = try vault.keyEncryptionKey.wrap(try XCTUnwrap(DataKey.generate()), for: owner)
        return (vault, try vault.key(owner, wrapped: wrapped.bytes, erased: false))
    }

    func testASealedDocumentOpensToWhatWasWrittenAsStoredAndReorderedAndReadsErasedWithoutItsKey() throws {
        let (vault, key) = try makeVault()
        let stored = try vault.sealDocument(full: full, plain: plain, documentID: "verification/ver_1", owner: owner, key: key)
        XCTAssertFalse(stored.contains("Jolanda"))
        XCTAssertNotNil(PersonalDataVault.appendedSealedBox(stored), "the envelope as sealDocument appends it is found without parsing")
        XCTAssertEqual(try vault.openDocument(stored, documentID: "verification/ver_1", owner: owner, key: key), full)
        let ciphertext = try XCTUnwrap(PersonalDataVault.appendedSealedBox(stored).map { Data($0).base64EncodedString() })
        XCTAssertEqual(stored, String(plain.dropLast()) + #","encrypted_personal_data":{"version":1,"ciphertext":""# + ciphertext + #""}}"#,
                       "the plain document with the envelope as its last member")
        XCTAssertThrowsError(try vault.sealDocument(full: "[1,\"Jolanda\"]", plain: "[1,null]", documentID: "verification/ver_1", owner: owner, key: key),
                             "a document that is no object")

        // The same document with the envelope first and spaces after colons, as a jsonb column could print it.
        guard case let .object(members)? = try? JSONValue.parse(Array(stored.utf8), maxDepth: 64) else { return XCTFail(stored) }
        let reordered = JSONValue.object(members.filter { $0.0 == PersonalDataEnvelope.member } + members.filter { $0.0 != PersonalDataEnvelope.member })
            .jsonString.replacingOccurrences(of: "\":", with: "\": ")
        XCTAssertNil(PersonalDataVault.appendedSealedBox(reordered))
        XCTAssertEqual(try vault.openDocument(reordered, documentID: "verification/ver_1", owner: owner, key: key), full)

        XCTAssertThrowsError(try vault.openDocument(stored, documentID: "verification/ver_2", owner: owner, key: key),
                             "a ciphertext opens only for the document it was sealed for")
        let erased = try vault.openDocument(stored, documentID: "verification/ver_1", owner: owner, key: .erased)
        XCTAssertEqual(try JSONValue.parse(Array(erased.utf8), maxDepth: 64)["personal_data"], "erased")
        XCTAssertFalse(erased.contains(PersonalDataEnvelope.member))
    }

    func testAnAppendedCiphertextThatIsNotBase64IsRefusedAsMalformed() throws {
        let (vault, key) = try makeVault()
        let stored = try vault.sealDocument(full: full, plain: plain, documentID: "verification/ver_1", owner: owner, key: key)
        let opening = "\"ciphertext\":\""
        guard let range = stored.range(of: opening) else { return XCTFail(stored) }
        // `=` inside the text (libcrypto would read it as zero bits) and a length that is not a multiple of 4.
        for garbled in [stored.replacingCharacters(in: range.upperBound..<stored.index(range.upperBound, offsetBy: 4), with: "AA=="),
                        stored.replacingCharacters(in: range.upperBound..<stored.index(after: range.upperBound), with: "")] {
            XCTAssertThrowsError(try vault.openDocument(garbled, documentID: "verification/ver_1", owner: owner, key: key)) { error in
                XCTAssertEqual(error as? PersonalDataError, .malformed("ciphertext is not base64"), "\(error)")
            }
        }
    }

    func testAStringQuotingAnEnvelopeIsNotTakenForOne() throws {
        let (vault, key) = try makeVault()
        let quoting = #"{"id":"ver_1","note":{"text":"a,\"encrypted_personal_data\":{\"version\":1,\"ciphertext\":\"QUJD"}}"#
        XCTAssertNil(PersonalDataVault.appendedSealedBox(quoting))
        XCTAssertEqual(try vault.openDocument(quoting, documentID: "verification/ver_1", owner: owner, key: key), quoting,
                       "a document without an envelope of its own is read as it is")
        let nested = #"{"id":"ver_1","note":{"x":1,"encrypted_personal_data":{"version":1,"ciphertext":"QUJD"}}}"#
        XCTAssertNil(PersonalDataVault.appendedSealedBox(nested), "an envelope inside a member is not the document's")
    }

    func testTheLastQuoteIsFoundAtEveryPositionAndAlignmentAsAByteByByteSearchFindsIt() {
        // Lengths around the eight-byte steps, a quote (or none) at each position, and a second one before it.
        for length in 0...40 {
            for quoteAt in [-1] + Array(0..<length) {
                for earlier in [-1, quoteAt - 1, quoteAt - 9] {
                    var bytes = [UInt8](repeating: UInt8(ascii: "Q"), count: length)
                    if quoteAt >= 0 { bytes[quoteAt] = UInt8(ascii: "\"") }
                    if earlier >= 0 { bytes[earlier] = UInt8(ascii: "\"") }
                    let expected = (bytes.lastIndex(of: UInt8(ascii: "\"")) ?? -1) + 1
                    let found = bytes.withUnsafeBufferPointer { buffer in
                        buffer.baseAddress.map { PersonalDataVault.afterLastQuote($0, before: length) } ?? 0
                    }
                    XCTAssertEqual(found, expected, "length \(length), quotes at \(earlier) and \(quoteAt)")
                }
            }
        }
    }
}
