import Foundation
import LedgerDomain
import LedgerEngine
import LedgerHTTP
import LedgerStorage

/// The audit trail: history queries over the log itself, a stream's chain checked now, and the log's signed
/// checkpoints with inclusion and consistency proofs (the README's "Audit" section describes the algorithm).
enum AuditResource {
    static let cursor = Parameter.query("cursor", .text(maxLength: 41, pattern: "^(\(APIParameters.version)-\(APIParameters.version))?$"),
                                        description: "next_cursor of the previous page (empty or absent: from the start). An event "
                                            + "that commits late is never behind a cursor handed out before")
    /// Tree sizes as JSON numbers stay exact up to 2^53 − 1; no log comes near it.
    static let largestTreeSize: Int64 = 9_007_199_254_740_991
    /// A state-dependent refusal of a well-formed size: there is no such tree (yet), or it does not hold the event.
    static func noTree(_ param: String, _ message: String) -> APIFailure {
        APIFailure(status: 404, type: "invalid_request_error", code: "tree_size_unavailable", message: message, param: param)
    }
    static let limit = Parameter.query("limit", .integer(minimum: 1, maximum: 100), description: "1 to 100, default 100")
    static let time = Schema.anyOf([.dateTime, .integer(minimum: -62_135_596_800, maximum: 253_402_300_799)])
    static let filters: [Parameter] = [
        APIParameters.filter("type", "Only events of this type (VerificationInvited, ResultRecorded, …)"),
        APIParameters.filter("verification_id", "Only this verification's events"),
        APIParameters.filter("entity_id", "Only the events of this entity's verifications"),
        .query("actor_type", .choice(ActorType.self), description: "Only events caused by this kind of actor"),
        APIParameters.filter("actor_id", "Only events caused by this actor (an API key's id, system, …)"),
        .query("occurred_after", time, description: "Only events that occurred after this time (RFC 3339 or Unix seconds)"),
        .query("occurred_before", time, description: "Only events that occurred before this time (RFC 3339 or Unix seconds)"),
    ]

    static let auditEvent = Schema.named("AuditEvent", .extending(APISchemas.event, [
        APISchemas.P("verification_id", APISchemas.text, required: true, description: "The stream the event belongs to"),
        APISchemas.P("previous_hash", .string(.init(pattern: "^[0-9a-f]{64}$")), required: true),
    ]))
    static let history = Schema.named("EventHistory", .object([
        APISchemas.P("object", .constant("list"), required: true), APISchemas.P("url", APISchemas.text, required: true),
        APISchemas.P("has_more", .boolean, required: true), APISchemas.P("data", .array(of: auditEvent), required: true),
        APISchemas.P("next_cursor", APISchemas.text, required: true,
                     description: "Pass as cursor for the next page; with has_more false, poll with it for events still to come"),
    ]))
    static let checkpoint = Schema.named("Checkpoint", .object([
        APISchemas.P("object", .constant("checkpoint"), required: true), APISchemas.P("tree_size", .integer(minimum: 0), required: true),
        APISchemas.P("root_hash", APISchemas.text, required: true, description: "Base64, as in the note"),
        APISchemas.P("checkpoint", APISchemas.text, required: true, description: "The C2SP checkpoint, a signed note"),
        APISchemas.P("created_at", APISchemas.time, required: true),
    ]))
    static let base64Hashes = Schema.array(of: APISchemas.text)
    static let proof = Schema.named("InclusionProof", .object([
        APISchemas.P("leaf_index", .integer(minimum: 0), required: true), APISchemas.P("tree_size", .integer(minimum: 1), required: true),
        APISchemas.P("leaf_hash", APISchemas.text, required: true), APISchemas.P("inclusion_path", base64Hashes, required: true),
        APISchemas.P("checkpoint", APISchemas.text, required: true), APISchemas.P("event_position", .integer(minimum: 1), required: true),
        APISchemas.P("event_hash", .string(.init(pattern: "^[0-9a-f]{64}$")), required: true),
    ], description: "Exactly the document `ledger verify-proof` checks"))
    static let consistency = Schema.named("ConsistencyProof", .object([
        APISchemas.P("object", .constant("consistency_proof"), required: true),
        APISchemas.P("from", .integer(minimum: 1), required: true), APISchemas.P("to", .integer(minimum: 1), required: true),
        APISchemas.P("consistency_path", base64Hashes, required: true),
        APISchemas.P("from_checkpoint", APISchemas.text, required: true), APISchemas.P("to_checkpoint", APISchemas.text, required: true),
    ]))
    static let chain = Schema.named("ChainVerification", .object([
        APISchemas.P("object", .constant("chain_verification"), required: true),
        APISchemas.P("verification_id", APISchemas.text, required: true), APISchemas.P("intact", .boolean, required: true),
        APISchemas.P("events_checked", .integer(minimum: 0), required: true),
        APISchemas.P("first_break", .nullable(.object([
            APISchemas.P("version", .integer(), required: true), APISchemas.P("position", .nullable(.integer()), required: true),
            APISchemas.P("reason", .choice(ChainBreak.Reason.names), required: true), APISchemas.P("message", APISchemas.text, required: true),
        ])), required: true),
    ]))
    static let publicKey = Schema.named("CheckpointKey", .object([
        APISchemas.P("object", .constant("checkpoint_key"), required: true),
        APISchemas.P("origin", APISchemas.text, required: true, description: "The first line of every checkpoint, and the key's name"),
        APISchemas.P("key", APISchemas.text, required: true, description: "The verifier key, <name>+<key id>+<base64>, for `ledger verify-proof --public-key`"),
    ]))

