import Foundation
import LedgerAPI
import LedgerCrypto
import LedgerDomain
import LedgerEngine
import LedgerStorage
import LedgerTestSupport
import XCTest

/// The log's Merkle tree in the database: every committed event a leaf in feed order, checkpoints signed by
/// the log's key, and proofs served over HTTP that verify offline exactly as `ledger verify-proof` does.
final class AuditLogTests: XCTestCase, ServiceTestCase {
    var service: ServiceFixture!
    var globex: TestOrganization!
    var signer: CheckpointSigner!
    var keeper: AuditLogKeeper!
    let crypto = LibcryptoAudit()

    override func setUpWithError() throws {
        let seed = try XCTUnwrap(Ed25519.generateSeed())
        signer = CheckpointSigner(key: try NoteSignerKey(name: "ledger.test/log", seed: seed, crypto: crypto))
        try startService(api: APIConfiguration(authCacheSeconds: 0, logRequests: false, checkpointSigner: signer))
        globex = try TestOrganization(database: database, name: "Globex")
        keeper = AuditLogKeeper(pool: database.pool(size: 2), signer: signer)
    }

    @discardableResult
    func createVerification(_ key: String, entity: String = "cus_1") throws -> String {
        let created = try client.post("/v1/verifications", json: ["entity_id": .string(entity), "checks": ["email"]], headers: .bearer(key))
        XCTAssertEqual(created.status, 201, created.text)
        return created.json?["id"]?.stringValue ?? ""
    }


    /// (position, hash) of every event in the order of the gap-safe feed.
    func feed() throws -> [(Int64, [UInt8])] {
        let rows = try database.ownerConnection().query("SELECT position, hash FROM ledger.events ORDER BY transaction_id, position")
        return (0..<rows.count).compactMap { row in rows.int64(row, 0).flatMap { position in rows.bytes(row, 1).map { (position, $0) } } }
    }

    func expectedTree() throws -> InMemoryMerkleTree {
        let hasher = crypto.merkleHasher
        return InMemoryMerkleTree(hasher: hasher, leafHashes: try feed().map { hasher.leafHash(LedgerLeaf.bytes(position: $0.0, chainHash: $0.1) ?? []) })
    }

    // MARK: Leaves

    func testEveryCommittedEventBecomesOneLeafInFeedOrderAcrossBatchesAndConcurrentAppenders() throws {
        for number in 0..<7 { try createVerification(number % 2 == 0 ? acme.writeKey : globex.writeKey) }
        let pool = database.pool(size: 4)
        // Batches of 3 cross the frontier of every tree size; four appenders at once must append each event once.
        concurrently(4) { _ in
            while (try? MerkleLog.appendPending(pool, hasher: LibcryptoAudit().merkleHasher, batchSize: 3)) ?? 0 > 0 {}
        }
        let owner = try database.ownerConnection()
        let events = try feed()
        XCTAssertEqual(events.count, 7, "each creation appends one event")
        let leaves = try owner.query("SELECT leaf_index, position FROM ledger.merkle_leaves ORDER BY leaf_index")
        XCTAssertEqual((0..<leaves.count).compactMap { leaves.int64($0, 1) }, events.map(\.0), "leaf i is the i-th event of the feed")
        XCTAssertEqual((0..<leaves.count).compactMap { leaves.int64($0, 0) }, (0..<Int64(events.count)).map { $0 })

        let expected = try expectedTree()
        let stored = MerkleTree(hasher: crypto.merkleHasher, store: StoredMerkleTree(owner))
        let reference = MerkleTree(hasher: crypto.merkleHasher, store: expected)
        for size in 1...UInt64(events.count) {
            XCTAssertEqual(try stored.rootHash(treeSize: size), try reference.rootHash(treeSize: size), "root of \(size)")
        }
        XCTAssertEqual(try keeper.appendOnce(), 0, "nothing is appended twice")

        try createVerification(acme.writeKey)
        // The keeper takes only events older than every running transaction; a background job's may still run.
        var appended = 0
        XCTAssertTrue(try eventually { appended += try keeper.appendOnce(); return appended > 0 }, "the new event is appended")
        XCTAssertEqual(appended, 1)
        XCTAssertEqual(try StoredMerkleTree(owner).leafCount(), 8)
    }

