import Foundation
import LedgerCrypto
import XCTest

/// libcrypto's base64 decoding: what Foundation encodes decodes to the same bytes at every length (each padding),
/// and anything that is not padded standard base64 is nil (libcrypto alone would take `=` anywhere and blanks at the ends).
final class Base64Tests: XCTestCase {
    func testDecodesWhatFoundationEncodesAtEveryPadding() {
        for count in 0..<70 {
            let bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            let text = Data(bytes).base64EncodedString()
            XCTAssertEqual(Base64.decode(Array(text.utf8)), bytes, "\(count) bytes as \(text)")
        }
    }

    func testRefusesWhatIsNotPaddedStandardBase64() {
        for text in ["QUJD=", "QUJ", "QU=D", "Q===", "=QUJ", " QUJD", "QUJD ", "QU JD", "QUJD\n", "QU-D", "QU_D", "QUJ\u{e9}"] {
            XCTAssertNil(Base64.decode(Array(text.utf8)), text)
        }
    }
}