    static func operations(signer: CheckpointSigner?) -> [APIOperation] {
        [
            .api("GET", "/v1/events", id: "listEvents", summary: "The organization's events in the order of the log",
                 description: "Every filter may be combined; pages follow the gap-safe feed through next_cursor.", scope: .read,
                 parameters: filters + [limit, cursor],
                 responses: [APIResponses.ok("A page of events", history)],
                 .read { context in try page(context, filter: try eventFilter(context.request), url: "/v1/events") }),

            .api("GET", "/v1/entities/{entity_id}/events", id: "listEntityEvents",
                 summary: "Every event of every verification of one entity, in the order of the log", scope: .read,
                 parameters: [.path("entity_id", .text(minLength: 1, maxLength: 200), description: "The entity"), limit, cursor],
                 responses: [APIResponses.ok("A page of events", history)],
                 .read { context in
                     let entity = try ownedEntity(context)
                     return try page(context, filter: EventFilter(entityID: entity), url: "/v1/entities/\(entity)/events")
                 }),

            .api("GET", "/v1/entities/{entity_id}/export", id: "exportEntityEvents",
                 summary: "Every event of one entity as NDJSON, streamed as it is read, for download",
                 description: "One AuditEvent per line in the order of the log, then one line {\"object\": \"export_summary\", "
                    + "\"entity_id\", \"event_count\", \"chain_heads\": [{\"verification_id\", \"version\", \"hash\"}]}. Chunked; the "
                    + "server holds a few pages whatever the history's length. A body without the summary line was cut short.",
                 scope: .read,
                 parameters: [.path("entity_id", .text(minLength: 1, maxLength: 200), description: "The entity")],
                 responses: [Response(200, "NDJSON: the events, then the summary", .string(.init()), contentType: "application/x-ndjson",
                                      headers: [Response.Header("Content-Disposition", .text(maxLength: 300), "attachment, with a file name")])],
                 .read { context in
                     let caller = try context.authenticated
                     let entity = try ownedEntity(context)
                     let pool = context.pool, vault = context.engine.vault
                     let fileName = String(entity.unicodeScalars.map { CharacterSet.alphanumerics.contains($0) || $0 == "_" || $0 == "-" ? Character($0) : "_" })
                     return HTTPResponse(status: 200, headers: [("Content-Type", "application/x-ndjson"),
                                                                ("Content-Disposition", "attachment; filename=\"\(fileName)-events.ndjson\"")],
                                         stream: HTTPBodyStream { write in
                         try export(pool: pool, organizationID: caller.organizationID, livemode: caller.livemode, entity: entity, vault: vault, write: write)
                     })
                 }),

            .api("GET", "/v1/verifications/{id}/chain", id: "verifyVerificationChain",
                 summary: "The verification's hash chain, checked now: the first broken link, if any", scope: .read,
                 parameters: [APIParameters.id("id", "A verification's id (ver_…)")],
                 responses: [APIResponses.ok("The outcome of the check", chain)],
                 .read { context in
                     let caller = try context.authenticated
                     let id = context.request.parameter("id")
                     let report = try context.pool.withConnection { connection -> ChainReport in
                         try requireOwnedVerification(connection, caller, id)
                         return try ChainVerifier.verifyStream(connection, organizationID: caller.organizationID, streamID: id)
                     }
                     return .json(200, ["object": "chain_verification", "verification_id": .string(id), "intact": .bool(report.isIntact),
                                        "events_checked": .int(Int64(report.eventsChecked)),
                                        "first_break": report.firstBreak.map { broken in
                                            .object([("version", .int(broken.version)), ("position", broken.position.map(JSONValue.int) ?? .null),
                                                     ("reason", .string(broken.reason.name)), ("message", .string(broken.description))])
                                        } ?? .null])
                 }),

            .api("GET", "/v1/checkpoints/public_key", id: "getCheckpointKey", summary: "The key that signs the log's checkpoints",
                 scope: nil, responses: [APIResponses.ok("The verifier key", publicKey), APIResponses.unavailable],
                 .read { _ in
                     let signer = try available(signer)
                     return .json(200, ["object": "checkpoint_key", "origin": .string(signer.key.name), "key": .string(signer.verifierKey.text)])
                 }),

            .api("GET", "/v1/checkpoints/latest", id: "getLatestCheckpoint", summary: "The newest signed checkpoint of the log",
                 description: "404 until the first checkpoint is signed (LEDGER_CHECKPOINT_SECONDS after the first event).", scope: .read,
                 responses: [APIResponses.ok("The checkpoint", checkpoint), APIResponses.notFound],
                 .read { context in
                     _ = try available(signer)
                     guard let latest = try context.pool.withConnection({ try MerkleLog.latestCheckpoint($0) }) else {
                         throw APIFailure(status: 404, type: "invalid_request_error", code: "resource_missing",
                                          message: "no checkpoint has been signed yet", param: nil)
                     }
                     return .json(200, checkpointJSON(latest))
                 }),

            .api("GET", "/v1/checkpoints", id: "getCheckpoint", summary: "The signed checkpoint of one tree size, signed now if need be",
                 scope: .read,
                 parameters: [Parameter("tree_size", in: .query, .integer(minimum: 0, maximum: largestTreeSize), required: true,
                                        description: "A tree size up to the log's current one")],
                 responses: [APIResponses.ok("The checkpoint", checkpoint), APIResponses.notFound],
                 .read { context in
                     let signer = try available(signer)
                     let size = try treeSize(context.request, "tree_size")
                     guard let made = try context.pool.withConnection({ try signer.checkpoint($0, treeSize: size) }) else {
                         throw noTree("tree_size", "the log's tree has fewer than \(size) leaves")
                     }
                     return .json(200, checkpointJSON(made))
                 }),

            .api("GET", "/v1/checkpoints/consistency", id: "getConsistencyProof",
                 summary: "The RFC 9162 consistency proof between two tree sizes, with both checkpoints", scope: .read,
                 parameters: [Parameter("from", in: .query, .integer(minimum: 1, maximum: largestTreeSize), required: true,
                                        description: "The smaller tree size (404 when it is the larger)"),
                              Parameter("to", in: .query, .integer(minimum: 1, maximum: largestTreeSize), required: true,
                                        description: "The larger tree size, up to the log's")],
                 responses: [APIResponses.ok("The proof", consistency), APIResponses.notFound],
                 .read { context in
                     let signer = try available(signer)
                     let from = try treeSize(context.request, "from"), to = try treeSize(context.request, "to")
                     guard from <= to else { throw noTree("from", "no consistency proof leads from a larger tree (\(from)) to a smaller one (\(to))") }
                     return try context.pool.withConnection { connection in
                         let known = try MerkleLog.checkpoints(connection, treeSizes: [from, to])
                         guard to <= known.leafCount else { throw noTree("to", "the log's tree has fewer than \(to) leaves") }
                         let (firstRoot, path) = try MerkleTree(hasher: signer.hasher, store: StoredMerkleTree(connection, leafCount: known.leafCount))
                             .rootAndConsistencyProof(from: from, to: to)
                         let first = try known.stored[from] ?? signer.checkpoint(connection, treeSize: from, rootHash: firstRoot)
                         guard let second = try known.stored[to] ?? signer.checkpoint(connection, treeSize: to) else {
                             throw noTree("to", "the log's tree has fewer than \(to) leaves")
                         }
                         return .json(200, ["object": "consistency_proof", "from": .int(Int64(clamping: from)), "to": .int(Int64(clamping: to)),
                                            "consistency_path": .array(path.map { .string(base64($0)) }),
                                            "from_checkpoint": .string(first.note), "to_checkpoint": .string(second.note)])
                     }
                 }),

            .api("GET", "/v1/events/{event_id}/proof", id: "getEventProof",
                 summary: "The inclusion proof of one event in a signed checkpoint, for `ledger verify-proof`",
                 description: "Without tree_size, in the latest checkpoint that holds the event (signed now if none does yet). "
                    + "409 event_not_in_tree_yet for an event the background step has not appended yet (seconds).",
                 scope: .read,
                 parameters: [.path("event_id", .text(minLength: 1, maxLength: 100), description: "An event's id"),
                              .query("tree_size", .integer(minimum: 1, maximum: largestTreeSize),
                                     description: "A tree size that holds the event (404 tree_size_unavailable for one that does not)")],
                 responses: [APIResponses.ok("The proof", proof), APIResponses.conflict],
                 .read { context in
                     let caller = try context.authenticated
                     let signer = try available(signer)
                     let eventID = context.request.parameter("event_id")
                     let requested = try context.request.queryValue("tree_size").map { _ in try treeSize(context.request, "tree_size") }
                     return try context.pool.withConnection { connection in
                         let document = try inclusionProof(connection, signer: signer, organizationID: caller.organizationID,
                                                           livemode: caller.livemode, eventID: eventID, treeSize: requested)
                         return .json(200, document.json)
                     }
                 }),
        ]
    }