    func testAnEventOfATransactionStillRunningWaitsAndIsThenAppendedAfterTheEarlierOnes() throws {
        let id = try createVerification(acme.writeKey)
        let late = try database.ownerConnection()
        try late.execute("BEGIN")
        _ = try EventStore.append(late, organizationID: acme.id, streamID: id, expectedVersion: .exact(1),
                                  events: [NewEvent(id: UUID(), type: "MetadataUpdated", data: ["changes": ["late": "yes"]], occurredAt: Date())],
                                  metadata: EventMetadata(actorID: "late", actorType: .system))
        try createVerification(acme.writeKey)
        XCTAssertEqual(try keeper.appendOnce(), 1, "only the events of transactions older than the one still running")
        try late.execute("COMMIT")
        XCTAssertEqual(try keeper.appendOnce(), 2)
        let owner = try database.ownerConnection()
        let root = try MerkleTree(hasher: crypto.merkleHasher, store: StoredMerkleTree(owner)).rootHash(treeSize: 3)
        XCTAssertEqual(root, try MerkleTree(hasher: crypto.merkleHasher, store: try expectedTree()).rootHash(treeSize: 3))
        let order = try owner.query("SELECT e.metadata ->> 'actor_id' FROM ledger.merkle_leaves l JOIN ledger.events e USING (position) ORDER BY l.leaf_index")
        XCTAssertEqual(order.string(1, 0), "late", "the late event is the second leaf: its transaction began before the third event's")
    }

    // MARK: Checkpoints

    func testACheckpointIsSignedOnlyWhenTheTreeGrewAndVerifiesWithThePublishedKey() throws {
        XCTAssertNil(try keeper.checkpointIfGrown(), "an empty tree is not signed")
        _ = try get("/v1/checkpoints/latest", expect: 404)
        try createVerification(acme.writeKey)
        try createVerification(acme.writeKey)
        try keeper.appendOnce()
        let first = try XCTUnwrap(try keeper.checkpointIfGrown())
        XCTAssertEqual(first.treeSize, 2)
        XCTAssertNil(try keeper.checkpointIfGrown(), "the tree did not grow")

        let published = try XCTUnwrap(try client.get("/v1/checkpoints/public_key").json, "no key needed")
        XCTAssertEqual(published["origin"], "ledger.test/log")
        let key = try NoteVerifierKey(parsing: try XCTUnwrap(published["key"]?.stringValue), crypto: crypto)
        let latest = try get("/v1/checkpoints/latest")
        let note = try XCTUnwrap(latest["checkpoint"]?.stringValue)
        let opened = try Checkpoint.open(note, key: key, crypto: crypto)
        XCTAssertEqual(opened.treeSize, 2)
        XCTAssertEqual(opened.rootHash, try MerkleTree(hasher: crypto.merkleHasher, store: try expectedTree()).rootHash(treeSize: 2))
        XCTAssertEqual(latest["root_hash"]?.stringValue, Data(opened.rootHash).base64EncodedString())

        // On request, for any size up to the tree's; the same size is signed once.
        let one = try get("/v1/checkpoints?tree_size=1")
        XCTAssertEqual(try Checkpoint.open(try XCTUnwrap(one["checkpoint"]?.stringValue), key: key, crypto: crypto).treeSize, 1)
        XCTAssertEqual(try get("/v1/checkpoints?tree_size=1"), one)
        XCTAssertEqual(try get("/v1/checkpoints?tree_size=3", expect: 404)["error"]?["code"], "tree_size_unavailable")
        XCTAssertEqual(try get("/v1/checkpoints", expect: 400)["error"]?["code"], "parameter_missing")
        XCTAssertEqual(try get("/v1/checkpoints/latest")["tree_size"], 2, "a checkpoint on request is not the latest")
    }

