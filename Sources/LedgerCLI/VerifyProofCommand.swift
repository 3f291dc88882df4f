import Foundation
import LedgerCrypto
import LedgerDomain

/// `ledger verify-proof PROOF.json --public-key KEY`: checks a proof with nothing but the log's public key.
enum VerifyProofCommand {
    static let help = """
        ledger verify-proof: verify a proof offline, with no database.

        Usage: ledger verify-proof PROOF.json --public-key KEY

        KEY is the log's verifier key, `<name>+<key id>+<base64 key>`, or a file holding it.
        PROOF.json holds leaf_index, tree_size, leaf_hash, inclusion_path and checkpoint (a signed note);
        optionally event_position and event_hash (the leaf is then recomputed from the event), and
        second_checkpoint with consistency_path (the two checkpoints are then proven consistent).
        Checks the checkpoint signatures, the leaf, its inclusion and the consistency, as the README describes.

        Exit status: 0 when everything verifies, 1 when something does not (the message names it),
        2 for a usage error.
        """

    /// The largest proof file read: a proof is a few kilobytes, even for a log of billions of events.
    static let maximumProofBytes = 1 << 20

    static func run(_ arguments: [String]) throws -> Int32 {
        let options = try Options(arguments, known: ["public-key"])
        guard options.positional.count == 1, let proofPath = options.positional.first else {
            throw UsageError(message: "needs one PROOF.json\n\n\(help)")
        }
        guard let keyArgument = options.string("public-key") else { throw UsageError(message: "needs --public-key KEY") }
        let crypto = LibcryptoAudit()
        do {
            let key = try verifierKey(keyArgument, crypto: crypto)
            let document = try proofDocument(at: proofPath)
            let verification = try document.verify(key: key, crypto: crypto)
            for check in verification.checks { print("ok \(check)") }
            print("valid")
            return 0
        } catch let failure as VerifyProofFailure {
            FileHandle.standardError.write(Data("invalid: \(failure.message)\n".utf8))
            return 1
        } catch let failure as ProofVerificationFailure {
            FileHandle.standardError.write(Data("invalid: \(failure)\n".utf8))
            return 1
        }
    }

    private static func verifierKey(_ argument: String, crypto: LibcryptoAudit) throws -> NoteVerifierKey {
        if let key = try? NoteVerifierKey(parsing: argument, crypto: crypto) { return key }
        guard let contents = FileManager.default.contents(atPath: argument) else {
            throw VerifyProofFailure(message: "--public-key is neither a verifier key nor a readable file")
        }
        let text = String(decoding: contents.prefix(4096), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        do {
            return try NoteVerifierKey(parsing: text, crypto: crypto)
        } catch {
            throw VerifyProofFailure(message: "public key file \(argument): \(error)")
        }
    }

    private static func proofDocument(at path: String) throws -> ProofDocument {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw VerifyProofFailure(message: "cannot read \(path)") }
        defer { try? handle.close() }
        let contents = (try? handle.read(upToCount: maximumProofBytes + 1)) ?? Data()
        guard contents.count <= maximumProofBytes else { throw VerifyProofFailure(message: "\(path) is larger than 1 MiB") }
        do {
            return try ProofDocument(json: try JSONValue.parse(Array(contents)))
        } catch let error as JSONParseError {
            throw VerifyProofFailure(message: "\(path) is not JSON: \(error)")
        } catch {
            throw VerifyProofFailure(message: "\(path): \(error)")
        }
    }
}

struct VerifyProofFailure: Error {
    let message: String
}
