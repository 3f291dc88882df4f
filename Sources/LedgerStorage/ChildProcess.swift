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
        let outputPath = NSTemporaryDirectory() + "ledger-child-\(getpid())-\(UUID().uuidString).out"
        defer { unlink(outputPath) }
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
        let spawned = posix_spawnp(&pid, command[0], &actions, nil, argv, environ)
        guard spawned == 0 else { throw Failure.cannotStart(executable, spawned) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        // WIFEXITED / WEXITSTATUS are macros Swift cannot import.
        let exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Outcome(status: exitStatus, output: output)
    }
}
