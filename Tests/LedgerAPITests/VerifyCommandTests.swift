import Foundation
import LedgerCrypto
import LedgerDomain
import LedgerEngine
import LedgerStorage
import LedgerTestSupport
import XCTest

/// `ledger verify` against a ledger a superuser tampered with (the trigger that keeps the log append-only
/// disabled): each kind of break is found and named exactly, across batch boundaries.
final class VerifyCommandTests: XCTestCase {
    var database: TestDatabase!
    var owner: PostgresConnection!
    var signer: CheckpointSigner!
    let organization = UUID()
    let crypto = LibcryptoAudit()

    override func setUpWithError() throws {
        database = try makeDatabase()
        owner = try database.ownerConnection()
        signer = CheckpointSigner(key: try NoteSignerKey(name: "verify.test/log", seed: try XCTUnwrap(Ed25519.generateSeed()), crypto: crypto))
        // Three streams of four events, then the tree and a checkpoint of all twelve.
        for stream in ["ver_a", "ver_b", "ver_c"] {
            for version in 0..<4 {
                _ = try EventStore.append(owner, organizationID: organization, streamID: stream, expectedVersion: .exact(Int64(version)),
                                          events: [NewEvent(id: UUID(), type: "MetadataUpdated", schemaVersion: 2,
                                                            data: ["changes": ["n": .string("\(stream)-\(version)")]], occurredAt: Date())],
                                          metadata: EventMetadata(actorID: "test", actorType: .system))
            }
        }
        let keeper = AuditLogKeeper(pool: database.pool(size: 1), signer: signer)
        XCTAssertEqual(try keeper.appendOnce(), 12)
        XCTAssertEqual(try keeper.checkpointIfGrown()?.treeSize, 12)
        try owner.execute("ALTER TABLE ledger.events DISABLE TRIGGER events_refuse_update_delete")
    }

    struct Verdict {
        let status: Int32
        let json: JSONValue
        let output: String
    }

    func verify(_ arguments: [String] = [], publicKey: Bool = true) throws -> Verdict {
        let child = try ChildProcess.Running(try ledgerExecutable(), ["verify"] + arguments + (publicKey ? ["--public-key", signer.verifierKey.text] : []),
                                             environment: ["DATABASE_URL": database.conninfo, "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin"])
        let outcome = child.wait()
        let last = outcome.output.split(separator: "\n").last { $0.hasPrefix("{\"ok\"") }.map(String.init) ?? ""
        return Verdict(status: outcome.status, json: (try? JSONValue.parse(Array(last.utf8))) ?? .null, output: outcome.output)
    }

    func event(_ stream: String, _ version: Int) throws -> (position: Int64, id: String) {
        let rows = try owner.query("SELECT position, event_id FROM ledger.events WHERE stream_id = $1 AND version = $2", [stream, version])
        return (try XCTUnwrap(rows.int64(0, 0)), try XCTUnwrap(rows.string(0, 1)))
    }

    func leafIndex(_ position: Int64) throws -> Int64 {
        try XCTUnwrap(try owner.query("SELECT leaf_index FROM ledger.merkle_leaves WHERE position = $1", [position]).int64(0, 0))
    }

    /// Rewrites one event's data and its hash, the hashes after it and the stream's head, as someone covering
    /// their tracks would: the stream's chain verifies again.
    func rewriteConsistently(_ stream: String, version: Int) throws {
        try owner.execute("""
            UPDATE ledger.events SET data = '{"changes": {"n": "rewritten"}}' WHERE stream_id = '\(stream)' AND version = \(version);
            DO $$
            DECLARE r record; head bytea;
            BEGIN
                SELECT hash INTO head FROM ledger.events WHERE stream_id = '\(stream)' AND version = \(version - 1);
                head := coalesce(head, ledger.genesis_hash());
                FOR r IN SELECT * FROM ledger.events WHERE stream_id = '\(stream)' AND version >= \(version) ORDER BY version LOOP
                    head := sha256(head || ledger.event_canonical_bytes(r.event_id, r.organization_id, r.stream_id, r.version, r.type,
                                                                        r.schema_version, r.data, r.metadata, r.occurred_at));
                    UPDATE ledger.events SET previous_hash = coalesce((SELECT hash FROM ledger.events
                        WHERE stream_id = r.stream_id AND version = r.version - 1), ledger.genesis_hash()), hash = head
                    WHERE position = r.position;
                END LOOP;
                UPDATE ledger.streams SET head_hash = head WHERE stream_id = '\(stream)';
            END $$;
            """)
    }

