import LedgerDomain

/// Secrets are shown once: the response kept for an idempotent replay has its top-level `secret` member (a new
/// API key, a webhook signing secret) set to null, and a replay of such a response says so with
/// `Secret-Redacted: true`. The caller who lost the first response rotates the secret or makes a new key.
enum ReplayRedaction {
    static let header = ("Secret-Redacted", "true")

    /// The body to keep instead of `body`, when `body` shows a secret.
    static func withoutSecret(_ body: [UInt8]) -> [UInt8]? {
        guard mayHoldSecret(body), let object = try? JSONValue.parse(body, maxDepth: 512).objectValue,
              object.contains(where: { $0.0 == "secret" && !$0.1.isNull }) else { return nil }
        return JSONValue.object(object.map { $0.0 == "secret" ? ($0.0, .null) : $0 }).encoded()
    }

    /// Most responses (verifications, orders) name no secret at all and are not parsed again.
    private static func mayHoldSecret(_ body: [UInt8]) -> Bool {
        let needle = Array("\"secret\"".utf8)
        guard body.count >= needle.count else { return false }
        return (0...(body.count - needle.count)).contains { start in
            body[start] == needle[0] && body[start..<(start + needle.count)].elementsEqual(needle)
        }
    }
}
