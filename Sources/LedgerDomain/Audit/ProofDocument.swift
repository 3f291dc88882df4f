import Foundation

/// The proof an auditor verifies offline (`ledger verify-proof PROOF.json`), one JSON object:
///
/// ```
/// {
///   "leaf_index": 5,                       leaf's index in the tree (0-based, feed order)
///   "tree_size": 8,                        the size of `checkpoint`'s tree
///   "leaf_hash": "<base64>",               SHA-256(0x00 ‖ leaf bytes)
///   "inclusion_path": ["<base64>", …],     RFC 9162 inclusion proof, leaf level first
///   "checkpoint": "<signed note>",         C2SP checkpoint of `tree_size`, signed by the log
///   "event_position": 42,                  optional, with event_hash: the event the leaf stands for,
///   "event_hash": "<hex>",                 whose leaf hash is then recomputed and compared
///   "second_checkpoint": "<signed note>",  optional, with consistency_path: another checkpoint of the log,
///   "consistency_path": ["<base64>", …]    and the RFC 9162 consistency proof from the smaller tree to the larger
/// }
/// ```
///
/// Members not listed are refused, so that a misspelt optional member cannot silently skip a check.
public struct ProofDocument: Equatable, Sendable {
    public struct EventLeaf: Equatable, Sendable {
        public var position: Int64
        public var chainHash: [UInt8]

        public init(position: Int64, chainHash: [UInt8]) {
            self.position = position
            self.chainHash = chainHash
        }
    }

    public struct Consistency: Equatable, Sendable {
        public var checkpoint: String
        public var path: [[UInt8]]

        public init(checkpoint: String, path: [[UInt8]]) {
            self.checkpoint = checkpoint
            self.path = path
        }
    }

    public var leafIndex: UInt64
    public var treeSize: UInt64
    public var leafHash: [UInt8]
    public var inclusionPath: [[UInt8]]
    public var checkpoint: String
    public var event: EventLeaf?
    public var consistency: Consistency?

    public init(leafIndex: UInt64, treeSize: UInt64, leafHash: [UInt8], inclusionPath: [[UInt8]], checkpoint: String,
                event: EventLeaf? = nil, consistency: Consistency? = nil) {
        self.leafIndex = leafIndex
        self.treeSize = treeSize
        self.leafHash = leafHash
        self.inclusionPath = inclusionPath
        self.checkpoint = checkpoint
        self.event = event
        self.consistency = consistency
    }

    static let members: Set<String> = [
        "leaf_index", "tree_size", "leaf_hash", "inclusion_path", "checkpoint",
        "event_position", "event_hash", "second_checkpoint", "consistency_path",
    ]

    public var json: JSONValue {
        var members: [(String, JSONValue)] = [
            ("leaf_index", .int(Int64(clamping: leafIndex))),
            ("tree_size", .int(Int64(clamping: treeSize))),
            ("leaf_hash", .string(NoteEncoding.base64(leafHash))),
            ("inclusion_path", .array(inclusionPath.map { .string(NoteEncoding.base64($0)) })),
            ("checkpoint", .string(checkpoint)),
        ]
        if let event {
            members.append(("event_position", .int(event.position)))
            members.append(("event_hash", .string(Self.hex(event.chainHash))))
        }
        if let consistency {
            members.append(("second_checkpoint", .string(consistency.checkpoint)))
            members.append(("consistency_path", .array(consistency.path.map { .string(NoteEncoding.base64($0)) })))
        }
        return .object(members)
    }

    public init(json: JSONValue) throws(ProofDocumentError) {
        guard let members = json.objectValue else { throw .malformed("the proof is not a JSON object") }
        if let unknown = members.first(where: { !Self.members.contains($0.0) }) { throw .malformed("unknown member \(unknown.0)") }
        var seen = Set<String>()
        for (name, _) in members where !seen.insert(name).inserted { throw .malformed("member \(name) appears twice") }
        leafIndex = try Self.count(json, "leaf_index")
        treeSize = try Self.count(json, "tree_size")
        leafHash = try Self.base64(json["leaf_hash"], "leaf_hash")
        inclusionPath = try Self.hashes(json, "inclusion_path")
        checkpoint = try Self.string(json, "checkpoint")

        switch (json["event_position"], json["event_hash"]) {
        case (nil, nil):
            event = nil
        case let (position?, hash?):
            guard let position = position.intValue, position >= 0 else { throw .malformed("event_position is not a whole number ≥ 0") }
            guard let text = hash.stringValue, let chainHash = [UInt8](hexDigits: text) else { throw .malformed("event_hash is not hexadecimal") }
            event = EventLeaf(position: position, chainHash: chainHash)
        default:
            throw .malformed("event_position and event_hash come together")
        }

        switch (json["second_checkpoint"], json["consistency_path"]) {
        case (nil, nil):
            consistency = nil
        case (_?, _?):
            consistency = Consistency(checkpoint: try Self.string(json, "second_checkpoint"), path: try Self.hashes(json, "consistency_path"))
        default:
            throw .malformed("second_checkpoint and consistency_path come together")
        }
    }

