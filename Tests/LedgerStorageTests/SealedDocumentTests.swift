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

    func testTheStoredFormIsThePlainDocumentWithTheEnvelopeAsItsLastMember() throws {
        let (vault, key) = try makeVault()
        let full = #"{"id":"ver_1","applicant":{"first_name":"Zoë","last_name":"Nguyễn"},"metadata":{"note":"café ☕︎"}}"#
        let plain = #"{"id":"ver_1","applicant":{"first_name":null,"last_name":null},"metadata":{"note":"café ☕︎"}}"#
        let stored = try vault.sealDocument(full: full, plain: plain, documentID: "verification/ver_1", owner: owner, key: key)
        let sealed = try XCTUnwrap(PersonalDataVault.appendedSealedBox(stored))
        XCTAssertEqual(stored, String(plain.dropLast()) + #","encrypted_personal_data":{"version":1,"ciphertext":""#
                       + Data(sealed).base64EncodedString() + #""}}"#)
        XCTAssertEqual(try vault.openDocument(stored, documentID: "verification/ver_1", owner: owner, key: key), full)
        XCTAssertThrowsError(try vault.sealDocument(full: full, plain: "[1]", documentID: "verification/ver_1", owner: owner, key: key)) { error in
            XCTAssertEqual(error as? PersonalDataError, .malformed("a document is a JSON object"), "\(error)")
        }
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
}
