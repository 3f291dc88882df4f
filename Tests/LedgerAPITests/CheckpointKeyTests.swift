import Foundation
import LedgerCLI
import LedgerCrypto
import LedgerDomain
import XCTest

/// The checkpoint signer key of `ledger serve`: from the environment, from a file, or made once on the embedded
/// database and reused on every later start.
final class CheckpointKeyTests: XCTestCase {
    func temporaryDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("checkpoint-key-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
        return directory
    }

    func testTheEmbeddedSetupMakesAKeyOnceReadableByItsOwnerAndReusesIt() throws {
        let directory = try temporaryDirectory()
        let made = try XCTUnwrap(try CheckpointKey.load(environment: ["LEDGER_LOG_ORIGIN": "audit.example/log"], embeddedDirectory: directory))
        XCTAssertEqual(made.name, "audit.example/log")
        let path = directory.appendingPathComponent("checkpoint.key").path
        let permissions = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        XCTAssertEqual(permissions, 0o600)
        let again = try XCTUnwrap(try CheckpointKey.load(environment: [:], embeddedDirectory: directory))
        XCTAssertEqual(again.verifierKey, made.verifierKey, "the second start signs with the same key")
        XCTAssertNil(try CheckpointKey.load(environment: [:], embeddedDirectory: nil), "an external database without a key: none")
    }

    func testAKeyFromTheEnvironmentOrAFileAndRefusalsThatNeverShowTheKey() throws {
        let crypto = LibcryptoAudit()
        let key = try NoteSignerKey(name: "ops.example/log", seed: try XCTUnwrap(Ed25519.generateSeed()), crypto: crypto)
        XCTAssertEqual(try CheckpointKey.load(environment: ["LEDGER_CHECKPOINT_KEY": key.text], embeddedDirectory: nil)?.verifierKey, key.verifierKey)
        let file = try temporaryDirectory().appendingPathComponent("key")
        try Data((key.text + "\n").utf8).write(to: file)
        XCTAssertEqual(try CheckpointKey.load(environment: ["LEDGER_CHECKPOINT_KEY_FILE": file.path], embeddedDirectory: nil)?.verifierKey,
                       key.verifierKey)
        XCTAssertThrowsError(try CheckpointKey.load(environment: ["LEDGER_CHECKPOINT_KEY": key.text, "LEDGER_CHECKPOINT_KEY_FILE": file.path],
                                                    embeddedDirectory: nil))
        let broken = String(key.text.dropLast(3))
        XCTAssertThrowsError(try CheckpointKey.load(environment: ["LEDGER_CHECKPOINT_KEY": broken], embeddedDirectory: nil)) { error in
            XCTAssertFalse("\(error)".contains(broken.suffix(20)), "the message names the problem, never the key")
        }
        XCTAssertThrowsError(try CheckpointKey.load(environment: ["LEDGER_CHECKPOINT_KEY_FILE": "/nonexistent/key"], embeddedDirectory: nil))
    }
}
