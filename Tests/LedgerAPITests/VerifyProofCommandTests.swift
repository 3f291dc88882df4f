import Foundation
import LedgerCLI
import LedgerCrypto
import LedgerDomain
import LedgerStorage
import LedgerTestSupport
import XCTest

/// `ledger verify-proof` as an auditor runs it: the real executable, files on disk, no database.
final class VerifyProofCommandTests: XCTestCase {
    let crypto = LibcryptoAudit()
    var hasher: MerkleHasher { crypto.merkleHasher }

    struct Log {
        let signer: NoteSignerKey
        let events: [ProofDocument.EventLeaf]
        let tree: MerkleTree<InMemoryMerkleTree>
    }

    func makeLog(events count: Int) throws -> Log {
        guard let seed = Ed25519.generateSeed() else { throw CocoaError(.featureUnsupported) }
        let signer = try NoteSignerKey(name: "ledger.example/log", seed: seed, crypto: crypto)
        let events = (0..<count).map { ProofDocument.EventLeaf(position: Int64($0) * 3 + 2, chainHash: Digest.sha256("event \($0)")) }
        let leafHashes = events.map { hasher.leafHash(LedgerLeaf.bytes(position: $0.position, chainHash: $0.chainHash) ?? []) }
        return Log(signer: signer, events: events,
                   tree: MerkleTree(hasher: hasher, store: InMemoryMerkleTree(hasher: hasher, leafHashes: leafHashes)))
    }

    func signedCheckpoint(_ log: Log, size: UInt64) throws -> String {
        let checkpoint = try Checkpoint(origin: log.signer.name, treeSize: size, rootHash: try log.tree.rootHash(treeSize: size))
        return try checkpoint.signed(by: log.signer, crypto: crypto).serialized
    }

    func proof(_ log: Log, leaf: UInt64, size: UInt64, secondSize: UInt64? = nil) throws -> ProofDocument {
        let event = log.events[Int(leaf)]
        var document = ProofDocument(
            leafIndex: leaf, treeSize: size,
            leafHash: hasher.leafHash(LedgerLeaf.bytes(position: event.position, chainHash: event.chainHash) ?? []),
            inclusionPath: try log.tree.inclusionProof(leafIndex: leaf, treeSize: size),
            checkpoint: try signedCheckpoint(log, size: size), event: event)
        if let secondSize {
            document.consistency = .init(checkpoint: try signedCheckpoint(log, size: secondSize),
                                         path: try log.tree.consistencyProof(from: min(size, secondSize), to: max(size, secondSize)))
        }
        return document
    }

    func write(_ contents: String) throws -> String {
        let url = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("proof-\(UUID().uuidString).json")
        try Data(contents.utf8).write(to: url)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url.path
    }

    func verifyProof(_ json: String, key: String) throws -> ChildProcess.Outcome {
        try ChildProcess.run(try ledgerExecutable(), ["verify-proof", try write(json), "--public-key", key])
    }

    func testAValidProofWithConsistencyExitsZeroAndSaysWhatItChecked() throws {
        let log = try makeLog(events: 21)
        let document = try proof(log, leaf: 13, size: 17, secondSize: 21)
        XCTAssertEqual(try ProofDocument(json: try JSONValue.parse(document.json.jsonString)), document, "the shape reads back")

        let outcome = try verifyProof(document.json.jsonString, key: log.signer.verifierKey.text)
        XCTAssertEqual(outcome.status, 0, outcome.output)
        for line in ["ok checkpoint: signed by \(log.signer.verifierKey.text), tree size 17",
                     "ok leaf: the event at position 41 with hash \(Digest.sha256("event 13").hexString)",
                     "ok inclusion: leaf 13 is in the tree of size 17",
                     "ok second checkpoint: signed by \(log.signer.verifierKey.text), tree size 21",
                     "ok consistency: the tree of size 17 is a prefix of the tree of size 21", "valid"] {
            XCTAssertTrue(outcome.output.contains(line + "\n"), "\(line) missing from\n\(outcome.output)")
        }
        // The second checkpoint may be the older one, and the key may be given as a file.
        let older = try proof(log, leaf: 20, size: 21, secondSize: 6)
        let keyFile = try write(log.signer.verifierKey.text + "\n")
        let fromFile = try verifyProof(older.json.jsonString, key: keyFile)
        XCTAssertEqual(fromFile.status, 0, fromFile.output)
        XCTAssertTrue(fromFile.output.contains("ok consistency: the tree of size 6 is a prefix of the tree of size 21"), fromFile.output)
    }