    func testAnIntactLedgerVerifiesWithAnyBatchSize() throws {
        for batch in ["1", "5", "12", "5000"] {
            let verdict = try verify(["--batch-size", batch])
            XCTAssertEqual(verdict.status, 0, verdict.output)
            XCTAssertEqual(verdict.json["ok"], true)
            XCTAssertEqual(verdict.json["events_checked"], 12)
            XCTAssertEqual(verdict.json["streams_checked"], 3)
            XCTAssertEqual(verdict.json["leaves_checked"], 12)
            XCTAssertEqual(verdict.json["checkpoints_checked"], 1)
        }
        let progress = try verify(["--batch-size", "5"]).output.split(separator: "\n").filter { $0.hasPrefix("{\"phase\"") }
        XCTAssertGreaterThanOrEqual(progress.count, 4, "one JSON line per batch off a terminal")
    }

    func testAlteredDataIsNamedByStreamVersionPositionAndKind() throws {
        let altered = try event("ver_b", 3)
        try owner.execute("UPDATE ledger.events SET data = '{\"changes\": {\"n\": \"forged\"}}' WHERE event_id = '\(altered.id)'")
        for batch in ["1", "2", "3", "5000"] {
            let verdict = try verify(["--batch-size", batch])
            XCTAssertEqual(verdict.status, 1, verdict.output)
            XCTAssertEqual(verdict.json["break"]?["kind"], "content_altered")
            XCTAssertEqual(verdict.json["break"]?["stream_id"], "ver_b")
            XCTAssertEqual(verdict.json["break"]?["version"], 3)
            XCTAssertEqual(verdict.json["break"]?["position"], .int(altered.position))
            XCTAssertEqual(verdict.json["break"]?["organization_id"], .string(organization.uuidString.lowercased()))
        }
        XCTAssertEqual(try verify(["--org", organization.uuidString, "--stream", "ver_a"]).status, 0, "another stream is intact")
        XCTAssertEqual(try verify(["--stream", "ver_b"]).json["break"]?["version"], 3)
        XCTAssertEqual(try verify(["--org", UUID().uuidString]).status, 0, "another organization has nothing to break")
    }

    func testABrokenLinkAMissingEventAndAStaleHeadAreEachNamed() throws {
        let relinked = try event("ver_a", 2)
        try owner.execute("UPDATE ledger.events SET previous_hash = sha256('x') WHERE event_id = '\(relinked.id)'")
        var verdict = try verify()
        XCTAssertEqual(verdict.json["break"]?["kind"], "previous_hash_mismatch", verdict.output)
        XCTAssertEqual(verdict.json["break"]?["position"], .int(relinked.position))
        try owner.execute("UPDATE ledger.events SET previous_hash = (SELECT hash FROM ledger.events WHERE stream_id = 'ver_a' AND version = 1) WHERE event_id = '\(relinked.id)'")
        XCTAssertEqual(try verify().status, 0, "repaired")

        try owner.execute("DELETE FROM ledger.events WHERE stream_id = 'ver_c' AND version = 2")
        verdict = try verify()
        XCTAssertEqual(verdict.json["break"]?["kind"], "version_gap", verdict.output)
        XCTAssertEqual(verdict.json["break"]?["stream_id"], "ver_c")
        XCTAssertEqual(verdict.json["break"]?["version"], 3)
    }

