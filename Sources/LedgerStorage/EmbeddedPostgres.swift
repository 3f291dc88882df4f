import Foundation
import LedgerCrypto
import LedgerLog

/// A private PostgreSQL cluster in a folder of its own, reached over a Unix socket inside that folder.
///
/// PostgreSQL refuses to run as root, so when this process is root the cluster belongs to an unprivileged
/// account (`LEDGER_PG_USER`, else `postgres`, else `nobody`) and its programs run through `runuser`.
///
/// Only its owner reaches it: the socket's directory is 0700, and the superuser's password (32 random bytes,
/// generated at initdb) is required (`scram-sha-256`); it is kept in the folder as a libpq password file
/// (0600), which the connection strings of `conninfo` name. A cluster made by an older build with `trust`
/// authentication is moved to passwords the first time it is started by this one.
public final class EmbeddedPostgres: @unchecked Sendable {
    public enum Failure: Error, CustomStringConvertible {
        case serverBinariesNotFound
        case commandFailed(command: String, status: Int32, output: String)
        case notReachable(String)
        case noRandomness

        public var description: String {
            switch self {
            case .serverBinariesNotFound:
                return "PostgreSQL server programs (initdb, pg_ctl) not found: install the 'postgresql' package or set LEDGER_PG_BIN"
            case let .commandFailed(command, status, output):
                return "\(command) exited with status \(status):\n\(output)"
            case let .notReachable(reason): return "the embedded PostgreSQL did not come up: \(reason)"
            case .noRandomness: return "the system's random generator is not available for the database password"
            }
        }
    }

    public let directory: URL
    public let databaseName: String
    private let binDirectory: URL
    private let owner: String?
    private let extraSettings: [String: String]

    public var dataDirectory: URL { directory.appendingPathComponent("pg") }
    public var socketDirectory: URL { directory.appendingPathComponent("run") }
    public var logFile: URL { directory.appendingPathComponent("postgresql.log") }
    /// The superuser's password, as a libpq password file (`*:*:*:ledger:secret`), mode 0600.
    public var passwordFile: URL { directory.appendingPathComponent("password") }
    private var authenticationFile: URL { dataDirectory.appendingPathComponent("pg_hba.conf") }
    public let port = 5432
    public static let superuser = "ledger"

    /// - Parameter settings: extra `postgresql.conf` lines written at initdb time (tests turn fsync off).
    public init(directory: URL, databaseName: String = "ledger", settings: [String: String] = [:],
                environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        self.directory = directory.standardizedFileURL
        self.databaseName = databaseName
        self.extraSettings = settings
        guard let bin = EmbeddedPostgres.findServerBinaries(environment) else { throw Failure.serverBinariesNotFound }
        binDirectory = bin
        owner = getuid() == 0 ? EmbeddedPostgres.unprivilegedAccount(environment) : nil
    }

    /// libpq connection string for a database of this cluster.
    public func conninfo(database: String? = nil) -> String {
        [("host", socketDirectory.path), ("port", "\(port)"), ("user", EmbeddedPostgres.superuser),
         ("dbname", database ?? databaseName), ("passfile", passwordFile.path)]
            .map { "\($0.0)='\(Self.quoted($0.1))'" }.joined(separator: " ")
    }

    /// A value inside single quotes of a libpq connection string.
    static func quoted(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'")
    }

