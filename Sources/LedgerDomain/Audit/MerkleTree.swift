/// RFC 9162 §2.1.1 hashing: leaves and interior nodes are domain-separated so that a node can never be passed
/// off as a leaf (or the other way round).
public struct MerkleHasher: Sendable {
    public static let hashSize = 32
    private let sha256: @Sendable ([UInt8]) -> [UInt8]

    public init(sha256: @escaping @Sendable ([UInt8]) -> [UInt8]) { self.sha256 = sha256 }

    /// SHA-256(0x00 ‖ leaf bytes).
    public func leafHash(_ leafBytes: [UInt8]) -> [UInt8] { sha256([0x00] + leafBytes) }

    /// SHA-256(0x01 ‖ left ‖ right).
    public func nodeHash(_ left: [UInt8], _ right: [UInt8]) -> [UInt8] { sha256([0x01] + left + right) }

    /// The root of the empty tree: SHA-256 of no bytes.
    public var emptyTreeHash: [UInt8] { sha256([]) }
}

/// A perfect subtree: the 2^level leaves from leaf `index << level` on. Level 0 is a single leaf.
///
/// These are the only hashes a store keeps: once its last leaf is appended a perfect subtree never changes,
/// and every tree head and proof of RFC 9162 is a combination of O(log n) of them.
public struct MerkleSubtree: Hashable, Sendable, CustomStringConvertible {
    public let level: Int
    public let index: UInt64

    public init(level: Int, index: UInt64) {
        self.level = level
        self.index = index
    }

    public var description: String { "subtree at level \(level), index \(index)" }
}

/// Where the hashes of perfect subtrees are kept: in memory now, a table later.
///
/// Proof generation first works out every subtree it needs and then asks for all of them in one call, so a
/// table-backed store answers a proof with one query.
public protocol MerkleHashStore {
    /// How many leaves the store holds.
    func leafCount() throws -> UInt64
    /// The hash of each given subtree; a subtree the store does not hold is left out.
    func hashes(of subtrees: Set<MerkleSubtree>) throws -> [MerkleSubtree: [UInt8]]
}

public enum MerkleTreeError: Error, Equatable, Sendable, CustomStringConvertible {
    case treeSizeBeyondLog(treeSize: UInt64, leafCount: UInt64)
    case leafIndexOutOfRange(leafIndex: UInt64, treeSize: UInt64)
    case treeSizesOutOfOrder(from: UInt64, to: UInt64)
    case missingSubtree(MerkleSubtree)

    public var description: String {
        switch self {
        case let .treeSizeBeyondLog(treeSize, leafCount):
            return "tree size \(treeSize) is beyond the \(leafCount) leaves of the log"
        case let .leafIndexOutOfRange(leafIndex, treeSize):
            return "leaf index \(leafIndex) is not in a tree of size \(treeSize)"
        case let .treeSizesOutOfOrder(from, to):
            return "a consistency proof goes from a smaller tree to a larger one, not from \(from) to \(to)"
        case let .missingSubtree(subtree):
            return "the store has no hash for the \(subtree)"
        }
    }
}

/// Tree heads, inclusion proofs and consistency proofs of RFC 9162 §2.1, over a store of subtree hashes.
public struct MerkleTree<Store: MerkleHashStore> {
    public let hasher: MerkleHasher
    public let store: Store

    public init(hasher: MerkleHasher, store: Store) {
        self.hasher = hasher
        self.store = store
    }

    /// MTH(D[0:n]), the root hash of the first `treeSize` leaves.
    public func rootHash(treeSize: UInt64) throws -> [UInt8] {
        try checkWithinLog(treeSize)
        guard treeSize > 0 else { return hasher.emptyTreeHash }
        return try evaluate([MerkleRange(start: 0, end: treeSize)])[0]
    }

    /// PATH(m, D[0:n]) of RFC 9162 §2.1.3.1: the sibling hashes from the leaf up to the root.
    public func inclusionProof(leafIndex: UInt64, treeSize: UInt64) throws -> [[UInt8]] {
        try evaluate(try inclusionRanges(leafIndex: leafIndex, treeSize: treeSize))
    }

    /// The leaf's hash as the store holds it and its PATH(m, D[0:n]), from the one batch of subtree hashes.
    public func leafAndInclusionProof(leafIndex: UInt64, treeSize: UInt64) throws -> (leafHash: [UInt8], path: [[UInt8]]) {
        let path = try inclusionRanges(leafIndex: leafIndex, treeSize: treeSize)
        let hashes = try evaluate([MerkleRange(start: leafIndex, end: leafIndex + 1)] + path)
        return (hashes[0], Array(hashes.dropFirst()))
    }

    private func inclusionRanges(leafIndex: UInt64, treeSize: UInt64) throws -> [MerkleRange] {
        try checkWithinLog(treeSize)
        guard leafIndex < treeSize else { throw MerkleTreeError.leafIndexOutOfRange(leafIndex: leafIndex, treeSize: treeSize) }
        return Self.inclusionRanges(leafIndex, in: MerkleRange(start: 0, end: treeSize))
    }

    /// PROOF(m, D[0:n]) of RFC 9162 §2.1.4.1. Empty when the sizes are equal or the first tree is empty:
    /// there is nothing to prove then.
    public func consistencyProof(from firstSize: UInt64, to secondSize: UInt64) throws -> [[UInt8]] {
        try evaluate(try consistencyRanges(from: firstSize, to: secondSize))
    }