    func testADeletedLastEventIsFoundWhetherOrNotTheHeadWasRewoundToMatch() throws {
        let last = try event("ver_b", 4)
        try owner.execute("DELETE FROM ledger.events WHERE event_id = '\(last.id)'")
        var verdict = try verify()
        XCTAssertEqual(verdict.json["break"]?["kind"], "head_mismatch", verdict.output)
        XCTAssertEqual(verdict.json["break"]?["version"], 4)

        // The version rewound, the head hash left: the stored head no longer is the last event's hash.
        try owner.execute("UPDATE ledger.streams SET version = 3 WHERE stream_id = 'ver_b'")
        verdict = try verify()
        XCTAssertEqual(verdict.json["break"]?["kind"], "head_hash_mismatch", verdict.output)
        XCTAssertEqual(verdict.json["break"]?["stream_id"], "ver_b")
        XCTAssertEqual(verdict.json["break"]?["version"], 3)

        // Both rewound: every chain holds, and the tree names the leaf whose event is gone.
        try owner.execute("UPDATE ledger.streams SET head_hash = (SELECT hash FROM ledger.events WHERE stream_id = 'ver_b' AND version = 3) WHERE stream_id = 'ver_b'")
        verdict = try verify()
        XCTAssertEqual(verdict.json["streams_checked"], 3, verdict.output)
        XCTAssertEqual(verdict.json["break"]?["kind"], "leaf_event_missing")
        XCTAssertEqual(verdict.json["break"]?["position"], .int(last.position))
        XCTAssertEqual(verdict.json["break"]?["leaf_index"], .int(try leafIndex(last.position)))

        // Every event of a stream gone: its stream row is still there to be noticed.
        try owner.execute("DELETE FROM ledger.events WHERE stream_id = 'ver_b'")
        verdict = try verify()
        XCTAssertEqual(verdict.json["break"]?["kind"], "head_mismatch", verdict.output)
        XCTAssertEqual(verdict.json["break"]?["stream_id"], "ver_b")
    }

    func testAnEventRewrittenWithItsChainIsFoundByTheTreeAndThenByTheSignedCheckpoint() throws {
        let rewritten = try event("ver_c", 2)
        try rewriteConsistently("ver_c", version: 2)
        XCTAssertTrue(try ChainVerifier.verifyAll(owner).isIntact, "the stream's chain alone no longer shows anything")
        var verdict = try verify(["--batch-size", "4"])
        XCTAssertEqual(verdict.status, 1)
        XCTAssertEqual(verdict.json["break"]?["kind"], "leaf_mismatch", verdict.output)
        XCTAssertEqual(verdict.json["break"]?["position"], .int(rewritten.position))
        XCTAssertEqual(verdict.json["break"]?["leaf_index"], .int(try leafIndex(rewritten.position)))

        // The tree rebuilt to match the rewritten log: the root no longer is the one the key signed.
        try owner.execute("TRUNCATE ledger.merkle_leaves, ledger.merkle_subtrees; UPDATE ledger.merkle_log SET leaf_count = 0, feed_transaction = '0', feed_position = 0")
        XCTAssertEqual(try AuditLogKeeper(pool: database.pool(size: 1), signer: nil).appendOnce(), 12)
        verdict = try verify()
        XCTAssertEqual(verdict.json["break"]?["kind"], "checkpoint_root_mismatch", verdict.output)
        XCTAssertEqual(verdict.json["break"]?["tree_size"], 12)

        // And the checkpoint's row made to match: its note, signed by the log's key, does not.
        try owner.execute("""
            UPDATE ledger.checkpoints SET root_hash = decode('\(try MerkleTree(hasher: crypto.merkleHasher, store: StoredMerkleTree(owner)).rootHash(treeSize: 12).hexString)', 'hex')
            """)
        verdict = try verify()
        XCTAssertEqual(verdict.json["break"]?["kind"], "checkpoint_not_signed", verdict.output)
        XCTAssertEqual(try verify(publicKey: false).json["ok"], true, "without the log's key the notes cannot be checked")
    }

    /// Leaves 4 to 7 make a subtree that no root of 12 leaves uses whole, but proofs for its leaves do.
    func testAStoredSubtreeThatIsNotTheHashOfItsLeavesIsFound() throws {
        try owner.execute("UPDATE ledger.merkle_subtrees SET hash = sha256('x') WHERE level = 2 AND index = 1")
        for batch in ["3", "5000"] {
            let verdict = try verify(["--batch-size", batch])
            XCTAssertEqual(verdict.json["break"]?["kind"], "stored_tree_mismatch", verdict.output)
            XCTAssertEqual(verdict.json["break"]?["leaf_index"], 4)
        }
    }

    func testUsageErrors() throws {
        XCTAssertEqual(try verify(["--org", "acme"]).status, 2)
        XCTAssertEqual(try verify(["--batch-size", "0"]).status, 2)
        XCTAssertEqual(try verify(["extra"]).status, 2)
        XCTAssertEqual(try verify(["--public-key", "nonsense"], publicKey: false).status, 2)
    }
}