    /// Creates the cluster on first use and starts it if it is not running.
    /// - Returns: whether this call started the server (and so should stop it).
    @discardableResult
    public func start() throws -> Bool {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: socketDirectory, withIntermediateDirectories: true)
        // Whoever may enter the socket's directory may try to log in: its owner only.
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: socketDirectory.path)
        if let owner {
            _ = try run("/bin/chown", [owner, directory.path, socketDirectory.path], asOwner: false)
        }
        if !FileManager.default.fileExists(atPath: dataDirectory.appendingPathComponent("PG_VERSION").path) {
            try initialize()
        }
        var startedHere = false
        if !isRunning() {
            _ = try run(binDirectory.appendingPathComponent("pg_ctl").path,
                        ["start", "-w", "-t", "60", "-D", dataDirectory.path, "-l", logFile.path], asOwner: true)
            startedHere = true
        }
        if try trustsLocalUsers() { try requirePassword() }
        try createDatabaseIfMissing()
        return startedHere
    }

    public func stop() throws {
        guard isRunning() else { return }
        _ = try run(binDirectory.appendingPathComponent("pg_ctl").path,
                    ["stop", "-w", "-t", "60", "-m", "fast", "-D", dataDirectory.path], asOwner: true)
    }

    public func isRunning() -> Bool {
        let status = try? run(binDirectory.appendingPathComponent("pg_ctl").path,
                              ["status", "-D", dataDirectory.path], asOwner: true, allowFailure: true)
        return status?.status == 0
    }

    /// Path of a server program (pgbench, psql …) of the same installation.
    public func program(_ name: String) -> String { binDirectory.appendingPathComponent(name).path }

    private func initialize() throws {
        let password = try writePasswordFile()
        // initdb reads the password from a file of its own, removed as soon as it has run.
        let initialPassword = directory.appendingPathComponent("initdb-password")
        try writePrivateFile(initialPassword, password + "\n")
        defer { try? FileManager.default.removeItem(at: initialPassword) }
        _ = try run(binDirectory.appendingPathComponent("initdb").path,
                    ["-D", dataDirectory.path, "-U", EmbeddedPostgres.superuser, "--auth=scram-sha-256",
                     "--pwfile=\(initialPassword.path)", "-E", "UTF8", "--locale=C", "--no-instructions"], asOwner: true)
        var settings = [
            "listen_addresses": "''",
            "unix_socket_directories": "'\(socketDirectory.path)'",
            "unix_socket_permissions": "0700",
            "password_encryption": "'scram-sha-256'",
            "port": "\(port)",
            "max_connections": "200",
            "shared_buffers": "256MB",
            "log_min_messages": "warning",
        ]
        for (key, value) in extraSettings { settings[key] = value }
        let lines = settings.sorted { $0.key < $1.key }.map { "\($0.key) = \($0.value)" }.joined(separator: "\n")
        let configuration = dataDirectory.appendingPathComponent("postgresql.conf")
        let handle = try FileHandle(forWritingTo: configuration)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(("\n# written by ledger\n" + lines + "\n").utf8))
        try handle.close()
    }

    /// A random password in the password file (made on first use, 0600, owned by the cluster's account).
    private func writePasswordFile() throws -> String {
        if let existing = try? String(contentsOf: passwordFile, encoding: .utf8),
           let secret = existing.split(separator: "\n").first?.split(separator: ":").last, secret.count == 64 {
            return String(secret)
        }
        guard let password = Digest.randomBytes(32)?.hexString else { throw Failure.noRandomness }
        try writePrivateFile(passwordFile, "*:*:*:\(EmbeddedPostgres.superuser):\(password)\n")
        return password
    }

    private func writePrivateFile(_ file: URL, _ text: String) throws {
        try? FileManager.default.removeItem(at: file)
        guard FileManager.default.createFile(atPath: file.path, contents: Data(text.utf8),
                                             attributes: [.posixPermissions: 0o600]) else {
            throw Failure.notReachable("cannot write \(file.path)")
        }
        if let owner { _ = try run("/bin/chown", [owner, file.path], asOwner: false) }
    }

    /// Whether pg_hba.conf lets local users in without a password (clusters made before passwords were required).
    private func trustsLocalUsers() throws -> Bool {
        let rules = try String(contentsOf: authenticationFile, encoding: .utf8)
        return rules.split(separator: "\n").contains { line in
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            return fields.first.map { !$0.hasPrefix("#") } == true && fields.last == "trust"
        }
    }

    /// Moves a running cluster from `trust` to passwords: sets the superuser's password (the one in the password
    /// file, generated if missing), then allows only password logins over the socket and reloads the rules.
    private func requirePassword() throws {
        let password = try writePasswordFile()
        let connection = try connectWhileStarting()
        try connection.execute("SET password_encryption = 'scram-sha-256'; "
                               + "ALTER ROLE \"\(EmbeddedPostgres.superuser)\" PASSWORD '\(password)'")
        let rules = "# written by ledger: only the cluster's owner, with the password in ../password\n"
            + "local all all scram-sha-256\n"
        try Data(rules.utf8).write(to: authenticationFile)
        _ = try connection.query("SELECT pg_reload_conf()")
        Log.info("the embedded PostgreSQL now requires a password", ["password_file": .string(passwordFile.path)])
    }

    private func connectWhileStarting() throws -> PostgresConnection {
        let deadline = Date().addingTimeInterval(30)
        while true {
            do {
                return try PostgresConnection(conninfo: conninfo(database: "postgres"))
            } catch let error as PostgresError where error.isUnavailable && Date() < deadline {
                Thread.sleep(forTimeInterval: 0.1) // the server is still starting; poll until the deadline
            } catch {
                throw Failure.notReachable("\(error)")
            }
        }
    }

    private func createDatabaseIfMissing() throws {
        let deadline = Date().addingTimeInterval(30)
        while true {
            do {
                let connection = try PostgresConnection(conninfo: conninfo(database: "postgres"))
                let rows = try connection.query("SELECT 1 FROM pg_database WHERE datname = $1", [databaseName])
                if rows.count == 0 {
                    try connection.execute("CREATE DATABASE \"\(databaseName.replacingOccurrences(of: "\"", with: ""))\"")
                }
                return
            } catch let error as PostgresError where error.isUnavailable && Date() < deadline {
                Thread.sleep(forTimeInterval: 0.1) // the server is still starting; poll until the deadline
            } catch {
                throw Failure.notReachable("\(error)")
            }
        }
    }

    @discardableResult
    private func run(_ executable: String, _ arguments: [String], asOwner: Bool,
                     allowFailure: Bool = false) throws -> ChildProcess.Outcome {
        let command = asOwner && owner != nil ? ["/usr/sbin/runuser", "-u", owner ?? "", "--", executable] + arguments
                                              : [executable] + arguments
        // The server's working directory must be one its account may enter.
        let workingDirectory = FileManager.default.fileExists(atPath: directory.path) ? directory.path : "/"
        let outcome = try ChildProcess.run(command[0], Array(command.dropFirst()), workingDirectory: workingDirectory)
        if outcome.status != 0 && !allowFailure {
            throw Failure.commandFailed(command: command.joined(separator: " "), status: outcome.status, output: outcome.output)
        }
        return outcome
    }

    static func findServerBinaries(_ environment: [String: String]) -> URL? {
        let fm = FileManager.default
        if let explicit = environment["LEDGER_PG_BIN"] { return URL(fileURLWithPath: explicit) }
        let root = "/usr/lib/postgresql"
        let versions = ((try? fm.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted(by: >)
        for version in versions where fm.isExecutableFile(atPath: "\(root)/\(version)/bin/initdb") {
            return URL(fileURLWithPath: "\(root)/\(version)/bin")
        }
        for directory in (environment["PATH"] ?? "").split(separator: ":")
        where fm.isExecutableFile(atPath: "\(directory)/initdb") && fm.isExecutableFile(atPath: "\(directory)/pg_ctl") {
            return URL(fileURLWithPath: String(directory))
        }
        return nil
    }

    static func unprivilegedAccount(_ environment: [String: String]) -> String {
        if let configured = environment["LEDGER_PG_USER"] { return configured }
        return getpwnam("postgres") != nil ? "postgres" : "nobody"
    }
}
