/// The primitives the audit core needs but may not implement itself (the domain has no C imports and never
/// hand-writes cryptography): SHA-256 and Ed25519. The shells implement it with libcrypto.
public protocol AuditCryptography: Sendable {
    func sha256(_ bytes: [UInt8]) -> [UInt8]
    /// The 32-byte public key of a 32-byte Ed25519 private key (its RFC 8032 seed); nil for a malformed seed.
    func ed25519PublicKey(seed: [UInt8]) -> [UInt8]?
    /// The 64-byte RFC 8032 signature of `message`; nil for a malformed seed.
    func ed25519Sign(_ message: [UInt8], seed: [UInt8]) -> [UInt8]?
    func ed25519Verify(signature: [UInt8], message: [UInt8], publicKey: [UInt8]) -> Bool
}

extension AuditCryptography {
    public var merkleHasher: MerkleHasher { MerkleHasher(sha256: { self.sha256($0) }) }
}
