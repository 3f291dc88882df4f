import Foundation
import LedgerCrypto
import LedgerDomain
import LedgerHTTP
import LedgerStorage

/// The reviewer's timeline page: `POST /v1/verifications/{id}/timeline_links` (a read key) makes a link valid
/// 15 minutes, bound by an HMAC to the organization, the mode and the verification; `GET /ui/verifications/{id}`
/// with it renders the history as plain HTML under a Content-Security-Policy that allows no script at all.
enum TimelineResource {
    static let lifetime: TimeInterval = 15 * 60

    /// `<organization>.<t|l>.<expiry in Unix seconds>.<HMAC-SHA256 in hex>`.
    struct LinkToken: Equatable {
        let organizationID: UUID
        let livemode: Bool
        let expires: Int64

        static func message(_ organizationID: UUID, _ livemode: Bool, _ verificationID: String, _ expires: Int64) -> [UInt8] {
            Array("ledger timeline link v1\n\(organizationID.uuidString.lowercased())\n\(livemode)\n\(verificationID)\n\(expires)".utf8)
        }

        static func make(key: [UInt8], organizationID: UUID, livemode: Bool, verificationID: String, expires: Int64) -> String {
            let mac = Digest.hmacSHA256(key: key, message: message(organizationID, livemode, verificationID, expires))
            return "\(organizationID.uuidString.lowercased()).\(livemode ? "l" : "t").\(expires).\(mac.hexString)"
        }

        /// The token's claims if its HMAC holds for this verification; nil otherwise (expiry is checked apart).
        static func open(_ token: String, key: [UInt8], verificationID: String) -> LinkToken? {
            let parts = token.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 4, let organizationID = UUID(uuidString: String(parts[0])), parts[1] == "t" || parts[1] == "l",
                  let expires = Int64(parts[2]), let mac = [UInt8](hexString: String(parts[3])) else { return nil }
            let livemode = parts[1] == "l"
            let expected = Digest.hmacSHA256(key: key, message: message(organizationID, livemode, verificationID, expires))
            guard Digest.constantTimeEqual(mac, expected) else { return nil }
            return LinkToken(organizationID: organizationID, livemode: livemode, expires: expires)
        }
    }

    static let link = Schema.named("TimelineLink", .object([
        APISchemas.P("object", .constant("timeline_link"), required: true),
        APISchemas.P("url", APISchemas.text, required: true, description: "The page, relative to this API's address"),
        APISchemas.P("expires_at", APISchemas.time, required: true),
    ]))
    static let token = Parameter("token", in: .query, .text(maxLength: 140, pattern: "^[0-9a-f-]{36}\\.[tl]\\.[0-9]{1,12}\\.[0-9a-f]{64}$"),
                                 required: true, description: "The token of a link made by POST /v1/verifications/{id}/timeline_links")
    static let after = Parameter.query("after", .integer(minimum: 0, maximum: 1_000_000_000),
                                       description: "Show the events after this version, \(TimelinePage.pageSize) at most (default 0: from the first)")
    static let forbidden = Response(403, "The link is not valid for this verification, or it expired", APISchemas.error)

