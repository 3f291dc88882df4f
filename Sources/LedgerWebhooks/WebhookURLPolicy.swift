import Foundation

/// Where webhooks may be sent: https in live mode; never to loopback, link-local or private addresses unless
/// the operator allows them (`LEDGER_WEBHOOK_ALLOW_PRIVATE=1`, which the tests use for their receivers).
public struct WebhookURLPolicy: Sendable {
    public let allowPrivate: Bool

    public init(allowPrivate: Bool) { self.allowPrivate = allowPrivate }

    /// What is wrong with sending to `text` ("must use https in live mode"), or nil when it may be used.
    /// Host names are resolved, so a name pointing at a private address is refused too.
    public func problem(_ text: String, livemode: Bool) -> String? {
        guard text.count <= 2048, let url = URL(string: text), let scheme = url.scheme?.lowercased(), let host = url.host, !host.isEmpty else {
            return "must be an absolute http(s) URL"
        }
        guard scheme == "https" || (scheme == "http" && !livemode) else {
            return livemode ? "must use https in live mode" : "must use http or https"
        }
        guard url.user == nil, url.password == nil else { return "must not carry credentials" }
        if !allowPrivate {
            let addresses = Self.addresses(of: host)
            if host.lowercased() == "localhost" || host.lowercased().hasSuffix(".localhost") || addresses.contains(where: Self.isPrivate) {
                return "points to a loopback, link-local or private address"
            }
        }
        return nil
    }

    /// The host's addresses: itself if it is an IP literal, else what the resolver says (none if it fails).
    static func addresses(of host: String) -> [[UInt8]] {
        let bare = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        var v4 = in_addr(), v6 = in6_addr()
        if inet_pton(AF_INET, bare, &v4) == 1 { return [withUnsafeBytes(of: v4) { Array($0) }] }
        if inet_pton(AF_INET6, bare, &v6) == 1 { return [withUnsafeBytes(of: v6) { Array($0) }] }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(bare, nil, &hints, &list) == 0, let first = list else { return [] }
        defer { freeaddrinfo(list) }
        var result: [[UInt8]] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            if let address = info.pointee.ai_addr {
                if info.pointee.ai_family == AF_INET {
                    address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { result.append(withUnsafeBytes(of: $0.pointee.sin_addr) { Array($0) }) }
                } else if info.pointee.ai_family == AF_INET6 {
                    address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { result.append(withUnsafeBytes(of: $0.pointee.sin6_addr) { Array($0) }) }
                }
            }
            cursor = info.pointee.ai_next
        }
        return result
    }

    static func isPrivate(_ address: [UInt8]) -> Bool {
        if address.count == 4 {
            let (a, b) = (address[0], address[1])
            return a == 0 || a == 10 || a == 127 || (a == 169 && b == 254) || (a == 172 && (16...31).contains(b))
                || (a == 192 && b == 168) || (a == 100 && (64...127).contains(b))
        }
        guard address.count == 16 else { return true }
        if address.allSatisfy({ $0 == 0 }) || address == [UInt8](repeating: 0, count: 15) + [1] { return true } // :: and ::1
        if address[0] & 0xFE == 0xFC { return true } // fc00::/7 unique local
        if address[0] == 0xFE && address[1] & 0xC0 == 0x80 { return true } // fe80::/10 link-local
        if address[0..<10].allSatisfy({ $0 == 0 }) && address[10] == 0xFF && address[11] == 0xFF { // IPv4-mapped
            return isPrivate(Array(address[12..<16]))
        }
        return false
    }
}
