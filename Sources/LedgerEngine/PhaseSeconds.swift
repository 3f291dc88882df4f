import Foundation
import Synchronization

/// Seconds a long piece of work (a replay, a re-scoring run) spent in each of its phases, for the benchmark that
/// prints where its time went. The phases are an enum whose raw values are the names printed, in its order.
public struct PhaseSeconds<Phase: CaseIterable & Hashable & Sendable & RawRepresentable>: Sendable where Phase.RawValue == String {
    private var seconds: [Phase: Double] = [:]

    public init() {}

    public subscript(phase: Phase) -> Double { seconds[phase] ?? 0 }

    mutating func add(_ phase: Phase, _ spent: Double) { seconds[phase, default: 0] += spent }

    mutating func add(_ other: PhaseSeconds) {
        for (phase, spent) in other.seconds { add(phase, spent) }
    }

    /// Every phase's name and seconds, in the phases' order.
    public var named: [(String, Double)] { Phase.allCases.map { ($0.rawValue, self[$0]) } }
}

/// Phase seconds summed from the threads that do the work.
final class PhaseTally<Phase: CaseIterable & Hashable & Sendable & RawRepresentable>: Sendable where Phase.RawValue == String {
    private let seconds = Mutex(PhaseSeconds<Phase>())

    var current: PhaseSeconds<Phase> { seconds.withLock { $0 } }

    func time<T>(_ phase: Phase, _ body: () throws -> T) rethrows -> T {
        var lap = Lap()
        defer { add(phase, lap.next()) }
        return try body()
    }

    func add(_ phase: Phase, _ spent: Double) { seconds.withLock { $0.add(phase, spent) } }

    func add(_ other: PhaseSeconds<Phase>) { seconds.withLock { $0.add(other) } }
}

/// The seconds since the last lap (or since it was made).
struct Lap {
    private var last = DispatchTime.now().uptimeNanoseconds

    mutating func next() -> Double {
        let now = DispatchTime.now().uptimeNanoseconds
        defer { last = now }
        return Double(now &- last) / 1e9
    }
}
