import Foundation
import LedgerCrypto
import LedgerStorage
import XCTest

/// Our signatures checked by the `standardwebhooks` library from PyPI, an independent implementation.
final class StandardWebhooksTests: XCTestCase {
    func verifyInPython(secret: String, id: String, timestamp: Int64, body: String, signature: String) throws -> String {
        let script = """
            import sys
            from standardwebhooks.webhooks import Webhook, WebhookVerificationError
            secret, wid, ts, body, sig = sys.argv[1:6]
            try:
                Webhook(secret).verify(body, {"webhook-id": wid, "webhook-timestamp": ts, "webhook-signature": sig})
                print("valid")
            except WebhookVerificationError as error:
                print("invalid:", error)
            """
        return try ChildProcess.run("python3", ["-c", script, secret, id, String(timestamp), body, signature]).output
    }

    func testSignaturesVerifyWithTheReferenceLibrary() throws {
        guard let secret = WebhookSecret.generate() else { return XCTFail("no randomness") }
        XCTAssertEqual(WebhookSecret(secret.text), secret)
        XCTAssertTrue(secret.text.hasPrefix("whsec_"))
        let now = Int64(Date().timeIntervalSince1970)
        let body = #"{"type":"ORDER_STATUS_CHANGE","data":{"status":"COMPLETE","note":"naïve ✓"}}"#
        let headers = Dictionary(uniqueKeysWithValues: StandardWebhooks.headers(id: "msg_1", timestamp: now, body: Array(body.utf8), secrets: [secret]))
        let signature = headers["webhook-signature"] ?? ""
        XCTAssertEqual(try verifyInPython(secret: secret.text, id: "msg_1", timestamp: now, body: body, signature: signature), "valid\n")
        XCTAssertTrue(StandardWebhooks.verify(id: "msg_1", timestamp: now, body: Array(body.utf8), signatures: signature, secret: secret, now: now))

        let tampered = body.replacingOccurrences(of: "COMPLETE", with: "PENDING")
        XCTAssertTrue(try verifyInPython(secret: secret.text, id: "msg_1", timestamp: now, body: tampered, signature: signature).hasPrefix("invalid"))
        XCTAssertFalse(StandardWebhooks.verify(id: "msg_1", timestamp: now, body: Array(tampered.utf8), signatures: signature, secret: secret, now: now))

        let stale = now - 3600
        let staleSignature = StandardWebhooks.signature(id: "msg_1", timestamp: stale, body: Array(body.utf8), secret: secret)
        XCTAssertTrue(try verifyInPython(secret: secret.text, id: "msg_1", timestamp: stale, body: body, signature: staleSignature).hasPrefix("invalid"))
        XCTAssertFalse(StandardWebhooks.verify(id: "msg_1", timestamp: stale, body: Array(body.utf8), signatures: staleSignature, secret: secret, now: now))
    }

    func testDuringARotationEitherSecretVerifies() throws {
        guard let old = WebhookSecret.generate(), let new = WebhookSecret.generate() else { return XCTFail("no randomness") }
        let now = Int64(Date().timeIntervalSince1970)
        let body = "{}"
        let both = StandardWebhooks.headers(id: "msg_2", timestamp: now, body: Array(body.utf8), secrets: [new, old])[2].1
        XCTAssertEqual(both.split(separator: " ").count, 2)
        for secret in [old, new] {
            XCTAssertEqual(try verifyInPython(secret: secret.text, id: "msg_2", timestamp: now, body: body, signature: both), "valid\n")
        }
        let onlyNew = StandardWebhooks.headers(id: "msg_2", timestamp: now, body: Array(body.utf8), secrets: [new])[2].1
        XCTAssertTrue(try verifyInPython(secret: old.text, id: "msg_2", timestamp: now, body: body, signature: onlyNew).hasPrefix("invalid"))
        XCTAssertNil(WebhookSecret("sk_nope"))
        XCTAssertNil(WebhookSecret("whsec_!!!"))
    }
}
