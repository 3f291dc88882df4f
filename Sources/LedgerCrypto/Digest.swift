import CCrypto
import Foundation

/// SHA-256, HMAC-SHA256 and random bytes from OpenSSL's libcrypto.
public enum Digest {
    public static func sha256(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        let input = Array(bytes)
        var output = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        input.withUnsafeBufferPointer { inputBuffer in
            output.withUnsafeMutableBufferPointer { outputBuffer in
                _ = SHA256(inputBuffer.baseAddress, inputBuffer.count, outputBuffer.baseAddress)
            }
        }
        return output
    }

    public static func sha256(_ string: String) -> [UInt8] {
        sha256(Array(string.utf8))
    }

    public static func hmacSHA256(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        key.withUnsafeBufferPointer { keyBuffer in
            message.withUnsafeBufferPointer { messageBuffer in
                output.withUnsafeMutableBufferPointer { outputBuffer in
                    _ = HMAC(EVP_sha256(), keyBuffer.baseAddress, Int32(keyBuffer.count),
                             messageBuffer.baseAddress, messageBuffer.count,
                             outputBuffer.baseAddress, &length)
                }
            }
        }
        return Array(output.prefix(Int(length)))
    }

    /// A UUID that is a pure function of `seed`: the first 16 bytes of SHA-256(seed), marked as an RFC 9562
    /// version 8 (vendor-defined) UUID. The same seed always gives the same id, so a command repeated with its
    /// seed (a provider's event delivered twice) names the events it already appended.
    public static func uuid(fromSeed seed: String) -> UUID {
        var bytes = Array(sha256(seed).prefix(16))
        bytes[6] = (bytes[6] & 0x0f) | 0x80
        bytes[8] = (bytes[8] & 0x3f) | 0x80
        return UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                           bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
    }

    /// Cryptographically secure random bytes; nil only if the generator is not seeded.
    public static func randomBytes(_ count: Int) -> [UInt8]? {
        var output = [UInt8](repeating: 0, count: count)
        let status = output.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32(count)) }
        return status == 1 ? output : nil
    }

    /// Compares without an early exit, so timing reveals nothing about where two secrets differ.
    public static func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        return lhs.withUnsafeBufferPointer { l in
            rhs.withUnsafeBufferPointer { r in CRYPTO_memcmp(l.baseAddress, r.baseAddress, l.count) == 0 }
        }
    }
}

extension Array where Element == UInt8 {
    public var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var chars = [UInt8]()
        chars.reserveCapacity(count * 2)
        for byte in self {
            chars.append(digits[Int(byte >> 4)])
            chars.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: chars, as: UTF8.self)
    }

    public init?(hexString: String) {
        var text = hexString
        guard let bytes = text.withUTF8({ [UInt8](hexDigits: $0) }) else { return nil }
        self = bytes
    }

    /// From hex digits where they are (a database cell's bytes), with no string made of them first.
    public init?(hexDigits utf8: UnsafeBufferPointer<UInt8>) {
        guard utf8.count % 2 == 0 else { return nil }
        var bytes = [UInt8]()
        bytes.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = Self.nibble(utf8[index]), let low = Self.nibble(utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        self = bytes
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
