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

extension MerkleHasher {
    /// Every perfect subtree that appending `leafHashes` to a tree of `treeSize` leaves completes, with its hash:
    /// the new leaves themselves (level 0) and each node they finish. `frontier` holds the hashes of
    /// `MerkleSubtree.frontier(ofTreeSize: treeSize)`; nil when one is missing.
    public func subtreesCompleted(appending leafHashes: [[UInt8]], toTreeSize treeSize: UInt64,
                                  frontier: [MerkleSubtree: [UInt8]]) -> [(MerkleSubtree, [UInt8])]? {
        var edge: [(MerkleSubtree, [UInt8])] = []
        for subtree in MerkleSubtree.frontier(ofTreeSize: treeSize) {
            guard let hash = frontier[subtree] else { return nil }
            edge.append((subtree, hash))
        }
        var completed: [(MerkleSubtree, [UInt8])] = []
        var size = treeSize
        for leafHash in leafHashes {
            var top = (MerkleSubtree(level: 0, index: size), leafHash)
            completed.append(top)
            // Two neighbours of one level make their parent, as long as the left one is the last on the edge.
            while let last = edge.last, last.0.level == top.0.level {
                edge.removeLast()
                top = (MerkleSubtree(level: top.0.level + 1, index: last.0.index >> 1), nodeHash(last.1, top.1))
                completed.append(top)
            }
            edge.append(top)
            size += 1
        }
        return completed
    }
}
