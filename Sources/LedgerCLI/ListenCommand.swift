import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import LedgerCrypto
import LedgerDomain
import LedgerHTTP
import Synchronization

/// `ledger listen`, like `stripe listen`: a receiver on loopback, a temporary webhook endpoint pointing at it,
/// one line per webhook as it arrives, and the endpoint removed again on Ctrl-C.
enum ListenCommand {
    static let help = """
        Usage: ledger listen [--url URL] [--key KEY] [--events TYPE,TYPE,...]

        Registers a webhook endpoint for the key's organization and mode that points at a receiver this
        command runs on 127.0.0.1, prints each webhook as it arrives (type, verification, sequence, whether its
        signature verified), and deletes the endpoint on SIGINT (Ctrl-C) or SIGTERM.

        --url     the service (default LEDGER_API_URL, else http://127.0.0.1:8080)
        --key     an API key with the admin scope (default LEDGER_API_KEY)
        --events  the event types to subscribe to (default every one, *)
        The service must allow webhooks to loopback (LEDGER_WEBHOOK_ALLOW_PRIVATE=1; `scripts/run` does) and
        sends them over http only in test mode.
        """

    static func run(_ arguments: [String], environment: [String: String]) throws {
        let termination = TerminationSignals()
        let options = try Options(arguments, known: ["url", "key", "events"])
        let base = options.string("url") ?? environment["LEDGER_API_URL"] ?? "http://127.0.0.1:8080"
        guard let key = options.string("key") ?? environment["LEDGER_API_KEY"], !key.isEmpty else {
            throw UsageError(message: "give an API key: --key or LEDGER_API_KEY")
        }
        let events = options.string("events").map { $0.split(separator: ",").map(String.init) } ?? ["*"]
        let target = LifecycleBenchmark.Target(baseURL: base, key: key)
        let secret = Mutex<WebhookSecret?>(nil)
        let receiver = HTTPServer(configuration: .init(host: "127.0.0.1", port: 0, threads: 2)) { request in
            say(line(request, secret: secret.withLock { $0 }))
            return .json(200, ["received": true])
        }
        try receiver.start()
        defer { receiver.shutdown(gracePeriod: 1) }
        let session = URLSession(configuration: .ephemeral)
        let (status, endpoint) = try LifecycleBenchmark.request(session, target, "POST", "/v1/webhook_endpoints", [
            "url": .string("http://127.0.0.1:\(receiver.port)/webhooks"), "events": .array(events.map(JSONValue.string)),
            "description": "ledger listen",
        ])
        guard status == 201, let id = endpoint["id"]?.stringValue else {
            throw UsageError(message: "registering the endpoint answered \(status): \(endpoint["error"]?["message"]?.stringValue ?? endpoint.jsonString)")
        }
        secret.withLock { $0 = endpoint["secret"]?.stringValue.flatMap(WebhookSecret.init) }
        say("Ready: webhooks for \(events.joined(separator: ",")) arrive at 127.0.0.1:\(receiver.port) (endpoint \(id)); Ctrl-C to stop")
        _ = termination.wait()
        let (deleted, _) = try LifecycleBenchmark.request(session, target, "DELETE", "/v1/webhook_endpoints/\(id)", nil)
        say(deleted == 200 ? "Removed endpoint \(id)" : "Could not remove endpoint \(id) (\(deleted)); delete it yourself")
    }

    /// One line on standard output at once (unbuffered, so a pipe or a file sees each webhook as it arrives).
    static func say(_ text: String) { FileHandle.standardOutput.write(Data((text + "\n").utf8)) }

    /// `time type verification seq N signature verified|NOT verified`.
    static func line(_ request: HTTPRequest, secret: WebhookSecret?) -> String {
        let payload = (try? JSONValue.parse(request.body, maxDepth: 512)) ?? .null
        let object = payload["data"]?["object"]
        let verification = object?["verification_id"]?.stringValue ?? object?["id"]?.stringValue ?? "?"
        let verified = secret.map { secret in
            StandardWebhooks.verify(id: request.header("webhook-id") ?? "", timestamp: Int64(request.header("webhook-timestamp") ?? "") ?? 0,
                                    body: request.body, signatures: request.header("webhook-signature") ?? "", secret: secret,
                                    now: Int64(Date().timeIntervalSince1970))
        } ?? false
        return [Timestamp.rfc3339(Date()), payload["type"]?.stringValue ?? "?", verification,
                "seq \(payload["sequence"]?.intValue.map(String.init) ?? "?")",
                "signature " + (verified ? "verified" : "NOT verified")].joined(separator: "  ")
    }
}
