import CCrypto

/// AES-256-GCM from libcrypto's EVP interface, as one sealed box: nonce (12 random bytes) ‖ ciphertext ‖ tag (16).
///
/// The layout is the one `cryptography`'s `AESGCM` and most other libraries take apart as `nonce, ciphertext ‖ tag`.
/// Nothing here traps: a key of the wrong length, a box too short to hold a nonce and a tag, or an input too long for
/// libcrypto's `int` lengths is a typed error, and so is any box that does not authenticate.
public enum AESGCM {
    public static let keySize = 32
    public static let nonceSize = 12
    public static let tagSize = 16
    /// The smallest sealed box: an empty plaintext still carries its nonce and tag.
    public static let overhead = nonceSize + tagSize

    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        case wrongKeyLength(Int)
        case wrongNonceLength(Int)
        case sealedBoxTooShort(Int)
        case inputTooLong
        /// The tag does not match: another key, other associated data, or altered bytes. Nothing is decrypted.
        case authenticationFailed
        case randomnessUnavailable
        case libcryptoFailed(String)

        public var description: String {
            switch self {
            case let .wrongKeyLength(count): return "an AES-256-GCM key is \(AESGCM.keySize) bytes, not \(count)"
            case let .wrongNonceLength(count): return "an AES-256-GCM nonce is \(AESGCM.nonceSize) bytes, not \(count)"
            case let .sealedBoxTooShort(count):
                return "a sealed box is at least \(AESGCM.overhead) bytes (nonce and tag), not \(count)"
            case .inputTooLong: return "the input is too long for libcrypto"
            case .authenticationFailed:
                return "the ciphertext does not authenticate: wrong key, other associated data, or altered bytes"
            case .randomnessUnavailable: return "libcrypto's random generator is not seeded"
            case let .libcryptoFailed(step): return "libcrypto failed in \(step)"
            }
        }
    }

    /// Encrypts under a fresh random nonce.
    public static func seal(_ plaintext: [UInt8], key: [UInt8], associatedData: [UInt8] = []) throws(Failure) -> [UInt8] {
        guard let nonce = Digest.randomBytes(nonceSize) else { throw .randomnessUnavailable }
        return try seal(plaintext, key: key, nonce: nonce, associatedData: associatedData)
    }

    /// Encrypts under the given nonce. A nonce must never be used twice with one key; only tests and known-answer
    /// checks should choose it.
    public static func seal(_ plaintext: [UInt8], key: [UInt8], nonce: [UInt8], associatedData: [UInt8] = []) throws(Failure) -> [UInt8] {
        guard key.count == keySize else { throw .wrongKeyLength(key.count) }
        guard nonce.count == nonceSize else { throw .wrongNonceLength(nonce.count) }
        guard let plaintextLength = Int32(exactly: plaintext.count), Int32(exactly: associatedData.count) != nil,
              plaintextLength <= Int32.max - Int32(overhead) else { throw .inputTooLong }
        let context = try Context()
        defer { context.free() }
        try context.check(EVP_EncryptInit_ex(context.pointer, EVP_aes_256_gcm(), nil, nil, nil), "EVP_EncryptInit_ex")
        try context.check(EVP_CIPHER_CTX_ctrl(context.pointer, EVP_CTRL_GCM_SET_IVLEN, Int32(nonceSize), nil), "SET_IVLEN")
        try context.check(EVP_EncryptInit_ex(context.pointer, nil, nil, key, nonce), "EVP_EncryptInit_ex(key)")
        var length: Int32 = 0
        // A NULL output pointer is how EVP_EncryptUpdate is told the bytes are associated data, so the plaintext
        // call must be skipped when it is empty rather than made with an empty array that may have no storage.
        if !associatedData.isEmpty {
            try context.check(EVP_EncryptUpdate(context.pointer, nil, &length, associatedData, Int32(associatedData.count)), "EVP_EncryptUpdate(aad)")
        }
        var sealed = nonce + [UInt8](repeating: 0, count: plaintext.count + tagSize)
        var written = 0
        if !plaintext.isEmpty {
            try sealed.withUnsafeMutableBufferPointer { (box: inout UnsafeMutableBufferPointer<UInt8>) throws(Failure) in
                try context.check(EVP_EncryptUpdate(context.pointer, box.baseAddress.map { $0 + nonceSize }, &length,
                                                    plaintext, plaintextLength), "EVP_EncryptUpdate")
            }
            written = Int(length)
        }
        try sealed.withUnsafeMutableBufferPointer { (box: inout UnsafeMutableBufferPointer<UInt8>) throws(Failure) in
            try context.check(EVP_EncryptFinal_ex(context.pointer, box.baseAddress.map { $0 + nonceSize + written }, &length),
                              "EVP_EncryptFinal_ex")
        }
        // GCM is a stream mode: libcrypto writes exactly as many bytes as it was given, and nothing at the end.
        guard written + Int(length) == plaintext.count else { throw .libcryptoFailed("EVP_EncryptUpdate length") }
        var tag = [UInt8](repeating: 0, count: tagSize)
        try context.check(EVP_CIPHER_CTX_ctrl(context.pointer, EVP_CTRL_GCM_GET_TAG, Int32(tagSize), &tag), "GET_TAG")
        sealed.replaceSubrange((nonceSize + plaintext.count)..., with: tag)
        return sealed
    }

    /// Decrypts a box `seal` made with this key and associated data; any other box is `authenticationFailed`.
    public static func open(_ sealed: [UInt8], key: [UInt8], associatedData: [UInt8] = []) throws(Failure) -> [UInt8] {
        guard key.count == keySize else { throw .wrongKeyLength(key.count) }
        guard sealed.count >= overhead else { throw .sealedBoxTooShort(sealed.count) }
        guard Int32(exactly: sealed.count) != nil, Int32(exactly: associatedData.count) != nil else { throw .inputTooLong }
        let nonce = Array(sealed[..<nonceSize])
        let ciphertext = Array(sealed[nonceSize..<(sealed.count - tagSize)])
        var tag = Array(sealed[(sealed.count - tagSize)...])
        let context = try Context()
        defer { context.free() }
        try context.check(EVP_DecryptInit_ex(context.pointer, EVP_aes_256_gcm(), nil, nil, nil), "EVP_DecryptInit_ex")
        try context.check(EVP_CIPHER_CTX_ctrl(context.pointer, EVP_CTRL_GCM_SET_IVLEN, Int32(nonceSize), nil), "SET_IVLEN")
        try context.check(EVP_DecryptInit_ex(context.pointer, nil, nil, key, nonce), "EVP_DecryptInit_ex(key)")
        var length: Int32 = 0
        if !associatedData.isEmpty {
            try context.check(EVP_DecryptUpdate(context.pointer, nil, &length, associatedData, Int32(associatedData.count)), "EVP_DecryptUpdate(aad)")
        }
        // One spare byte keeps the buffer non-empty for an empty plaintext, so Final always gets a valid pointer.
        var plaintext = [UInt8](repeating: 0, count: ciphertext.count + 1)
        var written = 0
        if !ciphertext.isEmpty {
            try context.check(EVP_DecryptUpdate(context.pointer, &plaintext, &length, ciphertext, Int32(ciphertext.count)), "EVP_DecryptUpdate")
            written = Int(length)
        }
        try context.check(EVP_CIPHER_CTX_ctrl(context.pointer, EVP_CTRL_GCM_SET_TAG, Int32(tagSize), &tag), "SET_TAG")
        let verified = plaintext.withUnsafeMutableBufferPointer { buffer in
            EVP_DecryptFinal_ex(context.pointer, buffer.baseAddress.map { $0 + written }, &length)
        }
        guard verified == 1 else { throw .authenticationFailed }
        guard written + Int(length) == ciphertext.count else { throw .libcryptoFailed("EVP_DecryptUpdate length") }
        return Array(plaintext.prefix(ciphertext.count))
    }

    /// One EVP cipher context, freed by the caller's `defer`.
    private struct Context {
        let pointer: OpaquePointer

        init() throws(Failure) {
            guard let pointer = EVP_CIPHER_CTX_new() else { throw .libcryptoFailed("EVP_CIPHER_CTX_new") }
            self.pointer = pointer
        }

        func check(_ status: Int32, _ step: String) throws(Failure) {
            guard status == 1 else { throw .libcryptoFailed(step) }
        }

        func free() { EVP_CIPHER_CTX_free(pointer) }
    }
}
