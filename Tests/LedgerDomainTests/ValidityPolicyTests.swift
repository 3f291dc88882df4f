import Foundation
import LedgerDomain
import XCTest

final class ValidityPolicyTests: XCTestCase {
    func testTheRecordedSecondsNeverTrap() {
        func seconds(_ validity: Double) -> Int64 { ValidityPolicy(validity: validity, reverificationWindow: 0).validitySeconds }
        XCTAssertEqual(seconds(365 * 86_400), 31_536_000)
        XCTAssertEqual(seconds(0.4), 1)
        XCTAssertEqual(seconds(-5), 1)
        XCTAssertEqual(seconds(.infinity), 31_536_000_000)
        XCTAssertEqual(seconds(.nan), 31_536_000_000)
        XCTAssertEqual(seconds(1e300), 31_536_000_000)
    }

    func testTheInvitesValidityWinsOverThePolicys() {
        var scenario = Scenario.make([startAttempt, progress(.captureInProgress), progress(.completed), result(.approved)])
        let approvedAt = scenario.state.approvedAt ?? .distantPast
        XCTAssertEqual(ValidityPolicy.standard.validUntil(scenario.state), approvedAt.addingTimeInterval(365 * 86_400))
        scenario.state.invitation?.validFor = 3600
        XCTAssertEqual(ValidityPolicy.standard.validUntil(scenario.state), approvedAt.addingTimeInterval(3600))
    }
}