    /// The proof of one of the caller's events: the leaf as the tree holds it, the event's hash as the log
    /// holds it now (so a rewritten event no longer matches its leaf), the path and the checkpoint.
    static func inclusionProof(_ connection: PostgresConnection, signer: CheckpointSigner, organizationID: UUID, livemode: Bool,
                               eventID: String, treeSize requested: UInt64?) throws -> ProofDocument {
        guard let id = UUID(uuidString: eventID),
              let start = try MerkleLog.proofStart(connection, organizationID: organizationID, livemode: livemode, eventID: id, treeSize: requested) else {
            throw APIFailure.notFound("event", eventID, param: "event_id")
        }
        guard let leafIndex = start.leafIndex else {
            throw APIFailure(status: 409, type: "invalid_request_error", code: "event_not_in_tree_yet",
                             message: "event \(eventID) is not in the log's tree yet; it is appended within seconds of its commit", param: "event_id")
        }
        let size: UInt64
        if let requested {
            guard requested > leafIndex else {
                throw noTree("tree_size", "the event is leaf \(leafIndex): a tree that holds it has more than \(leafIndex) leaves")
            }
            size = requested
        } else if let latest = start.checkpoint, latest.treeSize > leafIndex {
            size = latest.treeSize
        } else {
            size = start.leafCount
        }
        guard let checkpoint = try start.checkpoint.flatMap({ $0.treeSize == size ? $0 : nil }) ?? signer.checkpoint(connection, treeSize: size) else {
            throw noTree("tree_size", "the log's tree has fewer than \(size) leaves")
        }
        let (leafHash, path) = try MerkleTree(hasher: signer.hasher, store: StoredMerkleTree(connection, leafCount: start.leafCount))
            .leafAndInclusionProof(leafIndex: leafIndex, treeSize: size)
        return ProofDocument(leafIndex: leafIndex, treeSize: size, leafHash: leafHash, inclusionPath: path, checkpoint: checkpoint.note,
                             event: .init(position: start.position, chainHash: start.hash))
    }