    func testEachKindOfBadProofExitsOneNamingThePartThatFailed() throws {
        let log = try makeLog(events: 12)
        let good = try proof(log, leaf: 4, size: 9, secondSize: 12)
        let other = try makeLog(events: 12)

        var wrongLeaf = good
        wrongLeaf.leafIndex = 5
        var tamperedPath = good
        tamperedPath.inclusionPath[1][7] ^= 0x20
        var otherEvent = good
        otherEvent.event?.chainHash[0] ^= 0x01
        var wrongSize = good
        wrongSize.treeSize = 10
        var tamperedConsistency = good
        tamperedConsistency.consistency?.path[0][31] ^= 0x80
        var forgedCheckpoint = good
        forgedCheckpoint.checkpoint = try signedCheckpoint(other, size: 9)
        var unsignedSecond = good
        unsignedSecond.consistency?.checkpoint = try signedCheckpoint(other, size: 12)

        let cases: [(String, ProofDocument, String)] = [
            ("another leaf index", wrongLeaf, "invalid: inclusion_path: the path leads to another root hash"),
            ("a changed path byte", tamperedPath, "invalid: inclusion_path: the path leads to another root hash"),
            ("another event", otherEvent, "invalid: leaf_hash: is not the leaf hash of the event at position 14"),
            ("another tree size", wrongSize, "invalid: tree_size: 10 is not the checkpoint's tree size 9"),
            ("a changed consistency byte", tamperedConsistency, "invalid: consistency_path: the path does not lead to"),
            ("a checkpoint by another key", forgedCheckpoint, "invalid: checkpoint: the note has no signature by \(log.signer.verifierKey.text)"),
            ("a second checkpoint by another key", unsignedSecond, "invalid: second_checkpoint: the note has no signature by"),
        ]
        for (label, document, message) in cases {
            let outcome = try verifyProof(document.json.jsonString, key: log.signer.verifierKey.text)
            XCTAssertEqual(outcome.status, 1, "\(label): \(outcome.output)")
            XCTAssertTrue(outcome.output.contains(message), "\(label): expected \(message) in\n\(outcome.output)")
            XCTAssertFalse(outcome.output.contains("valid\n") && !outcome.output.contains("invalid"), label)
        }

        // The checkpoint's own text altered after signing.
        let altered = good.json.jsonString.replacingOccurrences(of: "\\n9\\n", with: "\\n8\\n")
        XCTAssertNotEqual(altered, good.json.jsonString)
        let alteredOutcome = try verifyProof(altered, key: log.signer.verifierKey.text)
        XCTAssertEqual(alteredOutcome.status, 1, alteredOutcome.output)
        XCTAssertTrue(alteredOutcome.output.contains("invalid: checkpoint: the signature by"), alteredOutcome.output)
    }

    func testMalformedInputExitsOneOrTwoWithAMessage() throws {
        let log = try makeLog(events: 3)
        let key = log.signer.verifierKey.text
        let good = try proof(log, leaf: 0, size: 3)
        var members = good.json.objectValue ?? []
        members.append(("consistancy_path", .array([])))
        let cases: [(String, String)] = [
            ("not json", "is not JSON"),
            ("[]", "the proof is not a JSON object"),
            (JSONValue.object(members).jsonString, "unknown member consistancy_path"),
            (#"{"leaf_index": -1}"#, "leaf_index is not a whole number ≥ 0"),
            (good.json.jsonString.replacingOccurrences(of: #""tree_size":3"#, with: #""tree_size":"3""#), "tree_size is not a whole number"),
        ]
        for (json, message) in cases {
            let outcome = try verifyProof(json, key: key)
            XCTAssertEqual(outcome.status, 1, json)
            XCTAssertTrue(outcome.output.contains(message), "expected \(message) in \(outcome.output)")
        }
        let badKey = try verifyProof(good.json.jsonString, key: "nobody+00000000+AAAA")
        XCTAssertEqual(badKey.status, 1, badKey.output)
        XCTAssertTrue(badKey.output.contains("--public-key is neither a verifier key nor a readable file"), badKey.output)

        let executable = try ledgerExecutable()
        let noKey = try ChildProcess.run(executable, ["verify-proof", try write(good.json.jsonString)])
        XCTAssertEqual(noKey.status, 2, noKey.output)
        XCTAssertTrue(noKey.output.contains("needs --public-key KEY"), noKey.output)
        let missing = try ChildProcess.run(executable, ["verify-proof", "/nonexistent/proof.json", "--public-key", key])
        XCTAssertEqual(missing.status, 1, missing.output)
        XCTAssertTrue(missing.output.contains("cannot read /nonexistent/proof.json"), missing.output)
        let help = try ChildProcess.run(executable, ["verify-proof", "--help"])
        XCTAssertEqual(help.status, 0)
        XCTAssertTrue(help.output.contains("Usage: ledger verify-proof PROOF.json --public-key KEY"), help.output)
    }
}
