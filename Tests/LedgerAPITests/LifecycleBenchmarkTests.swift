@testable import LedgerCLI
import XCTest

/// The lifecycle benchmark tells each phase from its slices: the counts add up, and the percentiles are those of every
/// command of the phase, not an average of the slices' own.
final class LifecycleBenchmarkTests: XCTestCase {
    func slice(seconds: Double, commands: Int, latencies: [Double], cores: Double) -> LifecycleBenchmark.Load {
        LifecycleBenchmark.Load(seconds: seconds, commands: commands, reads: commands / 5, lifecycles: commands / 5, failures: 1,
                                socketErrors: 0, latencies: latencies.sorted(), cores: cores)
    }

    func testAPhaseOfSlicesAddsTheirCountsAndTakesItsPercentilesOverEveryCommand() {
        let quick = slice(seconds: 5, commands: 100, latencies: Array(repeating: 1, count: 100), cores: 0.1)
        let slow = slice(seconds: 5, commands: 100, latencies: (1...100).map { Double($0) * 10 }, cores: 0.3)
        let phase = LifecycleBenchmark.Load(slices: [quick, slow])
        XCTAssertEqual(phase.seconds, 10)
        XCTAssertEqual(phase.commands, 200)
        XCTAssertEqual(phase.reads, 40)
        XCTAssertEqual(phase.lifecycles, 40)
        XCTAssertEqual(phase.failures, 2)
        XCTAssertEqual(phase.cores, 0.2, accuracy: 1e-9)
        // The merged 200 latencies: 100 at 1 ms, then 10, 20, … 1,000 ms. Rank ⌊200 · 0.5⌋ + 1 = 101 is 10 ms (the mean
        // of the slices' medians would be 255.5 ms); rank ⌊200 · 0.99⌋ + 1 = 199 is 990 ms.
        XCTAssertEqual(phase.p50, 10)
        XCTAssertEqual(phase.p99, 990)
        XCTAssertEqual(slow.p50, 510)
        XCTAssertTrue(LifecycleBenchmark.Load(slices: []).p99.isNaN, "no command, no percentile")
    }
}
