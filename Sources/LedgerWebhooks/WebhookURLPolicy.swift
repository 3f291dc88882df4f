import Foundation

/// Where webhooks may be sent: https in live mode; never to loopback, link-local or private addresses unless
/// the operator allows them (`LEDGER_WEBHOOK_ALLOW_PRIVATE=1`, which the tests use for their receivers).
///
/// A host name is resolved once and every address it resolves to is checked; a delivery then connects to the
/// checked address (`Destination.connectTo`), so a DNS answer that changes between the check and the
/// connection (rebinding) cannot steer it elsewhere. A lookup that fails refuses the URL.
public struct WebhookURLPolicy: Sendable {
    /// A host name's addresses (4 or 16 bytes each), or nil when the lookup failed.
    public typealias Resolver = @Sendable (String) -> [[UInt8]]?

    public let allowPrivate: Bool
    private let resolve: Resolver

    public init(allowPrivate: Bool, resolver: @escaping Resolver = WebhookURLPolicy.systemResolver) {
        self.allowPrivate = allowPrivate
        self.resolve = resolver
    }

    /// Where a delivery goes.
    public struct Destination: Sendable, Equatable {
        public var url: String
        /// `host:port:address:port` (libcurl's CURLOPT_CONNECT_TO): the checked address to connect to, keeping
        /// the host name for the Host header and TLS; nil for an IP literal, which nothing resolves.
        public var connectTo: String?

        public init(url: String, connectTo: String?) {
            self.url = url
            self.connectTo = connectTo
        }
    }

    public enum Verdict: Sendable, Equatable {
        case allowed(Destination)
        case refused(String)
    }

    /// What is wrong with sending to `text` ("must use https in live mode"), or nil when it may be used; for
    /// the API, which checks a URL when it is given. A host name is resolved only when private addresses are
    /// refused.
    public func problem(_ text: String, livemode: Bool) -> String? {
        if case let .refused(problem) = verdict(text, livemode: livemode, pinning: false) { return problem }
        return nil
    }

    /// Whether a delivery may go to `text`, and where it connects: a host name is resolved whatever
    /// `allowPrivate` says, so that the connection uses the address resolved here and no other.
    public func destination(_ text: String, livemode: Bool) -> Verdict {
        verdict(text, livemode: livemode, pinning: true)
    }

    private func verdict(_ text: String, livemode: Bool, pinning: Bool) -> Verdict {
        guard text.count <= 2048, let url = URL(string: text), let scheme = url.scheme?.lowercased(), let host = url.host, !host.isEmpty else {
            return .refused("must be an absolute http(s) URL")
        }
        guard scheme == "https" || (scheme == "http" && !livemode) else {
            return .refused(livemode ? "must use https in live mode" : "must use http or https")
        }
        guard url.user == nil, url.password == nil else { return .refused("must not carry credentials") }
        let bare = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if !allowPrivate && (bare.lowercased() == "localhost" || bare.lowercased().hasSuffix(".localhost")) {
            return .refused("points to a loopback, link-local or private address")
        }
        if let literal = Self.literal(bare) {
            return !allowPrivate && Self.isPrivate(literal) ? .refused("points to a loopback, link-local or private address")
                                                            : .allowed(Destination(url: text, connectTo: nil))
        }
        guard pinning || !allowPrivate else { return .allowed(Destination(url: text, connectTo: nil)) }
        guard let addresses = resolve(bare), let first = addresses.first, let firstText = Self.text(first) else {
            return .refused("has a host name that could not be resolved")
        }
        if !allowPrivate && addresses.contains(where: Self.isPrivate) {
            return .refused("points to a loopback, link-local or private address")
        }
        let port = url.port ?? (scheme == "https" ? 443 : 80)
        let target = first.count == 16 ? "[\(firstText)]" : firstText
        return .allowed(Destination(url: text, connectTo: "\(bare):\(port):\(target):\(port)"))
    }

    /// The address an IP literal spells, nil for a host name.
    static func literal(_ host: String) -> [UInt8]? {
        var v4 = in_addr(), v6 = in6_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return withUnsafeBytes(of: v4) { Array($0) } }
        if inet_pton(AF_INET6, host, &v6) == 1 { return withUnsafeBytes(of: v6) { Array($0) } }
        return nil
    }

    /// An address in its usual text form.
    static func text(_ address: [UInt8]) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = address.count == 4 ? AF_INET : address.count == 16 ? AF_INET6 : -1
        guard family >= 0, address.withUnsafeBytes({ inet_ntop(family, $0.baseAddress, &buffer, socklen_t(buffer.count)) }) != nil else {
            return nil
        }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// getaddrinfo's answer: nil when it fails or has no address.
    public static let systemResolver: Resolver = { host in
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0, let first = list else { return nil }
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
        return result.isEmpty ? nil : result
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