    func testWithoutAKeyCheckpointsAndProofsAnswer503AndTheTreeStillGrows() throws {
        try restartServer(api: APIConfiguration(authCacheSeconds: 0, logRequests: false))
        XCTAssertEqual(try client.get("/v1/checkpoints/public_key").status, 503)
        XCTAssertEqual(try get("/v1/checkpoints/latest", expect: 503)["error"]?["code"], "checkpoints_unavailable")
        try createVerification(acme.writeKey)
        XCTAssertEqual(try AuditLogKeeper(pool: database.pool(size: 1), signer: nil).appendOnce(), 1)
        XCTAssertNil(try AuditLogKeeper(pool: database.pool(size: 1), signer: nil).checkpointIfGrown())
    }

    // MARK: Proofs

    func proofDocument(_ eventID: String, treeSize: UInt64? = nil, key: String? = nil) throws -> ProofDocument {
        let json = try get("/v1/events/\(eventID)/proof" + (treeSize.map { "?tree_size=\($0)" } ?? ""), key: key)
        return try ProofDocument(json: json)
    }

    func testEveryEventHasAProofThatVerifiesOfflineInEveryTreeThatHoldsIt() throws {
        for number in 0..<4 { try createVerification(number == 2 ? globex.writeKey : acme.writeKey) }
        try keeper.appendOnce()
        let key = signer.verifierKey
        let acmeEvents = try get("/v1/events")["data"]?.arrayValue ?? []
        XCTAssertEqual(acmeEvents.count, 3)
        let leaves = try database.ownerConnection().query("SELECT count(*) FROM ledger.merkle_leaves").int(0, 0)
        XCTAssertEqual(leaves, 4)
        for event in acmeEvents {
            let id = try XCTUnwrap(event["id"]?.stringValue)
            let latest = try proofDocument(id)
            XCTAssertEqual(latest.event?.position, event["position"]?.intValue)
            XCTAssertEqual(latest.event?.chainHash.hexString, event["hash"]?.stringValue)
            XCTAssertNoThrow(try latest.verify(key: key, crypto: crypto), id)
            for size in (latest.leafIndex + 1)...4 {
                let proof = try proofDocument(id, treeSize: size)
                XCTAssertEqual(proof.treeSize, size)
                XCTAssertNoThrow(try proof.verify(key: key, crypto: crypto), "\(id) in \(size)")
            }
            if latest.leafIndex > 0 {
                XCTAssertEqual(try get("/v1/events/\(id)/proof?tree_size=\(latest.leafIndex)", expect: 404)["error"]?["param"], "tree_size",
                               "a tree too small to hold the event")
            }
            XCTAssertEqual(try get("/v1/events/\(id)/proof?tree_size=5", expect: 404)["error"]?["code"], "tree_size_unavailable")
            // Another organization, and acme's live mode, do not see the event at all.
            XCTAssertEqual(try get("/v1/events/\(id)/proof", key: globex.readKey, expect: 404)["error"]?["code"], "resource_missing")
            XCTAssertEqual(try get("/v1/events/\(id)/proof", key: acme.liveAdminKey, expect: 404)["error"]?["code"], "resource_missing")
        }
        _ = try get("/v1/events/not-a-uuid/proof", expect: 404)
        _ = try get("/v1/events/\(UUID().uuidString.lowercased())/proof", expect: 404)
    }

    func testAnEventNotYetInTheTreeIs409() throws {
        try createVerification(acme.writeKey)
        let id = try XCTUnwrap(try get("/v1/events")["data"]?.arrayValue?.first?["id"]?.stringValue)
        XCTAssertEqual(try get("/v1/events/\(id)/proof", expect: 409)["error"]?["code"], "event_not_in_tree_yet")
    }

