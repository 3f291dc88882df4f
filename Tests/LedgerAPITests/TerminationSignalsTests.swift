import Dispatch
import Foundation
import LedgerCLI
import XCTest

/// A long-running command's stop signal is caught from its first step, so one that arrives while it starts is kept.
final class TerminationSignalsTests: XCTestCase {
    func testASignalThatArrivesBeforeTheWaitIsKept() throws {
        let signals = TerminationSignals()
        kill(getpid(), SIGTERM)
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var name = ""
        DispatchQueue.global().async {
            name = signals.wait()
            done.signal()
        }
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success, "a signal sent before the wait was lost")
        XCTAssertEqual(name, "SIGTERM")
    }
}
