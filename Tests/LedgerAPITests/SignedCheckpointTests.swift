import Foundation
import LedgerCLI
import LedgerCrypto
import LedgerDomain
import LedgerStorage
import XCTest

/// C2SP signed notes and checkpoints with Ed25519 from libcrypto, checked against the Go reference vector and
/// against Python's `cryptography`, an independent implementation.
final class SignedCheckpointTests: XCTestCase {
    let crypto = LibcryptoAudit()

    /// golang.org/x/mod/sumdb/note (BSD), the package's documented example: Ed25519 is deterministic, so
    /// signing this text with this key must give exactly this note.
    static let goSignerKey = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
    static let goVerifierKey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    static let goText = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
    static let goNote = goText + "\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"

    func newSigner(_ name: String = "ledger.example/log") throws -> NoteSignerKey {
        guard let seed = Ed25519.generateSeed() else { throw CocoaError(.featureUnsupported) }
        return try NoteSignerKey(name: name, seed: seed, crypto: crypto)
    }

    func testTheGoReferenceNoteIsReproducedByteForByteAndVerifies() throws {
        let signer = try NoteSignerKey(parsing: Self.goSignerKey, crypto: crypto)
        XCTAssertEqual(signer.verifierKey.text, Self.goVerifierKey)
        XCTAssertEqual(signer.text, Self.goSignerKey)
        XCTAssertFalse(signer.description.contains("PRIVATE"), "the description never shows the secret")
        XCTAssertEqual(try SignedNote.signing(Self.goText, with: signer, crypto: crypto).serialized, Self.goNote)

        let key = try NoteVerifierKey(parsing: Self.goVerifierKey, crypto: crypto)
        XCTAssertEqual(key.keyID, 0xc74f20a3, "SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key)[:4]")
        let note = try SignedNote(parsing: Self.goNote)
        XCTAssertEqual(note.text, Self.goText)
        XCTAssertNoThrow(try note.verify(by: key, crypto: crypto))
        XCTAssertEqual(note.serialized, Self.goNote)
        let altered = try SignedNote(parsing: Self.goNote.replacingOccurrences(of: "cryptography", with: "cryptographY"))
        XCTAssertThrowsError(try altered.verify(by: key, crypto: crypto)) {
            XCTAssertEqual($0 as? SignedNoteError, .invalidSignature(Self.goVerifierKey))
        }
    }

    func testKeyTextsAreParsedStrictly() throws {
        let good = Self.goVerifierKey
        for bad in ["", "PeterNeumann", "PeterNeumann+c74f20a3", "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
                    "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
                    "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", good + "=", good + "AA==",
                    "PeterNeumann+c74f20a3+Ahpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", String(good.dropLast(4))] {
            XCTAssertThrowsError(try NoteVerifierKey(parsing: bad, crypto: crypto), bad)
        }
        // Every single-byte change of a good key is refused rather than read as another key.
        let bytes = Array(good.utf8)
        for index in bytes.indices {
            var changed = bytes
            changed[index] = changed[index] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
            XCTAssertThrowsError(try NoteVerifierKey(parsing: String(decoding: changed, as: UTF8.self), crypto: crypto), "byte \(index)")
        }
        XCTAssertThrowsError(try NoteSignerKey(parsing: Self.goVerifierKey, crypto: crypto))
        XCTAssertThrowsError(try NoteSignerKey(parsing: Self.goSignerKey.replacingOccurrences(of: "c74f20a3", with: "c74f20a4"), crypto: crypto))
        XCTAssertThrowsError(try NoteSignerKey(name: "a+b", seed: [UInt8](repeating: 1, count: 32), crypto: crypto))
        XCTAssertThrowsError(try NoteSignerKey(name: "ok", seed: [UInt8](repeating: 1, count: 31), crypto: crypto))
    }

