import Foundation

/// How long an approval counts, and how early before its end the entity is asked to verify again (SPEC §4,
/// seed 004: one year and thirty days unless configured). The validity an invite recorded (`valid_for`) wins
/// over `validity`, which holds for invites that recorded none.
public struct ValidityPolicy: Sendable, Equatable {
    public var validity: TimeInterval
    public var reverificationWindow: TimeInterval

    public static let standard = ValidityPolicy(validity: 365 * 86_400, reverificationWindow: 30 * 86_400)

    public init(validity: TimeInterval, reverificationWindow: TimeInterval) {
        self.validity = validity
        self.reverificationWindow = reverificationWindow
    }

    /// `validity` in whole seconds, as an invite records it: at least one, at most a thousand years, so that
    /// no configured value traps the conversion.
    public var validitySeconds: Int64 {
        guard validity.isFinite else { return 1000 * 365 * 86_400 }
        return Int64(min(max(validity, 1), 1000 * 365 * 86_400).rounded())
    }

    /// When the approval of a verification stops counting: its validity after it was approved, or earlier when
    /// it was expired since (an admin's override) or its validity was ended. Nil if it was never approved.
    public func validUntil(_ state: VerificationState) -> Date? {
        validUntil(approvedAt: state.approvedAt, validFor: state.invitation?.validFor, cutShortAt: Self.approvalCutShort(state))
    }

    /// The same from what a projection row keeps of the state: the approval, the invite's own validity (nil for
    /// the policy's) and `approvalCutShort`.
    public func validUntil(approvedAt: Date?, validFor: Int64?, cutShortAt: Date?) -> Date? {
        guard let approvedAt else { return nil }
        let end = approvedAt.addingTimeInterval(validFor.map(Double.init) ?? validity)
        return [end, cutShortAt].compactMap { $0 }.min()
    }

    /// When the approval stopped counting whatever the policy: expired since (an admin's override) or its
    /// validity ended, whichever came first. Nil if neither happened or it was never approved.
    public static func approvalCutShort(_ state: VerificationState) -> Date? {
        guard let approvedAt = state.approvedAt else { return nil }
        let expiredAt = state.statusChanges.last { $0.status == .expired && $0.at >= approvedAt }?.at
        return [expiredAt, state.validityEndedAt].compactMap { $0 }.min()
    }
}

/// The small conversions every view shares.
public enum ViewJSON {
    public static func time(_ date: Date?) -> JSONValue { date.map { .string(Timestamp.rfc3339($0)) } ?? .null }

    public static func text(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }

    static func codes(_ codes: [ResponseCode]) -> JSONValue {
        .array(codes.map { .object([("code", .int(Int64($0.code))), ("summary", text($0.summary))]) })
    }

    /// Keys in order, so the same metadata always renders the same bytes.
    public static func metadata(_ metadata: [String: String]) -> JSONValue {
        .object(metadata.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })
    }

    /// Names in order, each value with its own JSON type.
    public static func customScores(_ scores: [String: JSONValue]) -> JSONValue {
        .object(scores.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
    }

    /// Whole seconds since 1970, rounded down; a date outside what the API can hold is clamped to its bounds so
    /// the conversion never traps.
    public static func unixSeconds(_ date: Date) -> Int64 {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        let bounded = seconds.isNaN ? Timestamp.representable.lowerBound
            : min(max(seconds, Timestamp.representable.lowerBound), Timestamp.representable.upperBound - 1)
        return Int64(bounded)
    }

    /// `YYYY-MM-DD` (or the date part of an RFC 3339 time) as its parts; nil for anything else, including days a
    /// month does not have.
    static func calendarDate(_ text: String?) -> (day: Int, month: Int, year: Int)? {
        guard let text else { return nil }
        let bytes = Array(text.utf8)
        guard bytes.count >= 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
              bytes.count == 10 || bytes[10] == UInt8(ascii: "T") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                guard bytes[index] >= 48, bytes[index] <= 57 else { return nil }
                value = value * 10 + Int(bytes[index] - 48)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), year >= 1, (1...12).contains(month),
              (1...Timestamp.daysIn(month: month, year: year)).contains(day) else { return nil }
        return (day, month, year)
    }
}