    /// MTH(D[0:m]) and PROOF(m, D[0:n]), from the one batch of subtree hashes: what a consistency proof
    /// needs when the first tree's checkpoint is yet to be signed.
    public func rootAndConsistencyProof(from firstSize: UInt64, to secondSize: UInt64) throws -> (firstRoot: [UInt8], path: [[UInt8]]) {
        let path = try consistencyRanges(from: firstSize, to: secondSize)
        guard firstSize > 0 else { return (hasher.emptyTreeHash, []) }
        let hashes = try evaluate([MerkleRange(start: 0, end: firstSize)] + path)
        return (hashes[0], Array(hashes.dropFirst()))
    }

    private func consistencyRanges(from firstSize: UInt64, to secondSize: UInt64) throws -> [MerkleRange] {
        guard firstSize <= secondSize else { throw MerkleTreeError.treeSizesOutOfOrder(from: firstSize, to: secondSize) }
        try checkWithinLog(secondSize)
        guard firstSize > 0, firstSize < secondSize else { return [] }
        return Self.consistencyRanges(firstSize, in: MerkleRange(start: 0, end: secondSize), startsAtRoot: true)
    }

    private func checkWithinLog(_ treeSize: UInt64) throws {
        let leafCount = try store.leafCount()
        guard treeSize <= leafCount else { throw MerkleTreeError.treeSizeBeyondLog(treeSize: treeSize, leafCount: leafCount) }
    }

    // MARK: The recursive definitions, written over leaf ranges

    /// PATH(m, D[start:end]) with m relative to `start`.
    static func inclusionRanges(_ m: UInt64, in range: MerkleRange) -> [MerkleRange] {
        guard range.count > 1 else { return [] }
        let (left, right) = range.split()
        if m < left.count {
            return inclusionRanges(m, in: left) + [right]
        }
        return inclusionRanges(m - left.count, in: right) + [left]
    }

    /// SUBPROOF(m, D[start:end], b) with m relative to `start`.
    static func consistencyRanges(_ m: UInt64, in range: MerkleRange, startsAtRoot: Bool) -> [MerkleRange] {
        if m == range.count { return startsAtRoot ? [] : [range] }
        let (left, right) = range.split()
        if m <= left.count {
            return consistencyRanges(m, in: left, startsAtRoot: startsAtRoot) + [right]
        }
        return consistencyRanges(m - left.count, in: right, startsAtRoot: false) + [left]
    }

    /// MTH of each range, from one batch of subtree hashes.
    private func evaluate(_ ranges: [MerkleRange]) throws -> [[UInt8]] {
        guard !ranges.isEmpty else { return [] }
        var needed = Set<MerkleSubtree>()
        for range in ranges { range.collectSubtrees(into: &needed) }
        let known = try store.hashes(of: needed)
        return try ranges.map { try $0.hash(known, hasher) }
    }
}

/// The leaves [start, end) of a tree, as the RFC's recursion splits them: at the largest power of two below
/// the count. A range that is a perfect subtree is read from the store whole.
struct MerkleRange: Equatable {
    let start: UInt64
    let end: UInt64

    var count: UInt64 { end - start }

    /// D[start:start+k] and D[start+k:end] for the largest power of two k < count (count ≥ 2).
    func split() -> (MerkleRange, MerkleRange) {
        let k = UInt64(1) << (63 - (count - 1).leadingZeroBitCount)
        return (MerkleRange(start: start, end: start + k), MerkleRange(start: start + k, end: end))
    }

    var perfectSubtree: MerkleSubtree? {
        guard count > 0, count & (count - 1) == 0, start % count == 0 else { return nil }
        let level = count.trailingZeroBitCount
        return MerkleSubtree(level: level, index: start >> level)
    }

    func collectSubtrees(into subtrees: inout Set<MerkleSubtree>) {
        if let subtree = perfectSubtree {
            subtrees.insert(subtree)
        } else {
            let (left, right) = split()
            left.collectSubtrees(into: &subtrees)
            right.collectSubtrees(into: &subtrees)
        }
    }

    func hash(_ known: [MerkleSubtree: [UInt8]], _ hasher: MerkleHasher) throws -> [UInt8] {
        if let subtree = perfectSubtree {
            guard let hash = known[subtree] else { throw MerkleTreeError.missingSubtree(subtree) }
            return hash
        }
        let (left, right) = split()
        return hasher.nodeHash(try left.hash(known, hasher), try right.hash(known, hasher))
    }
}

/// A store in memory that keeps every perfect subtree, filled as leaves are appended: what a table of subtree
/// hashes will hold, one row per (level, index).
public struct InMemoryMerkleTree: MerkleHashStore, Sendable {
    public let hasher: MerkleHasher
    /// levels[l][i] is the hash of MerkleSubtree(level: l, index: i).
    private var levels: [[[UInt8]]] = [[]]

    public init(hasher: MerkleHasher) { self.hasher = hasher }

    public init(hasher: MerkleHasher, leafHashes: [[UInt8]]) {
        self.init(hasher: hasher)
        for leafHash in leafHashes { append(leafHash: leafHash) }
    }

    public var size: UInt64 { UInt64(levels[0].count) }

    /// Appends a leaf and every subtree it completes.
    public mutating func append(leafHash: [UInt8]) {
        levels[0].append(leafHash)
        var level = 0
        while levels[level].count % 2 == 0 {
            let count = levels[level].count
            let parent = hasher.nodeHash(levels[level][count - 2], levels[level][count - 1])
            if levels.count == level + 1 { levels.append([]) }
            levels[level + 1].append(parent)
            level += 1
        }
    }

    public func leafCount() -> UInt64 { size }

    public func hashes(of subtrees: Set<MerkleSubtree>) -> [MerkleSubtree: [UInt8]] {
        var found: [MerkleSubtree: [UInt8]] = [:]
        for subtree in subtrees where subtree.level >= 0 && subtree.level < levels.count {
            guard let index = Int(exactly: subtree.index), index < levels[subtree.level].count else { continue }
            found[subtree] = levels[subtree.level][index]
        }
        return found
    }
}
