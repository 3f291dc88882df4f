import CCrypto
#if canImport(Glibc)
import Glibc
#endif

/// Standard base64 (with padding) decoded by libcrypto's `EVP_DecodeBlock`: a list page opens a sealed document per
/// row, and Foundation's `Data(base64Encoded:)` was a good part of what opening one cost.
public enum Base64 {
    /// The bytes of `text`, or nil when it is not padded standard base64 (no whitespace, `=` only at its end).
    public static func decode(_ text: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        if text.isEmpty { return [] }
        guard text.count % 4 == 0, let base = text.baseAddress else { return nil }
        let padding = text.reversed().prefix(while: { $0 == UInt8(ascii: "=") }).count
        // libcrypto reads `=` as zero bits wherever it stands, and skips leading and trailing blanks: both refused here.
        guard padding <= 2, memchr(base, Int32(UInt8(ascii: "=")), text.count - padding) == nil,
              !isBlank(text[0]), !isBlank(text[text.count - 1]), text.count <= Int(Int32.max) else { return nil }
        let capacity = text.count / 4 * 3
        // At least one byte on success (the text is not empty, at most 2 of its characters are padding), none on failure.
        let output = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, count in
            count = EVP_DecodeBlock(buffer.baseAddress, base, Int32(text.count)) == Int32(capacity) ? capacity - padding : 0
        }
        return output.isEmpty ? nil : output
    }

    public static func decode(_ text: some Collection<UInt8>) -> [UInt8]? {
        if let decoded = text.withContiguousStorageIfAvailable({ decode($0) }) { return decoded }
        return Array(text).withUnsafeBufferPointer { decode($0) }
    }

    private static func isBlank(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r")
    }
}