    func testMalformedNotesAreRefusedNeverTrapping() throws {
        let signature = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
        let cases = [
            "", "\n", "\n\n", "text\n", "text\n\n", "text\n\n\n", "text\n" + signature, "text\n\n" + signature.dropLast(),
            "text\n\n- PeterNeumann x08go/ZJku\n", "text\n\n—PeterNeumann AAAAAAA=\n", "text\n\n— Peter+Neumann AAAAAAA=\n",
            "text\n\n— PeterNeumann  AAAAAAA=\n", "text\n\n— PeterNeumann AAAA\n", "text\n\n— PeterNeumann AAAAAAA\n",
            "text\n\n— PeterNeumann AAAAAAB=\n", "text\n\n— PeterNeumann AAAAAAA= extra\n", "te\u{7}xt\n\n" + signature,
            "text\r\n\n" + signature, "text\n\n" + signature + "\n", "text\n\n" + signature + "trailing",
            "text\n\n" + String(repeating: signature, count: SignedNote.maximumSignatures + 1),
        ]
        for note in cases {
            XCTAssertThrowsError(try SignedNote(parsing: note), note.debugDescription) { error in
                guard case .malformedNote = error as? SignedNoteError else { return XCTFail("\(error)") }
            }
        }
        XCTAssertEqual(try SignedNote(parsing: "text\n\n" + String(repeating: signature, count: 16)).signatures.count, 16)
        // The text may hold blank lines of its own: the last blank line separates it from the signatures.
        XCTAssertEqual(try SignedNote(parsing: "a\n\nb\n\n" + signature).text, "a\n\nb\n")
    }

    func testEveryTruncationAndEveryChangedByteOfASignedCheckpointFailsToVerify() throws {
        let signer = try newSigner()
        let checkpoint = try Checkpoint(origin: signer.name, treeSize: 1234, rootHash: Digest.sha256("root"))
        let note = try checkpoint.signed(by: signer, crypto: crypto).serialized
        XCTAssertEqual(try Checkpoint.open(note, key: signer.verifierKey, crypto: crypto), checkpoint)
        let bytes = Array(note.utf8)
        for length in 0..<bytes.count {
            XCTAssertThrowsError(try Checkpoint.open(String(decoding: bytes[..<length], as: UTF8.self), key: signer.verifierKey, crypto: crypto), "\(length) bytes")
        }
        for index in bytes.indices {
            var changed = bytes
            changed[index] ^= 0x01
            // Some changes break the UTF-8 or the format, the others the signature: none verifies.
            XCTAssertThrowsError(try Checkpoint.open(String(decoding: changed, as: UTF8.self), key: signer.verifierKey, crypto: crypto), "byte \(index)")
        }
    }

    func testSignaturesByOtherKeysAreIgnoredAndOneByTheKeyIsRequired() throws {
        let log = try newSigner()
        let witness = try newSigner("witness.example")
        let impostor = try newSigner()  // the log's name, another key: another key ID
        let text = try Checkpoint(origin: log.name, treeSize: 7, rootHash: Digest.sha256("r")).text
        let byLog = try SignedNote.signing(text, with: log, crypto: crypto).signatures
        let byWitness = try SignedNote.signing(text, with: witness, crypto: crypto).signatures
        let byImpostor = try SignedNote.signing(text, with: impostor, crypto: crypto).signatures

        let cosigned = SignedNote(text: text, signatures: byWitness + byImpostor + byLog).serialized
        XCTAssertEqual(try Checkpoint.open(cosigned, key: log.verifierKey, crypto: crypto).treeSize, 7)
        XCTAssertThrowsError(try Checkpoint.open(SignedNote(text: text, signatures: byWitness + byImpostor).serialized, key: log.verifierKey, crypto: crypto)) {
            XCTAssertEqual($0 as? CheckpointOpeningError, .note(.notSignedByKey(log.verifierKey.text)))
        }
        // A signature by the log's key that does not verify spoils the note even beside a good one.
        var forged = byLog[0]
        forged.signature[0] ^= 0xFF
        XCTAssertThrowsError(try Checkpoint.open(SignedNote(text: text, signatures: byLog + [forged]).serialized, key: log.verifierKey, crypto: crypto)) {
            XCTAssertEqual($0 as? CheckpointOpeningError, .note(.invalidSignature(log.verifierKey.text)))
        }
        // A signature line naming the key in another Unicode normalisation is not by that key, though Swift's ==
        // equates the two spellings.
        let composed = try newSigner("caf\u{E9}.example")
        var renamed = try SignedNote.signing(text, with: composed, crypto: crypto)
        XCTAssertNoThrow(try renamed.verify(by: composed.verifierKey, crypto: crypto))
        renamed.signatures[0].keyName = "cafe\u{301}.example"
        XCTAssertEqual(renamed.signatures[0].keyName, composed.name)
        let reparsed = try SignedNote(parsing: renamed.serialized)
        XCTAssertThrowsError(try reparsed.verify(by: composed.verifierKey, crypto: crypto)) {
            XCTAssertEqual($0 as? SignedNoteError, .notSignedByKey(composed.verifierKey.text))
        }

        // The witness did sign it, but it is not the log: its checkpoints' origin is not its name.
        XCTAssertThrowsError(try Checkpoint.open(cosigned, key: witness.verifierKey, crypto: crypto)) {
            XCTAssertEqual($0 as? CheckpointOpeningError, .otherOrigin(origin: log.name, keyName: witness.name))
        }
    }

