import CCrypto

/// Ed25519 (RFC 8032) signatures from libcrypto's EVP interface.
///
/// A private key is its 32-byte seed, the form RFC 8032 and the signed-note key texts use; the public key and
/// every signature are derived from it by libcrypto. All functions return nil or false instead of trapping on
/// input of the wrong size.
public enum Ed25519 {
    public static let seedSize = 32
    public static let publicKeySize = 32
    public static let signatureSize = 64

    /// A fresh private key: 32 bytes from libcrypto's generator; nil only if it is not seeded.
    public static func generateSeed() -> [UInt8]? { Digest.randomBytes(seedSize) }

    public static func publicKey(seed: [UInt8]) -> [UInt8]? {
        guard let key = privateKey(seed: seed) else { return nil }
        defer { EVP_PKEY_free(key) }
        var publicKey = [UInt8](repeating: 0, count: publicKeySize)
        var length = publicKey.count
        guard EVP_PKEY_get_raw_public_key(key, &publicKey, &length) == 1, length == publicKeySize else { return nil }
        return publicKey
    }

    public static func sign(_ message: [UInt8], seed: [UInt8]) -> [UInt8]? {
        guard let key = privateKey(seed: seed) else { return nil }
        defer { EVP_PKEY_free(key) }
        guard let context = EVP_MD_CTX_new() else { return nil }
        defer { EVP_MD_CTX_free(context) }
        // Ed25519 hashes internally: no digest is named, and the message goes to the one-shot call whole.
        guard EVP_DigestSignInit(context, nil, nil, nil, key) == 1 else { return nil }
        var signature = [UInt8](repeating: 0, count: signatureSize)
        var length = signature.count
        let status = withNonNullBuffer(message) { messagePointer, messageLength in
            EVP_DigestSign(context, &signature, &length, messagePointer, messageLength)
        }
        guard status == 1, length == signatureSize else { return nil }
        return signature
    }

    public static func verify(signature: [UInt8], message: [UInt8], publicKey: [UInt8]) -> Bool {
        guard signature.count == signatureSize, publicKey.count == publicKeySize else { return false }
        guard let key = publicKey.withUnsafeBufferPointer({
            EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nil, $0.baseAddress, $0.count)
        }) else { return false }
        defer { EVP_PKEY_free(key) }
        guard let context = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestVerifyInit(context, nil, nil, nil, key) == 1 else { return false }
        let status = withNonNullBuffer(message) { messagePointer, messageLength in
            EVP_DigestVerify(context, signature, signature.count, messagePointer, messageLength)
        }
        return status == 1
    }

    private static func privateKey(seed: [UInt8]) -> OpaquePointer? {
        guard seed.count == seedSize else { return nil }
        return seed.withUnsafeBufferPointer { EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nil, $0.baseAddress, $0.count) }
    }

    /// An empty array may have no storage; libcrypto gets a valid pointer with a length of zero instead of NULL.
    private static func withNonNullBuffer<Result>(_ bytes: [UInt8], _ body: (UnsafePointer<UInt8>?, Int) -> Result) -> Result {
        let storage = bytes.isEmpty ? [0] : bytes
        return storage.withUnsafeBufferPointer { body($0.baseAddress, bytes.count) }
    }
}