    static func operations(key: [UInt8], clock: @escaping @Sendable () -> Date) -> [APIOperation] {
        [
            .api("POST", "/v1/verifications/{id}/timeline_links", id: "createTimelineLink",
                 summary: "A link to the verification's timeline page, valid 15 minutes, for someone without a key", scope: .read,
                 parameters: [APIParameters.id("id", "A verification's id (ver_…)")],
                 responses: [APIResponses.created("The link", link)],
                 .read { context in
                     let caller = try context.authenticated
                     let id = context.request.parameter("id")
                     try context.pool.withConnection { try AuditResource.requireOwnedVerification($0, caller, id) }
                     let expires = Int64(clock().timeIntervalSince1970 + lifetime)
                     let token = LinkToken.make(key: key, organizationID: caller.organizationID, livemode: caller.livemode, verificationID: id,
                                                expires: expires)
                     let path = id.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? id
                     return .json(201, ["object": "timeline_link", "url": .string("/ui/verifications/\(path)?token=\(token)"),
                                        "expires_at": .string(Timestamp.rfc3339(Date(timeIntervalSince1970: Double(expires))))])
                 }),

            .api("GET", "/ui/verifications/{id}", id: "viewTimeline", summary: "The verification's timeline, as an HTML page",
                 description: "Opened with a link's token, no key. Every event with its time, actor, changes (old → new), new "
                    + "response codes and a link to its inclusion proof, and the stream's chain checked now, "
                    + "\(TimelinePage.pageSize) events a page with links to the pages before and after. No script runs on it.",
                 scope: nil,
                 parameters: [APIParameters.id("id", "A verification's id (ver_…)"), token, after],
                 responses: [Response(200, "The page", .string(.init()), contentType: "text/html"), forbidden],
                 .read { context in
                     let id = context.request.parameter("id")
                     guard let claims = LinkToken.open(context.request.queryValue("token") ?? "", key: key, verificationID: id) else {
                         throw APIFailure(status: 403, type: "permission_error", code: "link_invalid",
                                          message: "this link is not valid for verification \(id)", param: "token")
                     }
                     let now = clock().timeIntervalSince1970
                     guard Double(claims.expires) > now, Double(claims.expires) <= now + lifetime + 60 else {
                         throw APIFailure(status: 403, type: "permission_error", code: "link_expired",
                                          message: "this link expired; ask for a new one", param: "token")
                     }
                     let pool = ScopedPool(context.pool.pool, scope: .tenant(organizationID: claims.organizationID, livemode: claims.livemode))
                     let vault = context.engine.vault
                     let after = try context.request.queryValue("after").map { text -> Int64 in
                         guard let version = Int64(text) else { throw APIFailure.invalid("after", "after is not a version") }
                         return version
                     } ?? 0
                     let (events, chain) = try pool.withConnection { connection -> ([RecordedEvent], ChainReport) in
                         let owned = try connection.query("SELECT entity_id FROM ledger.verifications WHERE organization_id = $1 AND id = $2 AND livemode = $3",
                                                          [claims.organizationID, id, claims.livemode])
                         guard owned.count == 1, let entity = owned.string(0, 0) else { throw APIFailure.notFound("verification", id) }
                         // The events up to the page's end, and one more to tell whether a later page exists; those before the page
                         // are folded only, so that its first change reads against the state before it.
                         var events = try EventStore.readStreamPage(connection, organizationID: claims.organizationID, streamID: id, afterVersion: 0,
                                                                    limit: Int(after) + TimelinePage.pageSize + 1)
                         if let vault {
                             // Shown while the entity's key exists; after erasure, the page shows no personal data.
                             let owner = DataKeyOwner(organizationID: claims.organizationID, entityID: entity)
                             let key = try vault.key(connection, owner, livemode: claims.livemode)
                             events = try events.map { event in
                                 var shown = event
                                 shown.data = try vault.open(eventType: event.type, stored: event.data, eventID: event.id, owner: owner, key: key)
                                 return shown
                             }
                         }
                         return (events, try ChainVerifier.verifyStream(connection, organizationID: claims.organizationID, streamID: id))
                     }
                     let nonce = Data(Digest.randomBytes(16) ?? Digest.sha256(UUID().uuidString)).base64EncodedString()
                     let shown = Array(Timeline.entries(id: id, events: events, after: after).prefix(TimelinePage.pageSize))
                     let page = TimelinePage.Page(after: after, hasLater: events.last.map { $0.version > (shown.last?.version ?? after) } ?? false,
                                                  token: context.request.queryValue("token") ?? "")
                     return HTTPResponse(status: 200, headers: [
                         ("Content-Type", "text/html; charset=utf-8"),
                         ("Content-Security-Policy", "default-src 'none'; style-src 'nonce-\(nonce)'; img-src 'none'; base-uri 'none'; "
                             + "form-action 'none'; frame-ancestors 'none'"),
                         // The token is in the address: it must not travel on in a Referer, nor stay in a cache.
                         ("Referrer-Policy", "no-referrer"), ("Cache-Control", "no-store"), ("X-Frame-Options", "DENY"),
                     ], body: Array(TimelinePage.html(id: id, entries: shown, chain: chain, page: page, nonce: nonce).utf8))
                 }),
        ]
    }
}

