import Foundation
import Synchronization

/// Collects what concurrent threads produce: each append is one atomic step, so none is lost (a read, then
/// a write of the array plus one, loses entries when two threads interleave).
public final class Collector<Element: Sendable>: Sendable {
    private let elements = Mutex<[Element]>([])

    public init() {}

    public func append(_ element: Element) { elements.withLock { $0.append(element) } }

    /// What was appended so far, in the order the appends happened.
    public var values: [Element] { elements.withLock { $0 } }
}

/// A monotonic clock in nanoseconds that a test moves by hand (for the rate limiter).
public final class ManualNanosecondClock: Sendable {
    private let nanoseconds = Mutex<UInt64>(1_000_000_000)

    public init() {}

    public var now: UInt64 { nanoseconds.withLock { $0 } }

    public func advance(seconds: Double) { nanoseconds.withLock { $0 += UInt64(seconds * 1_000_000_000) } }
}
