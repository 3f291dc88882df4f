import Foundation

/// Delays before each delivery attempt: the first is usually immediate; after the last, the message is
/// dead-lettered. Written like `0s,5s,5m,30m,2h,5h,10h,10h` (`LEDGER_WEBHOOK_RETRY_SCHEDULE`).
public struct RetrySchedule: Sendable, Equatable {
    public let delays: [TimeInterval]

    public static let standard = RetrySchedule(delays: [0, 5, 300, 1800, 7200, 18_000, 36_000, 36_000])

    public init(delays: [TimeInterval]) { self.delays = delays }

    public struct Invalid: Error, CustomStringConvertible {
        public let text: String
        public var description: String { "retry schedule '\(text)' is not a comma-separated list of durations like 0s,5s,5m,2h" }
    }

    public init(parsing text: String) throws {
        var delays: [TimeInterval] = []
        for part in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            guard let unit = part.last, let value = Double(part.dropLast()), value >= 0 else { throw Invalid(text: text) }
            switch unit {
            case "s": delays.append(value)
            case "m": delays.append(value * 60)
            case "h": delays.append(value * 3600)
            case "d": delays.append(value * 86_400)
            default: throw Invalid(text: text)
            }
        }
        guard !delays.isEmpty else { throw Invalid(text: text) }
        self.delays = delays
    }

    /// The wait before attempt number `attempt` (0-based), with ±10 % jitter so retries of many messages
    /// spread out; nil when there is no such attempt and the message is dead.
    public func delay(beforeAttempt attempt: Int) -> TimeInterval? {
        guard attempt < delays.count else { return nil }
        let base = delays[attempt]
        return base == 0 ? 0 : base * Double.random(in: 0.9...1.1)
    }
}