/// The page itself: plain HTML and one style sheet, every text escaped.
enum TimelinePage {
    static let pageSize = 50

    /// Where a page stands in the stream: after which version it starts, whether later events exist, and the
    /// link's token, which the links to the pages before and after carry on.
    struct Page {
        var after: Int64
        var hasLater: Bool
        var token: String
    }

    static func html(id: String, entries: [TimelineEntry], chain: ChainReport, page: Page, nonce: String) -> String {
        let chainLine: String
        if let broken = chain.firstBreak {
            chainLine = "<p id=\"chain\" class=\"broken\">Chain broken: \(escape(broken.description))</p>"
        } else {
            chainLine = "<p id=\"chain\" class=\"intact\">Chain intact: \(chain.eventsChecked) events checked now</p>"
        }
        let items = entries.map { entry -> String in
            let changes = entry.changes.map { change in
                "<tr><th>\(escape(change.path))</th><td class=\"old\">\(escape(change.old ?? "—"))</td><td>→</td>"
                    + "<td class=\"new\">\(escape(change.new ?? "—"))</td></tr>"
            }.joined()
            let codes = entry.newCodes.map { "<li>\(escape($0.check)): <b>\($0.code)</b> \(escape($0.summary))</li>" }.joined()
            let time = Timestamp.rfc3339(entry.occurredAt)
            return """
                <li class="event" id="event-\(entry.eventID.uuidString.lowercased())">
                <h2><time datetime="\(time)">\(time)</time> <span class="type">\(escape(entry.type))</span></h2>
                <p class="actor">by \(escape(entry.actor))</p>
                \(changes.isEmpty ? "<p class=\"nochange\">no change to the verification</p>" : "<table class=\"changes\">\(changes)</table>")
                \(codes.isEmpty ? "" : "<ul class=\"codes\">\(codes)</ul>")
                <p class="meta">version \(entry.version) · position \(entry.position) · <a href="/v1/events/\(entry.eventID.uuidString.lowercased())/proof">inclusion proof</a></p>
                </li>
                """
        }.joined(separator: "\n")
        func link(after version: Int64, rel: String, text: String) -> String {
            "<a rel=\"\(rel)\" href=\"?token=\(escape(page.token))&amp;after=\(version)\">\(text)</a>"
        }
        let shown = entries.isEmpty ? "no events after version \(page.after)"
            : "events \(entries.first?.version ?? 0)–\(entries.last?.version ?? 0) of \(chain.eventsChecked)"
        let navigation = [page.after > 0 ? link(after: max(0, page.after - Int64(pageSize)), rel: "prev", text: "← earlier events") : nil,
                          "<span>\(shown)</span>",
                          page.hasLater ? link(after: entries.last?.version ?? page.after, rel: "next", text: "later events →") : nil]
            .compactMap { $0 }.joined(separator: " · ")
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">
            <title>Verification \(escape(id)): timeline</title>
            <style nonce="\(nonce)">
            body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 62em; color: #222; }
            #chain { padding: .5em 1em; border-radius: 4px; } .intact { background: #e6f4ea; } .broken { background: #fce8e6; }
            ol { list-style: none; padding: 0; border-left: 3px solid #bbb; } li.event { margin: 0 0 1.5em 1.2em; }
            h2 { font-size: 1em; margin: 0; } time { color: #555; } .type { font-weight: 600; }
            table { border-collapse: collapse; margin: .3em 0; } th { text-align: left; font-weight: normal; color: #555; padding-right: 1em; }
            td { padding: 0 .4em; } .old { color: #a50e0e; } .new { color: #137333; } .meta, .actor, .nochange { color: #666; margin: .2em 0; }
            </style></head>
            <body>
            <h1>Verification <code>\(escape(id))</code></h1>
            \(chainLine)
            <nav id="pages">\(navigation)</nav>
            <ol id="timeline">
            \(items)
            </ol>
            </body></html>
            """
    }

    static func escape(_ text: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}
