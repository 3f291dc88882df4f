import Foundation

/// A webhook signing secret in the Standard Webhooks form: `whsec_` and the base64 of its bytes.
public struct WebhookSecret: Sendable, Equatable {
    public static let prefix = "whsec_"
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// 32 random bytes from libcrypto; nil only if the generator is unavailable.
    public static func generate() -> WebhookSecret? { Digest.randomBytes(32).map(WebhookSecret.init(bytes:)) }

    public init?(_ text: String) {
        guard text.hasPrefix(Self.prefix), let data = Data(base64Encoded: String(text.dropFirst(Self.prefix.count))), !data.isEmpty else {
            return nil
        }
        bytes = Array(data)
    }

    public var text: String { Self.prefix + Data(bytes).base64EncodedString() }
}

/// Signatures of the Standard Webhooks scheme: `webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>`,
/// one per secret, space-separated, so receivers accept the old secret during a rotation.
public enum StandardWebhooks {
    public static func signature(id: String, timestamp: Int64, body: [UInt8], secret: WebhookSecret) -> String {
        let content = Array("\(id).\(timestamp).".utf8) + body
        return "v1," + Data(Digest.hmacSHA256(key: secret.bytes, message: content)).base64EncodedString()
    }

    /// The three headers of a delivery signed with every given secret.
    public static func headers(id: String, timestamp: Int64, body: [UInt8], secrets: [WebhookSecret]) -> [(String, String)] {
        [
            ("webhook-id", id),
            ("webhook-timestamp", String(timestamp)),
            ("webhook-signature", secrets.map { signature(id: id, timestamp: timestamp, body: body, secret: $0) }.joined(separator: " ")),
        ]
    }

    /// Whether one of the signatures is by `secret` and the timestamp is within `tolerance` seconds of `now`.
    public static func verify(id: String, timestamp: Int64, body: [UInt8], signatures: String, secret: WebhookSecret,
                              now: Int64, tolerance: Int64 = 300) -> Bool {
        guard abs(now - timestamp) <= tolerance else { return false }
        let expected = Array(signature(id: id, timestamp: timestamp, body: body, secret: secret).utf8)
        return signatures.split(separator: " ").contains { Digest.constantTimeEqual(Array($0.utf8), expected) }
    }
}