    func testCheckpointTextsAreParsedStrictly() throws {
        let root = Digest.sha256("root")
        let rootText = Data(root).base64EncodedString()
        let checkpoint = try Checkpoint(origin: "ledger.example/log", treeSize: 20852163, rootHash: root, extensionLines: ["ext one"])
        XCTAssertEqual(checkpoint.text, "ledger.example/log\n20852163\n\(rootText)\next one\n")
        XCTAssertEqual(try Checkpoint(parsing: checkpoint.text), checkpoint)
        XCTAssertEqual(try Checkpoint(parsing: "o\n0\n\(rootText)\n").treeSize, 0)
        XCTAssertEqual(try Checkpoint(parsing: "o\n18446744073709551615\n\(rootText)\n").treeSize, UInt64.max)
        for bad in ["", "o\n1\n\(rootText)", "o\n1\n", "\n1\n\(rootText)\n", "o\n01\n\(rootText)\n", "o\n+1\n\(rootText)\n",
                    "o\n-1\n\(rootText)\n", "o\n1 \n\(rootText)\n", "o\n18446744073709551616\n\(rootText)\n", "o\n\n\(rootText)\n",
                    "o\n1\n\(rootText.dropLast())\n", "o\n1\n\(Data(root.prefix(31)).base64EncodedString())\n", "o\n1\n\(rootText)\n\n",
                    "o\n1\n\(rootText)\next\n\n", "o\r\n1\n\(rootText)\n", "o\n1\n\(rootText)\r\n", "o\n1\n\(rootText)\ne\u{1}xt\n"] {
            XCTAssertThrowsError(try Checkpoint(parsing: bad), bad.debugDescription)
        }
    }

    // MARK: Python's cryptography, an independent implementation

    /// Parses the note and the verifier key and checks the key ID and the Ed25519 signature, in Python.
    static let pythonVerifier = """
        import base64, hashlib, sys
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
        note, vkey = open(sys.argv[1], encoding="utf-8").read(), sys.argv[2]
        name, key_id, key64 = vkey.split("+", 2)
        key = base64.b64decode(key64, validate=True)
        assert key[0] == 1 and len(key) == 33
        assert hashlib.sha256(name.encode() + b"\\n\\x01" + key[1:]).digest()[:4].hex() == key_id
        text, signatures = note.rsplit("\\n\\n", 1)
        text += "\\n"
        for line in signatures.splitlines():
            dash, signer, blob64 = line.split(" ")
            blob = base64.b64decode(blob64, validate=True)
            if dash == "\\u2014" and signer == name and blob[:4].hex() == key_id:
                try:
                    Ed25519PublicKey.from_public_bytes(key[1:]).verify(blob[4:], text.encode())
                    print("valid")
                except InvalidSignature:
                    print("invalid")
                sys.exit(0)
        print("unsigned")
        """

