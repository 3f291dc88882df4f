import Foundation
import LedgerDomain
import XCTest

/// Events written in an older shape are read in the current one: the log is never rewritten.
final class UpcasterTests: XCTestCase {
    let start = Date(timeIntervalSince1970: 1_790_000_000)

    func testMetadataChangesWrittenInVersion1FoldToTheStateOfTheCurrentShape() throws {
        let current: [VerificationEvent] = [
            .invited(Scenario.invitation()),
            .metadataUpdated(changes: ["campaign": "winter", "order_ref": nil]),
            .metadataUpdated(changes: ["campaign": "spring"]),
        ]
        XCTAssertEqual(current[1].schemaVersion, 2)
        XCTAssertEqual(current[0].schemaVersion, 1)
        // As the version 1 code wrote them: the changes were the data object itself.
        let stored: [(type: String, version: Int, data: JSONValue)] = [
            (current[0].type, 1, current[0].data),
            ("MetadataUpdated", 1, ["campaign": "winter", "order_ref": .null]),
            ("MetadataUpdated", 1, ["campaign": "spring"]),
        ]
        let read = try stored.map { try VerificationEvent(type: $0.type, schemaVersion: $0.version, data: $0.data) }
        XCTAssertEqual(read, current)
        let times = current.indices.map { start.addingTimeInterval(Double($0)) }
        let fromOld = VerificationDecider.fold(zip(read, times).map { ($0, $1) })
        XCTAssertEqual(fromOld, VerificationDecider.fold(zip(current, times).map { ($0, $1) }))
        XCTAssertEqual(fromOld.metadata, ["campaign": "spring"])
    }

    func testEveryEventReadsBackInTheVersionItIsWrittenIn() throws {
        let scenario = Scenario.make(checks: [.identityVerification], [startAttempt, progress(.captureInProgress),
                                                                       .updateMetadata(["k": "v"]), .withdraw(reason: "r")])
        for event in scenario.events {
            XCTAssertEqual(try VerificationEvent(type: event.type, schemaVersion: event.schemaVersion, data: event.data), event)
        }
    }

    func testAVersionThisBuildDoesNotKnowIsUnreadableAndSaysSo() {
        for version in [0, 3] {
            XCTAssertThrowsError(try VerificationEvent(type: "MetadataUpdated", schemaVersion: version, data: ["changes": [:]])) { error in
                XCTAssertEqual((error as? VerificationEvent.UnreadableEvent)?.reason,
                               "schema version \(version) is not one this build knows (1 to 2)")
            }
        }
        XCTAssertThrowsError(try VerificationEvent(type: "VerificationExpired", schemaVersion: 2, data: [:]))
    }
}