    static let exportPageSize = 1_000

    /// The entity's events a page at a time, each page written as one piece: the server holds a page and its
    /// send buffer, whatever the history's length. One query behind a cursor finds and orders them once; its
    /// transaction reads only (it holds back no writer and no feed reader).
    static func export(pool: ScopedPool, organizationID: UUID, livemode: Bool, entity: String, vault: PersonalDataVault? = nil,
                       write: ([UInt8]) throws -> Void) throws {
        var count: Int64 = 0
        var heads: [String: (version: Int64, hash: String)] = [:]
        var order: [String] = []
        try pool.transaction { transaction in
            try EventStore.forEachHistoryPage(transaction, organizationID: organizationID, livemode: livemode,
                                              filter: EventFilter(entityID: entity), pageSize: exportPageSize, vault: vault) { page in
                for run in page.streamRuns {
                    if heads[run.streamID] == nil { order.append(run.streamID) }
                    heads[run.streamID] = (run.version, run.hash)
                }
                count += Int64(page.eventCount)
                try write(page.lines)
            }
        }
        let summary: JSONValue = ["object": "export_summary", "entity_id": .string(entity), "event_count": .int(count),
                                  "chain_heads": .array(order.compactMap { id in
                                      heads[id].map { ["verification_id": .string(id), "version": .int($0.version), "hash": .string($0.hash)] }
                                  })]
        try write(summary.encoded() + [UInt8(ascii: "\n")])
    }

