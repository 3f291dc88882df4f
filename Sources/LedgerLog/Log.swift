import Foundation

/// Structured logs: one JSON object per line on standard error.
/// Callers pass only what is safe to keep: never request bodies, keys, secrets or personal data.
public enum Log {
    public enum Level: String, Sendable { case debug, info, warning, error }

    public static func info(_ message: String, _ fields: KeyValuePairs<String, LogValue> = [:]) { emit(.info, message, fields) }
    public static func warning(_ message: String, _ fields: KeyValuePairs<String, LogValue> = [:]) { emit(.warning, message, fields) }
    public static func error(_ message: String, _ fields: KeyValuePairs<String, LogValue> = [:]) { emit(.error, message, fields) }

    public static func emit(_ level: Level, _ message: String, _ fields: KeyValuePairs<String, LogValue>) {
        emit(level, message, fields.map { ($0.key, $0.value) })
    }

    /// Fields appear in the order given.
    public static func emit(_ level: Level, _ message: String, _ fields: [(String, LogValue)]) {
        var line = "{\"time\":\""
        line.reserveCapacity(256)
        appendTimestamp(to: &line)
        line += "\",\"level\":\""
        line += level.rawValue
        line += "\",\"message\":"
        appendQuoted(message, to: &line)
        for (key, value) in fields {
            line += ","
            appendQuoted(key, to: &line)
            line += ":"
            value.append(to: &line)
        }
        line += "}\n"
        output.append(line, urgent: level == .error || level == .warning)
    }

    /// Writes out whatever is buffered; call before the process exits.
    public static func flush() { output.flush() }

    private static let output = LogOutput()

    static func appendTimestamp(to line: inout String) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var time = now.tv_sec
        var parts = tm()
        gmtime_r(&time, &parts)
        appendPadded(Int(parts.tm_year) + 1900, 4, to: &line); line += "-"
        appendPadded(Int(parts.tm_mon) + 1, 2, to: &line); line += "-"
        appendPadded(Int(parts.tm_mday), 2, to: &line); line += "T"
        appendPadded(Int(parts.tm_hour), 2, to: &line); line += ":"
        appendPadded(Int(parts.tm_min), 2, to: &line); line += ":"
        appendPadded(Int(parts.tm_sec), 2, to: &line); line += "."
        appendPadded(now.tv_nsec / 1_000_000, 3, to: &line); line += "Z"
    }

    static func appendPadded(_ value: Int, _ width: Int, to line: inout String) {
        let text = String(value)
        if text.utf8.count < width { line += String(repeating: "0", count: width - text.utf8.count) }
        line += text
    }

    static func appendQuoted(_ text: String, to line: inout String) {
        line += "\""
        if !text.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5c }) {
            line += text
        } else {
            for scalar in text.unicodeScalars {
                switch scalar {
                case "\"": line += "\\\""
                case "\\": line += "\\\\"
                case "\n": line += "\\n"
                case "\r": line += "\\r"
                case "\t": line += "\\t"
                case _ where scalar.value < 0x20:
                    line += "\\u00"
                    line += scalar.value < 0x10 ? "0" : "1"
                    line += String(scalar.value & 0xF, radix: 16)
                default: line.unicodeScalars.append(scalar)
                }
            }
        }
        line += "\""
    }
}

public enum LogValue: Sendable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    case string(String)
    case int(Int)
    case double(Double)

    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }

    func append(to line: inout String) {
        switch self {
        case let .string(s): Log.appendQuoted(s, to: &line)
        case let .int(i): line += String(i)
        case let .double(d):
            guard d.isFinite else { line += "null"; return }
            // Three decimals without String(format:), which is slow on this platform.
            let thousandths = Int((d * 1000).rounded())
            if thousandths < 0 { line += "-" }
            line += String(abs(thousandths) / 1000)
            line += "."
            Log.appendPadded(abs(thousandths) % 1000, 3, to: &line)
        }
    }
}

/// Collects log lines in memory and writes them to standard error in batches from one thread, so a busy
/// server pays for a memory copy per line instead of a system call. Batches go out when 64 KiB have gathered
/// or 20 ms have passed, warnings and errors at once, and everything on `flush()`.
final class LogOutput: @unchecked Sendable {
    private let condition = NSCondition()
    private var pending: [UInt8] = []
    private var writerStarted = false

    func append(_ line: String, urgent: Bool) {
        condition.lock()
        pending.append(contentsOf: line.utf8)
        if !writerStarted {
            writerStarted = true
            let thread = Thread { [unowned self] in self.drainForever() }
            thread.name = "ledger-log"
            thread.start()
        }
        if urgent || pending.count >= 65_536 { condition.signal() }
        condition.unlock()
    }

    func flush() {
        condition.lock()
        let batch = pending
        pending.removeAll(keepingCapacity: true)
        write(batch)
        condition.unlock()
    }

    private func drainForever() {
        while true {
            condition.lock()
            if pending.count < 65_536 { _ = condition.wait(until: Date().addingTimeInterval(0.02)) }
            let batch = pending
            pending.removeAll(keepingCapacity: true)
            // Written while holding the lock so flush() and the writer never interleave their batches.
            write(batch)
            condition.unlock()
        }
    }

    private func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(2, base + offset, buffer.count - offset)
                if written <= 0 { break }
                offset += written
            }
        }
    }
}
