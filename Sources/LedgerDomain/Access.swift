import Foundation

/// What an API key may do. Each route names the one scope it needs; a key holds an explicit set.
public enum Scope: String, Sendable, CaseIterable, Comparable {
    case read, write, admin

    public static func < (lhs: Scope, rhs: Scope) -> Bool {
        allCases.firstIndex(of: lhs) ?? 0 < allCases.firstIndex(of: rhs) ?? 0
    }

    public struct UnknownScope: Error, Equatable {
        public let name: String
    }

    /// Parses `read,write,admin`; the error names the first unknown scope.
    public static func parseList(_ text: String) -> Result<Set<Scope>, UnknownScope> {
        var scopes = Set<Scope>()
        for part in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !part.isEmpty {
            guard let scope = Scope(rawValue: part) else { return .failure(UnknownScope(name: part)) }
            scopes.insert(scope)
        }
        return scopes.isEmpty ? .failure(UnknownScope(name: text)) : .success(scopes)
    }
}

/// The shape of an API key's secret: `sk_test_` or `sk_live_` and 64 lowercase hex digits.
public enum APIKeySecret {
    public static let testPrefix = "sk_test_"
    public static let livePrefix = "sk_live_"

    /// The mode a well-formed secret belongs to; nil when it cannot be a key of ours.
    public static func livemode(of secret: String) -> Bool? {
        let body: Substring
        let live: Bool
        if secret.hasPrefix(testPrefix) { body = secret.dropFirst(testPrefix.count); live = false }
        else if secret.hasPrefix(livePrefix) { body = secret.dropFirst(livePrefix.count); live = true }
        else { return nil }
        guard body.utf8.count == 64, body.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else { return nil }
        return live
    }

    /// What people see of a key after it was shown once: its prefix and last four characters.
    public static func hint(of secret: String) -> String {
        String(secret.prefix(8)) + "…" + String(secret.suffix(4))
    }
}
