import Foundation

/// Runs a program to completion with posix_spawn and waitpid, its output captured through a file.
///
/// Not Foundation's Process: a server the child starts (pg_ctl start) would inherit a pipe and hold it open,
/// and Process's exit detection has been seen to hang when first used inside a lazily initialised global.
public enum ChildProcess {
    public struct Outcome: Sendable {
        public var status: Int32
        public var output: String
    }

    public enum Failure: Error, CustomStringConvertible {
        case cannotStart(String, Int32)
        public var description: String {
            switch self {
            case let .cannotStart(program, code): return "cannot start \(program): \(String(cString: strerror(code)))"
            }
        }
    }

    public static func run(_ executable: String, _ arguments: [String], workingDirectory: String? = nil) throws -> Outcome {
        let child = try Running(executable, arguments, workingDirectory: workingDirectory)
        return child.wait()
    }

    /// A started child; its standard output and error go to a temporary file read when it ends.
    public final class Running {
        public let pid: pid_t
        private let outputPath: String
        private var finished: Outcome?

        public init(_ executable: String, _ arguments: [String], workingDirectory: String? = nil,
                    environment: [String: String]? = nil) throws {
            outputPath = NSTemporaryDirectory() + "ledger-child-\(getpid())-\(UUID().uuidString).out"
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
            // posix_spawn_file_actions_addchdir_np is not visible to Swift here; env -C changes directory instead.
            let command = workingDirectory.map { ["/usr/bin/env", "-C", $0, executable] + arguments } ?? [executable] + arguments
            let argv: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) } + [nil]
            defer { for pointer in argv { free(pointer) } }
            var pid: pid_t = 0
            let spawned: Int32
            if let environment {
                let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
                defer { for pointer in envp { free(pointer) } }
                spawned = posix_spawnp(&pid, command[0], &actions, nil, argv, envp)
            } else {
                spawned = posix_spawnp(&pid, command[0], &actions, nil, argv, environ)
            }
            guard spawned == 0 else { throw Failure.cannotStart(executable, spawned) }
            self.pid = pid
        }

        deinit { unlink(outputPath) }

        public func signal(_ number: Int32) { kill(pid, number) }

        /// Waits for the child to end.
        public func wait() -> Outcome {
            if let finished { return finished }
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            return finish(status)
        }

        /// The outcome if the child has ended, without blocking.
        public func poll() -> Outcome? {
            if let finished { return finished }
            var status: Int32 = 0
            guard waitpid(pid, &status, WNOHANG) == pid else { return nil }
            return finish(status)
        }

        public var outputSoFar: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }

        private func finish(_ status: Int32) -> Outcome {
            // WIFEXITED / WEXITSTATUS are macros Swift cannot import.
            let exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
            let outcome = Outcome(status: exitStatus, output: outputSoFar)
            finished = outcome
            return outcome
        }
    }
}