    func testConsistencyProofsBetweenEveryPairOfSizesVerifyAgainstBothCheckpoints() throws {
        for _ in 0..<10 { try createVerification(acme.writeKey) }
        try keeper.appendOnce()
        let verifier = MerkleVerifier(hasher: crypto.merkleHasher)
        for from in 1...10 {
            for to in from...10 {
                let proof = try get("/v1/checkpoints/consistency?from=\(from)&to=\(to)")
                let first = try Checkpoint.open(try XCTUnwrap(proof["from_checkpoint"]?.stringValue), key: signer.verifierKey, crypto: crypto)
                let second = try Checkpoint.open(try XCTUnwrap(proof["to_checkpoint"]?.stringValue), key: signer.verifierKey, crypto: crypto)
                let path = (proof["consistency_path"]?.arrayValue ?? []).compactMap { $0.stringValue.flatMap { Data(base64Encoded: $0) }.map(Array.init) }
                XCTAssertNoThrow(try verifier.verifyConsistency(firstSize: first.treeSize, secondSize: second.treeSize, firstRoot: first.rootHash,
                                                                secondRoot: second.rootHash, path: path), "\(from) → \(to)")
            }
        }
        XCTAssertEqual(try get("/v1/checkpoints/consistency?from=3&to=2", expect: 404)["error"]?["param"], "from")
        XCTAssertEqual(try get("/v1/checkpoints/consistency?from=3&to=11", expect: 404)["error"]?["param"], "to")
        XCTAssertEqual(try get("/v1/checkpoints/consistency?from=1&to=9007199254740992", expect: 400)["error"]?["param"], "to")
        XCTAssertEqual(try get("/v1/checkpoints/consistency?from=0&to=2", expect: 400)["error"]?["param"], "from")
    }

    // MARK: Tampering

    /// A saved checkpoint and proof outlive an operator who rewrites an event together with its stream's chain:
    /// the chain checks out, the saved proof does not, and no consistency proof leads from the saved checkpoint
    /// to a tree rebuilt over the rewritten log.
    func testASavedProofAndCheckpointExposeAnEventRewrittenWithItsChain() throws {
        let id = try createVerification(acme.writeKey)
        for _ in 0..<3 { try createVerification(acme.writeKey) }
        try keeper.appendOnce()
        let saved = try XCTUnwrap(try keeper.checkpointIfGrown())
        let eventID = try XCTUnwrap(try get("/v1/verifications/\(id)/events")["data"]?.arrayValue?.first?["id"]?.stringValue)
        let savedProof = try proofDocument(eventID)
        XCTAssertNoThrow(try savedProof.verify(key: signer.verifierKey, crypto: crypto))
        XCTAssertEqual(try get("/v1/verifications/\(id)/chain")["intact"], true)

        let owner = try database.ownerConnection()
        try owner.execute("""
            ALTER TABLE ledger.events DISABLE TRIGGER events_refuse_update_delete;
            UPDATE ledger.events SET data = jsonb_set(data, '{entity_id}', '"cus_forged"') WHERE event_id = '\(eventID)';
            UPDATE ledger.events SET hash = sha256(previous_hash || ledger.event_canonical_bytes(event_id, organization_id, stream_id, version, type,
                schema_version, data, metadata, occurred_at)) WHERE event_id = '\(eventID)';
            UPDATE ledger.streams s SET head_hash = e.hash FROM ledger.events e WHERE e.event_id = '\(eventID)' AND s.stream_id = e.stream_id;
            """)
        let chain = try get("/v1/verifications/\(id)/chain")
        XCTAssertEqual(chain["intact"], true, "the stream's own chain was rewritten to match")
        XCTAssertEqual(chain["first_break"], .null)

        // The auditor recomputes the leaf from the event as the log now holds it.
        let now = try XCTUnwrap(try get("/v1/events?verification_id=\(id)")["data"]?.arrayValue?.first?["hash"]?.stringValue)
        var recomputed = savedProof
        recomputed.event = .init(position: savedProof.event?.position ?? 0, chainHash: try XCTUnwrap([UInt8](hexString: now)))
        XCTAssertThrowsError(try recomputed.verify(key: signer.verifierKey, crypto: crypto)) {
            XCTAssertEqual(($0 as? ProofVerificationFailure)?.part, "leaf_hash")
        }
        XCTAssertThrowsError(try proofDocument(eventID).verify(key: signer.verifierKey, crypto: crypto), "a fresh proof says the same")

        // The operator rebuilds the tree over the rewritten log and signs it: nothing links it to the saved checkpoint.
        try owner.execute("TRUNCATE ledger.merkle_leaves, ledger.merkle_subtrees, ledger.checkpoints; UPDATE ledger.merkle_log SET leaf_count = 0, feed_transaction = '0', feed_position = 0")
        try createVerification(acme.writeKey)
        try keeper.appendOnce()
        let rebuilt = try XCTUnwrap(try keeper.checkpointIfGrown())
        let consistency = try get("/v1/checkpoints/consistency?from=\(saved.treeSize)&to=\(rebuilt.treeSize)")
        let path = (consistency["consistency_path"]?.arrayValue ?? []).compactMap { $0.stringValue.flatMap { Data(base64Encoded: $0) }.map(Array.init) }
        let savedHead = try Checkpoint.open(saved.note, key: signer.verifierKey, crypto: crypto)
        let newHead = try Checkpoint.open(rebuilt.note, key: signer.verifierKey, crypto: crypto)
        XCTAssertNotEqual(consistency["from_checkpoint"]?.stringValue, saved.note, "the rebuilt tree of the saved size has another root")
        XCTAssertThrowsError(try MerkleVerifier(hasher: crypto.merkleHasher).verifyConsistency(
            firstSize: savedHead.treeSize, secondSize: newHead.treeSize, firstRoot: savedHead.rootHash, secondRoot: newHead.rootHash, path: path))
    }