    private static func page(_ context: RequestContext, filter: EventFilter, url: String) throws -> HTTPResponse {
        let caller = try context.authenticated
        let limit = context.request.queryValue("limit").flatMap { Int($0) } ?? 100
        let after = try ListQuery.filter(context.request, "cursor").map { text in
            guard let cursor = FeedCursor(text) else { throw APIFailure.invalid("cursor", "cursor \(text) is not one this API handed out") }
            return cursor
        } ?? .start
        let vault = context.engine.vault
        let events = try context.pool.withConnection {
            try EventStore.readHistory($0, organizationID: caller.organizationID, livemode: caller.livemode, filter: filter,
                                       after: after, limit: limit + 1, vault: vault)
        }
        let shown = events.prefix(limit)
        return .json(200, ["object": "list", "url": .string(url), "has_more": .bool(events.count > limit),
                           "data": .array(shown.map(eventJSON)), "next_cursor": .string((shown.last?.feedCursor ?? after).description)])
    }

    static func eventJSON(_ event: RecordedEvent) -> JSONValue {
        guard case var .object(members) = VerificationsResource.eventJSON(event) else { return VerificationsResource.eventJSON(event) }
        members.append(("verification_id", .string(event.streamID)))
        members.append(("previous_hash", .string(event.previousHash.hexString)))
        return .object(members)
    }

    /// 404 unless the caller has verification `id` in this mode (as for any object of another tenant).
    static func requireOwnedVerification(_ connection: PostgresConnection, _ caller: Caller, _ id: String) throws {
        let owned = try connection.query("SELECT 1 FROM ledger.verifications WHERE organization_id = $1 AND id = $2 AND livemode = $3",
                                         [caller.organizationID, id, caller.livemode])
        guard owned.count == 1 else { throw APIFailure.notFound("verification", id) }
    }

    /// The entity of the path, if the caller has a verification of it in this mode (404 otherwise, as for any
    /// object of another tenant).
    static func ownedEntity(_ context: RequestContext) throws -> String {
        try context.pool.withConnection { try EntitiesResource.owned(context, $0).1 }
    }

    private static func eventFilter(_ request: HTTPRequest) throws -> EventFilter {
        EventFilter(type: ListQuery.filter(request, "type"), verificationID: ListQuery.filter(request, "verification_id"),
                    entityID: ListQuery.filter(request, "entity_id"), actorType: request.queryValue("actor_type"),
                    actorID: ListQuery.filter(request, "actor_id"), occurredAfter: ListQuery.time(request, "occurred_after"),
                    occurredBefore: ListQuery.time(request, "occurred_before"))
    }

    private static func available(_ signer: CheckpointSigner?) throws -> CheckpointSigner {
        guard let signer else {
            throw APIFailure(status: 503, type: "api_error", code: "checkpoints_unavailable",
                             message: "this instance has no checkpoint key (LEDGER_CHECKPOINT_KEY or LEDGER_CHECKPOINT_KEY_FILE)", param: nil)
        }
        return signer
    }

    /// A tree size the declaration accepted (digits within Int64).
    private static func treeSize(_ request: HTTPRequest, _ name: String) throws -> UInt64 {
        guard let value = request.queryValue(name).flatMap({ UInt64($0) }) else { throw APIFailure.invalid(name, "\(name) is not a tree size") }
        return value
    }

    private static func checkpointJSON(_ checkpoint: StoredCheckpoint) -> JSONValue {
        ["object": "checkpoint", "tree_size": .int(Int64(clamping: checkpoint.treeSize)), "root_hash": .string(base64(checkpoint.rootHash)),
         "checkpoint": .string(checkpoint.note), "created_at": .string(Timestamp.rfc3339(checkpoint.createdAt))]
    }

    private static func base64(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }
}
