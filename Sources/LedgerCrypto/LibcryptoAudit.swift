import LedgerDomain

/// The audit core's primitives from libcrypto.
public struct LibcryptoAudit: AuditCryptography {
    public init() {}
    public func sha256(_ bytes: [UInt8]) -> [UInt8] { Digest.sha256(bytes) }
    public func ed25519PublicKey(seed: [UInt8]) -> [UInt8]? { Ed25519.publicKey(seed: seed) }
    public func ed25519Sign(_ message: [UInt8], seed: [UInt8]) -> [UInt8]? { Ed25519.sign(message, seed: seed) }
    public func ed25519Verify(signature: [UInt8], message: [UInt8], publicKey: [UInt8]) -> Bool {
        Ed25519.verify(signature: signature, message: message, publicKey: publicKey)
    }
}