    func testTheChainEndpointNamesTheFirstBrokenLink() throws {
        let id = try createVerification(acme.writeKey)
        XCTAssertEqual(try client.post("/v1/verifications/\(id)/metadata", json: ["metadata": ["k": "v"]], headers: .bearer(acme.writeKey)).status, 200)
        XCTAssertEqual(try get("/v1/verifications/\(id)/chain")["events_checked"], 2)
        try database.ownerConnection().execute("""
            ALTER TABLE ledger.events DISABLE TRIGGER events_refuse_update_delete;
            UPDATE ledger.events SET data = '{"changes": {"k": "forged"}}' WHERE stream_id = '\(id)' AND version = 2;
            """)
        let chain = try get("/v1/verifications/\(id)/chain")
        XCTAssertEqual(chain["intact"], false)
        XCTAssertEqual(chain["first_break"]?["version"], 2)
        XCTAssertEqual(chain["first_break"]?["reason"], "content_altered")
        _ = try get("/v1/verifications/\(id)/chain", key: globex.readKey, expect: 404)
    }

    // MARK: Independent checks

    /// RFC 9162 §2.1.3.2 and the C2SP formats written again in Python (hashlib, and `cryptography` for
    /// Ed25519): the signature, the leaf from the event, and the inclusion path against the signed root.
    static let pythonProofVerifier = """
        import base64, hashlib, json, struct, sys
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
        proof, vkey = json.load(open(sys.argv[1])), sys.argv[2]
        name, key_id, key64 = vkey.split("+", 2)
        key = base64.b64decode(key64)[1:]
        text, signatures = proof["checkpoint"].rsplit("\\n\\n", 1)
        text += "\\n"
        line = [l for l in signatures.splitlines() if l.split(" ")[1] == name][0]
        blob = base64.b64decode(line.split(" ")[2])
        assert blob[:4].hex() == key_id
        Ed25519PublicKey.from_public_bytes(key).verify(blob[4:], text.encode())
        origin, size, root64 = text.splitlines()[:3]
        assert origin == name and int(size) == proof["tree_size"]
        root = base64.b64decode(root64)
        leaf = hashlib.sha256(b"\\x00" + struct.pack(">Q", proof["event_position"]) + bytes.fromhex(proof["event_hash"])).digest()
        assert base64.b64encode(leaf).decode() == proof["leaf_hash"]
        fn, sn, r = proof["leaf_index"], proof["tree_size"] - 1, leaf
        for p in (base64.b64decode(h) for h in proof["inclusion_path"]):
            assert sn != 0
            if fn & 1 or fn == sn:
                r = hashlib.sha256(b"\\x01" + p + r).digest()
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
            else:
                r = hashlib.sha256(b"\\x01" + r + p).digest()
            fn >>= 1
            sn >>= 1
        print("valid" if sn == 0 and r == root else "invalid")
        """

