/// Appending leaves to a tree whose perfect subtrees are stored: which subtree hashes the new leaves add.
extension MerkleSubtree {
    /// The right edge of a tree of `treeSize` leaves: its largest perfect subtrees, left to right, one per set
    /// bit of the size. Appending needs their hashes and nothing else.
    public static func frontier(ofTreeSize treeSize: UInt64) -> [MerkleSubtree] {
        var subtrees: [MerkleSubtree] = []
        var start: UInt64 = 0
        for level in (0..<64).reversed() where treeSize & (UInt64(1) << UInt64(level)) != 0 {
            subtrees.append(MerkleSubtree(level: level, index: start >> UInt64(level)))
            start += UInt64(1) << UInt64(level)
        }
        return subtrees
    }
}

/// A tree kept as its right edge only (O(log n) hashes): enough to append leaves and to compute the root,
/// so a whole log can be rebuilt from its events in constant memory.
public struct MerkleFrontier: Sendable {
    public let hasher: MerkleHasher
    public private(set) var treeSize: UInt64
    private var edge: [(MerkleSubtree, [UInt8])]

    public init(hasher: MerkleHasher) {
        self.hasher = hasher
        treeSize = 0
        edge = []
    }

    /// The tree of `treeSize` leaves whose edge has these hashes; nil when one is missing.
    public init?(hasher: MerkleHasher, treeSize: UInt64, hashes: [MerkleSubtree: [UInt8]]) {
        self.init(hasher: hasher)
        for subtree in MerkleSubtree.frontier(ofTreeSize: treeSize) {
            guard let hash = hashes[subtree] else { return nil }
            edge.append((subtree, hash))
        }
        self.treeSize = treeSize
    }

    /// Appends one leaf; returns every perfect subtree it completes with its hash, the leaf itself first.
    @discardableResult
    public mutating func append(leafHash: [UInt8]) -> [(MerkleSubtree, [UInt8])] {
        var top = (MerkleSubtree(level: 0, index: treeSize), leafHash)
        var completed = [top]
        // Two neighbours of one level make their parent, as long as the left one is the last on the edge.
        while let last = edge.last, last.0.level == top.0.level {
            edge.removeLast()
            top = (MerkleSubtree(level: top.0.level + 1, index: last.0.index >> 1), hasher.nodeHash(last.1, top.1))
            completed.append(top)
        }
        edge.append(top)
        treeSize += 1
        return completed
    }

    /// MTH of the whole tree: the edge's subtrees combined from the right, as RFC 9162 splits the leaves.
    public var rootHash: [UInt8] {
        guard var root = edge.last?.1 else { return hasher.emptyTreeHash }
        for (_, hash) in edge.dropLast().reversed() { root = hasher.nodeHash(hash, root) }
        return root
    }
}
