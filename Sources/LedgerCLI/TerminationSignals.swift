import Foundation

/// The write end of the pipe the handler below writes a caught signal's number to (-1 while none is armed).
nonisolated(unsafe) private var terminationPipeWriteEnd: Int32 = -1

/// SIGINT and SIGTERM, caught from the moment this is made. A long-running command makes it first and waits on it
/// once started, so a signal that arrives while it is still starting is kept. (A dispatch signal source is not
/// enough: it starts listening some time after it is resumed, and a signal in between is lost; a `serve` stopped
/// right after its first purge once never stopped.) One at a time per process.
public final class TerminationSignals: Sendable {
    private let readEnd: Int32

    public init() {
        var ends: [Int32] = [-1, -1]
        if pipe(&ends) != 0 { ends = [-1, -1] }
        readEnd = ends[0]
        terminationPipeWriteEnd = ends[1]
        for number in [SIGINT, SIGTERM] {
            // Only async-signal-safe work in the handler: one write(2) of the signal's number.
            signal(number) { caught in
                var byte = UInt8(truncatingIfNeeded: caught)
                _ = write(terminationPipeWriteEnd, &byte, 1)
            }
        }
    }

    /// Blocks until SIGINT or SIGTERM has arrived (at once if one already has); returns the first one's name.
    public func wait() -> String {
        var byte: UInt8 = 0
        while read(readEnd, &byte, 1) < 0 && errno == EINTR {}
        return Int32(byte) == SIGINT ? "SIGINT" : "SIGTERM"
    }

    deinit {
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
        close(terminationPipeWriteEnd)
        terminationPipeWriteEnd = -1
        close(readEnd)
    }
}