    func testPythonVerifiesServedCheckpointsAndInclusionProofsOnItsOwn() throws {
        for _ in 0..<6 { try createVerification(acme.writeKey) }
        try keeper.appendOnce()
        try keeper.checkpointIfGrown()
        for event in try get("/v1/events")["data"]?.arrayValue ?? [] {
            let id = try XCTUnwrap(event["id"]?.stringValue)
            for size in [nil, UInt64(6)] {
                let proof = try get("/v1/events/\(id)/proof" + (size.map { "?tree_size=\($0)" } ?? ""))
                let file = FileManager.default.temporaryDirectory.appendingPathComponent("proof-\(UUID().uuidString).json")
                try Data(proof.encoded()).write(to: file)
                defer { try? FileManager.default.removeItem(at: file) }
                let checked = try ChildProcess.run("python3", ["-c", Self.pythonProofVerifier, file.path, signer.verifierKey.text])
                XCTAssertEqual(checked.output, "valid\n", "\(id): \(checked.output)")
            }
        }
        // The same script refuses a proof whose event was changed.
        let id = try XCTUnwrap(try get("/v1/events")["data"]?.arrayValue?.first?["id"]?.stringValue)
        guard case var .object(members) = try get("/v1/events/\(id)/proof") else { return XCTFail("not an object") }
        members = members.map { $0.0 == "event_position" ? ($0.0, .int(($0.1.intValue ?? 0) + 1)) : $0 }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("proof-\(UUID().uuidString).json")
        try Data(JSONValue.object(members).encoded()).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        XCTAssertNotEqual(try ChildProcess.run("python3", ["-c", Self.pythonProofVerifier, file.path, signer.verifierKey.text]).output, "valid\n")
    }

    /// The stored tree of 33 leaves, appended in batches of 4, gives the proofs the in-memory reference does:
    /// inclusion for the first, middle and last leaf of every size, consistency for every pair of sizes.
    func testTheStoredTreeGivesTheReferenceProofsForEverySizeUpTo33() throws {
        let owner = try database.ownerConnection()
        _ = try EventStore.append(owner, organizationID: acme.id, streamID: "ver_long", expectedVersion: .noStream,
                                  events: (0..<33).map { NewEvent(id: UUID(), type: "MetadataUpdated", schemaVersion: 2,
                                                                  data: ["changes": ["n": .string("\($0)")]], occurredAt: Date()) },
                                  metadata: EventMetadata(actorID: "test", actorType: .system))
        while try MerkleLog.appendPending(database.pool(size: 1), hasher: crypto.merkleHasher, batchSize: 4) > 0 {}
        let stored = MerkleTree(hasher: crypto.merkleHasher, store: StoredMerkleTree(owner))
        let reference = MerkleTree(hasher: crypto.merkleHasher, store: try expectedTree())
        for size in UInt64(1)...33 {
            XCTAssertEqual(try stored.rootHash(treeSize: size), try reference.rootHash(treeSize: size))
            for leaf in Set([0, size / 2, size - 1]) {
                XCTAssertEqual(try stored.inclusionProof(leafIndex: leaf, treeSize: size), try reference.inclusionProof(leafIndex: leaf, treeSize: size))
            }
            for second in size...33 {
                XCTAssertEqual(try stored.consistencyProof(from: size, to: second), try reference.consistencyProof(from: size, to: second))
            }
        }
        XCTAssertThrowsError(try stored.rootHash(treeSize: 34))
    }

    // MARK: Webhooks