    /// Generates a key, writes its verifier key and a checkpoint note signed by it, in Python.
    static let pythonSigner = """
        import base64, hashlib, sys
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        name, text = sys.argv[1], open(sys.argv[2], encoding="utf-8").read()
        private = Ed25519PrivateKey.generate()
        public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        key_id = hashlib.sha256(name.encode() + b"\\n\\x01" + public).digest()[:4]
        signature = private.sign(text.encode())
        print(name + "+" + key_id.hex() + "+" + base64.b64encode(b"\\x01" + public).decode())
        sys.stdout.write(text + "\\n\\u2014 " + name + " " + base64.b64encode(key_id + signature).decode() + "\\n")
        """

    func temporaryFile(_ contents: String) throws -> URL {
        let url = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("note-\(UUID().uuidString)")
        try Data(contents.utf8).write(to: url)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    func testPythonCryptographyVerifiesOurSignedCheckpoints() throws {
        let signer = try newSigner()
        let checkpoint = try Checkpoint(origin: signer.name, treeSize: 42, rootHash: Digest.sha256("root of 42"), extensionLines: ["naïve ✓"])
        let note = try checkpoint.signed(by: signer, crypto: crypto).serialized
        let verified = try ChildProcess.run("python3", ["-c", Self.pythonVerifier, try temporaryFile(note).path, signer.verifierKey.text])
        XCTAssertEqual(verified.output, "valid\n")

        let altered = note.replacingOccurrences(of: "\n42\n", with: "\n43\n")
        let refused = try ChildProcess.run("python3", ["-c", Self.pythonVerifier, try temporaryFile(altered).path, signer.verifierKey.text])
        XCTAssertEqual(refused.output, "invalid\n")
    }

    func testWeVerifyCheckpointsSignedByPythonCryptography() throws {
        let text = try Checkpoint(origin: "python.example/log", treeSize: 9, rootHash: Digest.sha256("root of 9")).text
        let signed = try ChildProcess.run("python3", ["-c", Self.pythonSigner, "python.example/log", try temporaryFile(text).path])
        XCTAssertEqual(signed.status, 0, signed.output)
        guard let newline = signed.output.firstIndex(of: "\n") else { return XCTFail(signed.output) }
        let key = try NoteVerifierKey(parsing: String(signed.output[..<newline]), crypto: crypto)
        let note = String(signed.output[signed.output.index(after: newline)...])
        let checkpoint = try Checkpoint.open(note, key: key, crypto: crypto)
        XCTAssertEqual(checkpoint.treeSize, 9)
        XCTAssertEqual(checkpoint.rootHash, Digest.sha256("root of 9"))
        XCTAssertThrowsError(try Checkpoint.open(note.replacingOccurrences(of: "\n9\n", with: "\n8\n"), key: key, crypto: crypto)) {
            XCTAssertEqual($0 as? CheckpointOpeningError, .note(.invalidSignature(key.text)))
        }
    }

    func testEd25519RefusesMalformedInputWithoutTrapping() throws {
        XCTAssertNil(Ed25519.publicKey(seed: []))
        XCTAssertNil(Ed25519.sign([1, 2, 3], seed: [UInt8](repeating: 0, count: 33)))
        guard let seed = Ed25519.generateSeed(), let publicKey = Ed25519.publicKey(seed: seed),
              let signature = Ed25519.sign([], seed: seed) else { return XCTFail("libcrypto refused a fresh key") }
        XCTAssertTrue(Ed25519.verify(signature: signature, message: [], publicKey: publicKey))
        XCTAssertFalse(Ed25519.verify(signature: signature, message: [0], publicKey: publicKey))
        XCTAssertFalse(Ed25519.verify(signature: Array(signature.prefix(63)), message: [], publicKey: publicKey))
        XCTAssertFalse(Ed25519.verify(signature: signature, message: [], publicKey: Array(publicKey.prefix(31))))
        XCTAssertNotEqual(Ed25519.generateSeed(), seed)
    }
}
