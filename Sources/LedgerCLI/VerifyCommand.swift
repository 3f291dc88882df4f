import Foundation
import LedgerCrypto
import LedgerDomain
import LedgerStorage

/// `ledger verify`: the log checked against itself (every stream's hash chain and head) and against its Merkle
/// tree and signed checkpoints.
enum VerifyCommand {
    static let help = """
        ledger verify [--org ID] [--stream ID] [--public-key KEY] [--batch-size N]: check the ledger now.

        1. Every stream's hash chain, event by event: each event's hash against its content, each link
           against the event before, versions without gaps, and the stream's stored head (version and hash)
           against its last event.
        2. Without --org and --stream: the Merkle tree rebuilt from the events in leaf order, each leaf
           against its event (a rewritten event shows here even when its stream's chain was rewritten to
           match), the root at each stored checkpoint's size against the one it signed, each checkpoint's
           note against the log's key (--public-key KEY, a verifier key or a file holding it; by default the
           configured checkpoint key's), and every stored subtree hash (proofs are made of them) against the rebuilt one.

        On a terminal a progress line on standard error; otherwise one JSON line per batch. The last line of
        standard output is JSON: {"ok":true,...} or {"ok":false,"break":{"kind",...}}.
        Exit status: 0 when everything holds, 1 at the first break (named: stream, version, position and
        kind, or leaf, position and kind), 2 for a usage error.
        Uses DATABASE_URL or the embedded PostgreSQL, as the database owner.
        """

    static func run(_ arguments: [String], settings: Settings) throws -> Int32 {
        let options = try Options(arguments, known: ["org", "stream", "public-key", "batch-size"])
        guard options.positional.isEmpty else { throw UsageError(message: "unexpected argument \(options.positional[0])") }
        let organization = try options.string("org").map { text in
            guard let id = UUID(uuidString: text) else { throw UsageError(message: "--org takes an organization id (a UUID)") }
            return id
        }
        let stream = options.string("stream")
        let batchSize = try options.integer("batch-size", default: ChainVerifier.defaultBatchSize, range: 1...100_000)
        let crypto = LibcryptoAudit()
        let key = try verifierKey(options.string("public-key"), settings: settings, crypto: crypto)

        let database = try Database(settings: settings)
        defer { database.close() }
        let connection = try PostgresConnection(conninfo: database.conninfo)
        try connection.execute("SET search_path = ledger, public; SET TimeZone = 'UTC'; SET DateStyle = 'ISO'")
        let output = Progress(terminal: isatty(STDERR_FILENO) == 1)

        let chains = try ChainVerifier.verifyAll(connection, organizationID: organization, streamID: stream, batchSize: batchSize) { report in
            output.report("chains", [("streams_checked", .int(Int64(report.streamsChecked))), ("events_checked", .int(Int64(report.eventsChecked)))])
        }
        var summary: [(String, JSONValue)] = [("streams_checked", .int(Int64(chains.streamsChecked))),
                                               ("events_checked", .int(Int64(chains.eventsChecked)))]
        if let broken = chains.firstBreak {
            return output.finish(summary, broken: [
                ("kind", .string(broken.reason.name)), ("organization_id", .string(broken.organizationID.uuidString.lowercased())),
                ("stream_id", .string(broken.streamID)), ("version", .int(broken.version)),
                ("position", broken.position.map(JSONValue.int) ?? .null), ("message", .string(broken.description)),
            ])
        }
        guard organization == nil, stream == nil else { return output.finish(summary, broken: nil) }

        let openNote = key.map { key in
            { (note: String) -> (UInt64, [UInt8])? in
                (try? Checkpoint.open(note, key: key, crypto: crypto)).map { ($0.treeSize, $0.rootHash) }
            }
        }
        let tree = try MerkleLog.verifyTree(connection, hasher: crypto.merkleHasher, batchSize: batchSize, openNote: openNote) { report in
            output.report("tree", [("leaves_checked", .int(Int64(clamping: report.leavesChecked)))])
        }
        summary += [("leaves_checked", .int(Int64(clamping: tree.leavesChecked))), ("checkpoints_checked", .int(Int64(tree.checkpointsChecked))),
                    ("checkpoint_signatures_checked", .bool(key != nil))]
        if let broken = tree.firstBreak {
            return output.finish(summary, broken: [
                ("kind", .string(broken.reason.rawValue)), ("leaf_index", broken.leafIndex.map { JSONValue.int(Int64(clamping: $0)) } ?? .null),
                ("position", broken.position.map(JSONValue.int) ?? .null), ("tree_size", broken.treeSize.map { JSONValue.int(Int64(clamping: $0)) } ?? .null),
                ("message", .string(broken.description)),
            ])
        }
        return output.finish(summary, broken: nil)
    }

    private static func verifierKey(_ argument: String?, settings: Settings, crypto: LibcryptoAudit) throws -> NoteVerifierKey? {
        guard let argument else {
            // The key `ledger serve` signs with, if this setup has one; no key is made here.
            let file = settings.dataDirectory.appendingPathComponent(CheckpointKey.embeddedFileName).path
            let embedded = settings.databaseURL == nil && FileManager.default.fileExists(atPath: file) ? settings.dataDirectory : nil
            return try CheckpointKey.load(environment: settings.environment, embeddedDirectory: embedded)?.verifierKey
        }
        if let key = try? NoteVerifierKey(parsing: argument, crypto: crypto) { return key }
        guard let contents = FileManager.default.contents(atPath: argument),
              let key = try? NoteVerifierKey(parsing: String(decoding: contents.prefix(4096), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines), crypto: crypto) else {
            throw UsageError(message: "--public-key is neither a verifier key nor a file holding one")
        }
        return key
    }

    /// A progress line on a terminal, JSON lines otherwise; the verdict is the last line of standard output.
    final class Progress {
        let terminal: Bool
        private var last = Date.distantPast

        init(terminal: Bool) { self.terminal = terminal }

        func report(_ phase: String, _ counts: [(String, JSONValue)]) {
            if terminal {
                let now = Date()
                guard now.timeIntervalSince(last) >= 0.2 else { return }
                last = now
                let text = counts.map { "\($0.0.replacingOccurrences(of: "_", with: " ")) \($0.1.intValue ?? 0)" }.joined(separator: ", ")
                FileHandle.standardError.write(Data("\r\u{1B}[2K\(phase): \(text)".utf8))
            } else {
                print(JSONValue.object([("phase", .string(phase))] + counts).jsonString)
            }
        }

        func finish(_ summary: [(String, JSONValue)], broken: [(String, JSONValue)]?) -> Int32 {
            if terminal { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
            var verdict: [(String, JSONValue)] = [("ok", .bool(broken == nil))] + summary
            if let broken { verdict.append(("break", .object(broken))) }
            print(JSONValue.object(verdict).jsonString)
            fflush(nil)
            if let broken, terminal, let message = broken.first(where: { $0.0 == "message" })?.1.stringValue {
                FileHandle.standardError.write(Data("broken: \(message)\n".utf8))
            }
            return broken == nil ? 0 : 1
        }
    }
}