    func testEachNewCheckpointIsAWebhookToTheEndpointsThatNameIt() throws {
        try restartServer(api: APIConfiguration(authCacheSeconds: 0, logRequests: false, allowPrivateWebhooks: true, checkpointSigner: signer))
        func endpoint(_ key: String, _ events: [JSONValue]) throws -> String {
            let created = try client.post("/v1/webhook_endpoints", json: ["url": "https://127.0.0.1:9/hooks", "events": .array(events)], headers: .bearer(key))
            XCTAssertEqual(created.status, 201, created.text)
            return created.json?["id"]?.stringValue ?? ""
        }
        let named = try endpoint(acme.adminKey, ["LEDGER_CHECKPOINT"])
        _ = try endpoint(globex.adminKey, ["*"])
        try createVerification(acme.writeKey)
        try keeper.appendOnce()
        let first = try XCTUnwrap(try keeper.checkpointIfGrown())
        try createVerification(globex.writeKey)
        try keeper.appendOnce()
        let second = try XCTUnwrap(try keeper.checkpointIfGrown())

        let deliveries = try get("/v1/webhook_deliveries?event_type=LEDGER_CHECKPOINT", key: acme.adminKey)["data"]?.arrayValue ?? []
        XCTAssertEqual(deliveries.count, 2)
        XCTAssertEqual(deliveries.map { $0["endpoint_id"]?.stringValue }, [named, named])
        XCTAssertEqual(deliveries.map { $0["sequence"] }, [2, 1], "newest first, numbered per endpoint")
        XCTAssertEqual(deliveries.first?["previous_message_id"], deliveries.last?["id"])
        let payloads = try database.ownerConnection().query(
            "SELECT payload::text FROM ledger.outbox WHERE event_type = 'LEDGER_CHECKPOINT' ORDER BY sequence")
        XCTAssertEqual(payloads.count, 2, "the * endpoint is not sent checkpoints, only one that names them")
        let payload = try JSONValue.parse(Array((payloads.string(0, 0) ?? "").utf8))
        XCTAssertEqual(payload["type"], "LEDGER_CHECKPOINT")
        XCTAssertEqual(payload["data"]?["tree_size"], .int(Int64(first.treeSize)))
        XCTAssertEqual(payload["data"]?["checkpoint"]?.stringValue, first.note)
        XCTAssertEqual(try Checkpoint.open(try XCTUnwrap(payload["data"]?["checkpoint"]?.stringValue), key: signer.verifierKey, crypto: crypto).treeSize, 1)
        XCTAssertEqual(second.treeSize, 2)
        XCTAssertEqual(try get("/v1/webhook_deliveries?event_type=LEDGER_CHECKPOINT", key: globex.adminKey)["data"]?.arrayValue?.count, 0)
    }

    // MARK: ledger serve

    /// The background step runs inside `ledger serve`: a verification created over HTTP is in a signed checkpoint
    /// within seconds, and its proof verifies with the key the server publishes.
    func testServeAppendsAndSignsInTheBackground() throws {
        let port = try freeLoopbackPort()
        var environment = ProcessInfo.processInfo.environment
        environment["DATABASE_URL"] = database.conninfo
        environment["LEDGER_LISTEN"] = "127.0.0.1:\(port)"
        environment["LEDGER_CHECKPOINT_SECONDS"] = "1"
        environment["LEDGER_CHECKPOINT_KEY"] = signer.key.text
        environment["LEDGER_WEBHOOK_DISPATCH"] = "0"
        environment["LEDGER_KEK"] = TestKeyEncryptionKey.base64
        let serve = try ChildProcess.Running(try ledgerExecutable(), ["serve"], workingDirectory: ServeCommandTests.projectDirectory.path,
                                             environment: environment)
        stopWhenTheTestEnds(serve)
        let served = TestClient(baseURL: "http://127.0.0.1:\(port)")
        XCTAssertTrue(eventually(timeout: 60, interval: 0.1) { serve.poll() == nil && (try? served.get("/readyz").status) == 200 }, serve.outputSoFar)
        let created = try served.post("/v1/verifications", json: ["entity_id": "cus_serve", "checks": ["email"]], headers: .bearer(acme.writeKey))
        XCTAssertEqual(created.status, 201, created.text)
        XCTAssertTrue(eventually(timeout: 20, interval: 0.1) {
            (try? served.get("/v1/checkpoints/latest", headers: .bearer(acme.readKey)).json?["tree_size"]?.intValue) == 1
        }, serve.outputSoFar)
        XCTAssertEqual(try served.get("/v1/checkpoints/public_key").json?["key"]?.stringValue, signer.verifierKey.text)
        let eventID = try XCTUnwrap(try served.get("/v1/events", headers: .bearer(acme.readKey)).json?["data"]?.arrayValue?.first?["id"]?.stringValue)
        let proof = try ProofDocument(json: try XCTUnwrap(try served.get("/v1/events/\(eventID)/proof", headers: .bearer(acme.readKey)).json))
        XCTAssertNoThrow(try proof.verify(key: signer.verifierKey, crypto: crypto))
    }
}
