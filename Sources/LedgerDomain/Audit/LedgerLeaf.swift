/// The bytes of the log's Merkle leaf for one event, defined here and nowhere else.
///
/// 40 bytes: the event's global position as an 8-byte unsigned big-endian integer, then its 32-byte chain hash
/// (`ledger.events.hash`, which covers the event's content and, through the previous hash, its whole stream).
/// The position pins the leaf to one place in the log, so an event copied elsewhere makes a different leaf.
/// The leaf's hash in the tree is SHA-256(0x00 ‖ these bytes).
public enum LedgerLeaf {
    public static let byteCount = 40

    /// Nil for a negative position or a chain hash that is not 32 bytes.
    public static func bytes(position: Int64, chainHash: [UInt8]) -> [UInt8]? {
        guard position >= 0, chainHash.count == MerkleHasher.hashSize else { return nil }
        let unsigned = UInt64(position)
        return (0..<8).reversed().map { UInt8(truncatingIfNeeded: unsigned >> (UInt64($0) * 8)) } + chainHash
    }
}
