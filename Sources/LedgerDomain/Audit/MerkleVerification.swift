/// Why a proof does not verify.
public enum MerkleProofFailure: Error, Equatable, Sendable, CustomStringConvertible {
    case emptyTree
    case leafIndexOutOfRange(leafIndex: UInt64, treeSize: UInt64)
    case treeSizesOutOfOrder(from: UInt64, to: UInt64)
    case malformedHash(what: String, byteCount: Int)
    case wrongPathLength(expected: Int, actual: Int)
    case rootMismatch
    case firstRootMismatch
    case secondRootMismatch

    public var description: String {
        switch self {
        case .emptyTree: return "no leaf is included in an empty tree"
        case let .leafIndexOutOfRange(leafIndex, treeSize): return "leaf index \(leafIndex) is not in a tree of size \(treeSize)"
        case let .treeSizesOutOfOrder(from, to): return "tree size \(from) is larger than tree size \(to)"
        case let .malformedHash(what, byteCount): return "\(what) has \(byteCount) bytes, not \(MerkleHasher.hashSize)"
        case let .wrongPathLength(expected, actual): return "the path has \(actual) hashes; this proof needs \(expected)"
        case .rootMismatch: return "the path leads to another root hash"
        case .firstRootMismatch: return "the path does not lead to the first tree's root hash"
        case .secondRootMismatch: return "the path does not lead to the second tree's root hash"
        }
    }
}

/// The verification algorithms of RFC 9162 §2.1.3.2 and §2.1.4.2, step by step. They are deliberately not the
/// recursion that generates proofs (`MerkleTree`), so that each checks the other in the tests.
public struct MerkleVerifier: Sendable {
    public let hasher: MerkleHasher

    public init(hasher: MerkleHasher) { self.hasher = hasher }

    public func verifyInclusion(leafIndex: UInt64, treeSize: UInt64, leafHash: [UInt8], path: [[UInt8]],
                                rootHash: [UInt8]) throws(MerkleProofFailure) {
        guard treeSize > 0 else { throw .emptyTree }
        guard leafIndex < treeSize else { throw .leafIndexOutOfRange(leafIndex: leafIndex, treeSize: treeSize) }
        try Self.checkHash(leafHash, "the leaf hash")
        try Self.checkHash(rootHash, "the root hash")
        for (number, hash) in path.enumerated() { try Self.checkHash(hash, "inclusion path hash \(number)") }
        let expected = Self.inclusionPathLength(leafIndex: leafIndex, treeSize: treeSize)
        guard path.count == expected else { throw .wrongPathLength(expected: expected, actual: path.count) }

        var fn = leafIndex
        var sn = treeSize - 1
        var r = leafHash
        for p in path {
            guard sn != 0 else { throw .wrongPathLength(expected: expected, actual: path.count) }
            if fn & 1 == 1 || fn == sn {
                r = hasher.nodeHash(p, r)
                while fn & 1 == 0 && fn != 0 {
                    fn >>= 1
                    sn >>= 1
                }
            } else {
                r = hasher.nodeHash(r, p)
            }
            fn >>= 1
            sn >>= 1
        }
        guard sn == 0 else { throw .wrongPathLength(expected: expected, actual: path.count) }
        guard r == rootHash else { throw .rootMismatch }
    }

    /// A first tree of size 0 is consistent with every tree, and a tree with itself, and both need an empty path.
    public func verifyConsistency(firstSize: UInt64, secondSize: UInt64, firstRoot: [UInt8], secondRoot: [UInt8],
                                  path: [[UInt8]]) throws(MerkleProofFailure) {
        guard firstSize <= secondSize else { throw .treeSizesOutOfOrder(from: firstSize, to: secondSize) }
        try Self.checkHash(firstRoot, "the first root hash")
        try Self.checkHash(secondRoot, "the second root hash")
        for (number, hash) in path.enumerated() { try Self.checkHash(hash, "consistency path hash \(number)") }
        if firstSize == 0 || firstSize == secondSize {
            guard path.isEmpty else { throw .wrongPathLength(expected: 0, actual: path.count) }
            if firstSize == secondSize, firstRoot != secondRoot { throw .secondRootMismatch }
            return
        }
        let expected = Self.consistencyPathLength(firstSize: firstSize, secondSize: secondSize)
        guard path.count == expected else { throw .wrongPathLength(expected: expected, actual: path.count) }

        // Step 2: a first tree that is a perfect subtree is itself the starting hash.
        let firstIsPerfect = firstSize & (firstSize - 1) == 0
        let hashes = firstIsPerfect ? [firstRoot] + path : path
        var fn = firstSize - 1
        var sn = secondSize - 1
        while fn & 1 == 1 {
            fn >>= 1
            sn >>= 1
        }
        var fr = hashes[0]
        var sr = hashes[0]
        for c in hashes.dropFirst() {
            guard sn != 0 else { throw .wrongPathLength(expected: expected, actual: path.count) }
            if fn & 1 == 1 || fn == sn {
                fr = hasher.nodeHash(c, fr)
                sr = hasher.nodeHash(c, sr)
                while fn & 1 == 0 && fn != 0 {
                    fn >>= 1
                    sn >>= 1
                }
            } else {
                sr = hasher.nodeHash(sr, c)
            }
            fn >>= 1
            sn >>= 1
        }
        guard sn == 0 else { throw .wrongPathLength(expected: expected, actual: path.count) }
        guard fr == firstRoot else { throw .firstRootMismatch }
        guard sr == secondRoot else { throw .secondRootMismatch }
    }

    /// The number of hashes in PATH(m, D[n]): one per level where the leaf's subtree has a sibling. The levels
    /// below the highest bit where m and n-1 differ all have one ("inner"); above it, the leaf sits on the tree's
    /// right edge and has a left sibling exactly where m has a 1 bit ("border").
    public static func inclusionPathLength(leafIndex: UInt64, treeSize: UInt64) -> Int {
        let inner = bitLength(leafIndex ^ (treeSize - 1))
        return inner + (leafIndex >> inner).nonzeroBitCount
    }

    /// The number of hashes in PROOF(m, D[n]) for 0 < m < n: the inclusion path of leaf m-1, less the levels
    /// inside the perfect subtree that ends the first tree, plus that subtree's own hash unless it is the whole
    /// first tree.
    public static func consistencyPathLength(firstSize: UInt64, secondSize: UInt64) -> Int {
        let inner = bitLength((firstSize - 1) ^ (secondSize - 1))
        let border = ((firstSize - 1) >> inner).nonzeroBitCount
        let firstIsPerfect = firstSize & (firstSize - 1) == 0
        return inner - firstSize.trailingZeroBitCount + border + (firstIsPerfect ? 0 : 1)
    }

    private static func bitLength(_ value: UInt64) -> Int { 64 - value.leadingZeroBitCount }

    private static func checkHash(_ hash: [UInt8], _ what: String) throws(MerkleProofFailure) {
        guard hash.count == MerkleHasher.hashSize else { throw .malformedHash(what: what, byteCount: hash.count) }
    }
}
