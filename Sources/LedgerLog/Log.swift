import Foundation
import Synchronization

/// Structured logs: one JSON object per line on standard error.
/// Callers pass only what is safe to keep: never request bodies, keys, secrets or personal data.
public enum Log {
    public enum Level: String, Sendable { case debug, info, warning, error }

    private static let lock = Mutex(())

    public static func info(_ message: String, _ fields: [String: LogValue] = [:]) { emit(.info, message, fields) }
    public static func warning(_ message: String, _ fields: [String: LogValue] = [:]) { emit(.warning, message, fields) }
    public static func error(_ message: String, _ fields: [String: LogValue] = [:]) { emit(.error, message, fields) }

    public static func emit(_ level: Level, _ message: String, _ fields: [String: LogValue]) {
        var line = "{\"time\":\"\(timestamp())\",\"level\":\"\(level.rawValue)\",\"message\":\(quote(message))"
        for key in fields.keys.sorted() {
            guard let value = fields[key] else { continue }
            line += ",\(quote(key)):\(value.json)"
        }
        line += "}\n"
        let bytes = Array(line.utf8)
        lock.withLock { _ in
            bytes.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = write(2, buffer.baseAddress! + offset, buffer.count - offset)
                    if written <= 0 { break }
                    offset += written
                }
            }
        }
    }

    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var time = now.tv_sec
        var parts = tm()
        gmtime_r(&time, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                      parts.tm_hour, parts.tm_min, parts.tm_sec, now.tv_nsec / 1_000_000)
    }

    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

public enum LogValue: Sendable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    case string(String)
    case int(Int)
    case double(Double)

    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }

    var json: String {
        switch self {
        case let .string(s): return Log.quote(s)
        case let .int(i): return String(i)
        case let .double(d): return d.isFinite ? String(format: "%.3f", d) : "null"
        }
    }
}
