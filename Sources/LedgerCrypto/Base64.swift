import CCrypto

/// Standard base64 (with padding) decoded by libcrypto's `EVP_DecodeBlock`: a list page opens a sealed document per
/// row, and Foundation's `Data(base64Encoded:)` was a good part of what opening one cost.
public enum Base64 {
    /// The bytes of `text`, or nil when it is not padded standard base64 (no whitespace, `=` only at its end).
    public static func decode(_ text: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        if text.isEmpty { return [] }
        guard text.count % 4 == 0, let base = text.baseAddress else { return nil }
        let padding = text.reversed().prefix(while: { $0 == UInt8(ascii: "=") }).count
        // libcrypto reads `=` as zero bits wherever it stands, and skips leading and trailing blanks: both refused here.
        guard padding <= 2, !text.dropLast(padding).contains(UInt8(ascii: "=")),
              !isBlank(text[0]), !isBlank(text[text.count - 1]), text.count <= Int(Int32.max) else { return nil }
        var output = [UInt8](repeating: 0, count: text.count / 4 * 3)
        let written = output.withUnsafeMutableBufferPointer { EVP_DecodeBlock($0.baseAddress, base, Int32(text.count)) }
        guard written == Int32(output.count) else { return nil }
        output.removeLast(padding)
        return output
    }

    public static func decode(_ text: some Collection<UInt8>) -> [UInt8]? {
        if let decoded = text.withContiguousStorageIfAvailable({ decode($0) }) { return decoded }
        return Array(text).withUnsafeBufferPointer { decode($0) }
    }

    private static func isBlank(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r")
    }
}