    private static func count(_ json: JSONValue, _ name: String) throws(ProofDocumentError) -> UInt64 {
        guard let member = json[name] else { throw .malformed("\(name) is missing") }
        guard case let .int(value) = member, value >= 0 else { throw .malformed("\(name) is not a whole number ≥ 0") }
        return UInt64(value)
    }

    private static func string(_ json: JSONValue, _ name: String) throws(ProofDocumentError) -> String {
        guard let member = json[name] else { throw .malformed("\(name) is missing") }
        guard let text = member.stringValue else { throw .malformed("\(name) is not a string") }
        return text
    }

    private static func hashes(_ json: JSONValue, _ name: String) throws(ProofDocumentError) -> [[UInt8]] {
        guard let member = json[name] else { throw .malformed("\(name) is missing") }
        guard let items = member.arrayValue else { throw .malformed("\(name) is not an array") }
        var hashes: [[UInt8]] = []
        for (number, item) in items.enumerated() { hashes.append(try base64(item, "\(name)[\(number)]")) }
        return hashes
    }

    private static func base64(_ member: JSONValue?, _ name: String) throws(ProofDocumentError) -> [UInt8] {
        guard let member else { throw .malformed("\(name) is missing") }
        guard let text = member.stringValue, let bytes = NoteEncoding.strictBase64(text) else { throw .malformed("\(name) is not base64") }
        return bytes
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
}

extension [UInt8] {
    /// Lowercase or uppercase hexadecimal, two digits a byte.
    init?(hexDigits text: String) {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        for pair in stride(from: 0, to: digits.count, by: 2) {
            guard let high = Self.nibble(digits[pair]), let low = Self.nibble(digits[pair + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        self = bytes
    }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return digit - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

public enum ProofDocumentError: Error, Equatable, Sendable, CustomStringConvertible {
    case malformed(String)

    public var description: String {
        switch self {
        case let .malformed(reason): return "malformed proof: \(reason)"
        }
    }
}

/// What an offline verification established, one line each, in the order they were checked.
public struct ProofVerification: Equatable, Sendable {
    public var checks: [String]
}

/// Why a proof does not verify, naming the part that failed.
public struct ProofVerificationFailure: Error, Equatable, Sendable, CustomStringConvertible {
    public var part: String
    public var reason: String

    public var description: String { "\(part): \(reason)" }
}

extension ProofDocument {
    /// Verifies everything the document claims against the log's public key, with no other input: the
    /// checkpoint's signature, the leaf against the event (when given), the inclusion of the leaf in the
    /// checkpoint's tree, and the consistency of the two checkpoints (when a second one is given).
    public func verify(key: NoteVerifierKey, crypto: some AuditCryptography) throws(ProofVerificationFailure) -> ProofVerification {
        let verifier = MerkleVerifier(hasher: crypto.merkleHasher)
        var checks: [String] = []

        let head = try Self.openCheckpoint(checkpoint, part: "checkpoint", key: key, crypto: crypto)
        checks.append("checkpoint: signed by \(key.text), tree size \(head.treeSize)")
        guard head.treeSize == treeSize else {
            throw ProofVerificationFailure(part: "tree_size", reason: "\(treeSize) is not the checkpoint's tree size \(head.treeSize)")
        }

        if let event {
            guard let leafBytes = LedgerLeaf.bytes(position: event.position, chainHash: event.chainHash) else {
                throw ProofVerificationFailure(part: "event_hash", reason: "an event's chain hash has 32 bytes")
            }
            guard crypto.merkleHasher.leafHash(leafBytes) == leafHash else {
                throw ProofVerificationFailure(part: "leaf_hash", reason: "is not the leaf hash of the event at position \(event.position) with that hash")
            }
            checks.append("leaf: the event at position \(event.position) with hash \(Self.hex(event.chainHash))")
        }

        do {
            try verifier.verifyInclusion(leafIndex: leafIndex, treeSize: treeSize, leafHash: leafHash, path: inclusionPath, rootHash: head.rootHash)
        } catch {
            throw ProofVerificationFailure(part: "inclusion_path", reason: error.description)
        }
        checks.append("inclusion: leaf \(leafIndex) is in the tree of size \(treeSize)")

        if let consistency {
            let other = try Self.openCheckpoint(consistency.checkpoint, part: "second_checkpoint", key: key, crypto: crypto)
            checks.append("second checkpoint: signed by \(key.text), tree size \(other.treeSize)")
            let (first, second) = head.treeSize <= other.treeSize ? (head, other) : (other, head)
            do {
                try verifier.verifyConsistency(firstSize: first.treeSize, secondSize: second.treeSize, firstRoot: first.rootHash,
                                               secondRoot: second.rootHash, path: consistency.path)
            } catch {
                throw ProofVerificationFailure(part: "consistency_path", reason: error.description)
            }
            checks.append("consistency: the tree of size \(first.treeSize) is a prefix of the tree of size \(second.treeSize)")
        }
        return ProofVerification(checks: checks)
    }

    private static func openCheckpoint(_ note: String, part: String, key: NoteVerifierKey,
                                       crypto: some AuditCryptography) throws(ProofVerificationFailure) -> Checkpoint {
        do {
            return try Checkpoint.open(note, key: key, crypto: crypto)
        } catch {
            throw ProofVerificationFailure(part: part, reason: error.description)
        }
    }
}
