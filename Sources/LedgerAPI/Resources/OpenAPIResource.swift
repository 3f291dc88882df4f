import Foundation
import LedgerDomain
import LedgerHTTP

/// `GET /openapi.json`: the OpenAPI 3.1 document, made from the operations' declarations (`ledger openapi`
/// prints it; `openapi.json` at the top of the repository is a copy a test keeps current).
enum OpenAPIResource {
    static let operations: [APIOperation] = [
        .api("GET", "/openapi.json", id: "openapi", summary: "This document", scope: nil,
             responses: [APIResponses.ok("OpenAPI 3.1", .anyObject)],
             .read { _ in .json(200, encoded: documentBytes) }),
    ]

    static let rendering = OpenAPIRendering(
        title: "Verification ledger", version: "0.1.0",
        description: "An event-sourced ledger of identity verifications. Errors always have the shape "
            + "{\"error\": {\"type\", \"code\", \"message\", \"param\"}}. Every POST accepts an Idempotency-Key header.",
        servers: ["http://127.0.0.1:8080"],
        securitySchemes: [
            ("bearer", ["type": "http", "scheme": "bearer", "description": "Authorization: Bearer sk_test_… or sk_live_…"]),
            ("basic", ["type": "http", "scheme": "basic", "description": "The API key as user name, no password"]),
        ])

    /// The document does not depend on the configuration: only handlers read it.
    static let document: JSONValue = rendering.document(
        LedgerApplication.operations(configuration: APIConfiguration(), metrics: Metrics(), schemaVersion: 0))

    static let documentBytes: [UInt8] = Array(document.pretty().utf8)
}

extension LedgerApplication {
    /// The OpenAPI 3.1 document, as `GET /openapi.json` serves it and `openapi.json` keeps it.
    public static var openAPIDocument: String { String(decoding: OpenAPIResource.documentBytes, as: UTF8.self) }
}
