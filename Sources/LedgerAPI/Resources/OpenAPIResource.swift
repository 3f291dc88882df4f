import Foundation
import LedgerHTTP

/// `GET /openapi.json`: the OpenAPI 3.1 document of `OpenAPIDocument.swift`.
enum OpenAPIResource {
    static func register(on router: inout Router<Endpoint>) {
        let body = Array(OpenAPIDocument.json.utf8)
        router.add("GET", "/openapi.json", .read(.everyone) { _ in
            HTTPResponse(status: 200, headers: [("Content-Type", "application/json")], body: body)
        })
    }
}
