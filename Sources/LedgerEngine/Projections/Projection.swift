import Foundation
import LedgerCrypto
import LedgerDomain
import LedgerStorage
import Synchronization

/// One stream as the projections and reactions see it: whose it is, its state and version, and its views,
/// rendered once when first asked for (the read models and the webhooks carry the same bytes; the state a
/// command started from is never rendered).
public struct StreamState: Sendable {
    public let organizationID: UUID
    public let verification: LoadedVerification
    /// How the stream's personal data is written: nil when encryption is off.
    public let sealing: StreamSealing?
    private let rendered = RenderedOnce()

    public init(organizationID: UUID, _ verification: LoadedVerification, sealing: StreamSealing? = nil) {
        self.organizationID = organizationID
        self.verification = verification
        self.sealing = sealing
    }

    public var views: RenderedViews { rendered.views(of: verification, sealing: sealing) }

    public var id: String { verification.id }
    public var state: VerificationState { verification.state }
    public var version: Int64 { verification.version }
}

/// One stream's entity key, as the writes of its documents need it.
public struct StreamSealing: Sendable {
    public let vault: PersonalDataVault
    public let owner: DataKeyOwner
    public let key: PersonalDataKey
    /// The kept key's check, when the writer sends it itself (`writing`, `checkSentByWriter`).
    public let check: DataKeyCheck?

    public init(vault: PersonalDataVault, owner: DataKeyOwner, key: PersonalDataKey, check: DataKeyCheck? = nil) {
        self.vault = vault
        self.owner = owner
        self.key = key
        self.check = check
    }

    /// How `state`'s stream writes its personal data: under its entity's key (created on first use; `offeringKey`: see
    /// `PersonalDataVault.keyForWriting`); nil without a vault (encryption off) or an invitation. `checkSentByWriter`:
    /// a kept key's check is left in `check`, for the writer to send with its statements (it must), instead of queued.
    public static func writing(_ tx: PostgresConnection, vault: PersonalDataVault?, organizationID: UUID,
                               _ state: VerificationState, offeringKey: Bool = false, checkSentByWriter: Bool = false) throws -> StreamSealing? {
        guard let vault, let invitation = state.invitation else { return nil }
        let owner = DataKeyOwner(organizationID: organizationID, entityID: invitation.entityID)
        guard checkSentByWriter else {
            return StreamSealing(vault: vault, owner: owner, key: try vault.keyForWriting(tx, owner, livemode: invitation.livemode,
                                                                                          offering: offeringKey))
        }
        let (key, check) = try vault.keyAndCheckForWriting(tx, owner, livemode: invitation.livemode, offering: offeringKey)
        return StreamSealing(vault: vault, owner: owner, key: key, check: check)
    }
}

/// What each sealed document's ciphertext is bound to, with its id: the writers and the readers name them alike.
public enum SealedDocumentKind {
    public static let customerVerification = "customer_verification"
    public static let validation = WebhookObject.validation.rawValue
    /// One Stripe report, bound to the report's id.
    public static let verificationReport = "verification_report"
    public static let snapshot = "snapshot"
}

extension StreamState {
    /// A document of this stream as its table keeps it, sealed like the verification and order documents: `render`
    /// of the state, with its personal data sealed under the entity's key (`kind` and `documentID` bound in), and
    /// without it (never in plain text) when it cannot be sealed or the key is destroyed.
    public func sealedDocument(kind: String, documentID: String, _ render: (VerificationState) -> String) -> String {
        var state = self.state
        if case .erased? = sealing?.key, !state.personalDataErased {
            state = state.personalDataRemoved
            state.personalDataErased = true
        }
        let full = render(state)
        guard let sealing, case .available = sealing.key else { return full }
        let plain = render(state.personalDataRemoved)
        return (try? sealing.vault.sealDocument(full: full, plain: plain, documentID: PersonalDataVault.documentID(kind: kind, streamID: documentID),
                                                owner: sealing.owner, key: sealing.key)) ?? plain
    }
}

/// The verification, order and validation objects as JSON text: `verification`, `order` and `validation` as the
/// database and the webhooks keep them (their personal data sealed when encryption is on), `shownVerification` as a
/// command answers with it.
public struct RenderedViews: Sendable {
    public let verification: String
    public let order: String?
    public let validation: String
    public let shownVerification: String

    public init(_ loaded: LoadedVerification, sealing: StreamSealing? = nil) {
        var state = loaded.state
        if case .erased? = sealing?.key, !state.personalDataErased {
            state = state.personalDataRemoved
            state.personalDataErased = true
        }
        let full = Self.render(loaded.id, state, loaded.version)
        shownVerification = full.verification
        guard let sealing, case .available = sealing.key else {
            (verification, order, validation) = full
            return
        }
        let plain = Self.render(loaded.id, state.personalDataRemoved, loaded.version)
        // A document that cannot be sealed is kept without its personal data, never with it in plain text.
        func seal(_ full: String, _ plain: String, _ kind: WebhookObject) -> String {
            (try? sealing.vault.sealDocument(full: full, plain: plain, documentID: PersonalDataVault.documentID(kind: kind.rawValue, streamID: loaded.id),
                                             owner: sealing.owner, key: sealing.key)) ?? plain
        }
        verification = seal(full.verification, plain.verification, .verification)
        order = both(full.order, plain.order).map { seal($0, $1, .order) }
        validation = seal(full.validation, plain.validation, .validation)
    }

    static func render(_ id: String, _ state: VerificationState, _ version: Int64) -> (verification: String, order: String?, validation: String) {
        (PersonalDataMarker.marking(VerificationView.object(id: id, state: state, version: version), state).jsonString,
         OrderView.object(id: id, state: state).map { PersonalDataMarker.marking($0, state).jsonString },
         PersonalDataMarker.marking(ValidationView.object(id: id, state: state), state).jsonString)
    }
}

private func both(_ first: String?, _ second: String?) -> (String, String)? {
    guard let first, let second else { return nil }
    return (first, second)
}

private final class RenderedOnce: Sendable {
    private let rendered = Mutex<RenderedViews?>(nil)

    func views(of loaded: LoadedVerification, sealing: StreamSealing?) -> RenderedViews {
        rendered.withLock { rendered in
            if let rendered { return rendered }
            let views = RenderedViews(loaded, sealing: sealing)
            rendered = views
            return views
        }
    }
}

/// A read-model table: every row belongs to one stream, named by its first two columns, `organization_id`
/// and `id`; a stream with several rows tells them apart by the columns after those (`keyLength`).
public struct ProjectionTable: Sendable {
    public let name: String
    /// Every column, `organization_id` and `id` first.
    public let columns: [String]
    /// How many of the first columns are the table's primary key: 2, or more when a stream has several rows.
    public let keyLength: Int
    /// When set, a stored row is replaced only by one of a newer stream version (commits may land out of order).
    public let versionColumn: String?
    /// Whether a stream's row can go away as its state moves on (the service may delete from this table).
    public let rowsCanDisappear: Bool
    /// The upsert of one row (parameters in column order), made once with the table rather than for every row written.
    let upsertSQL: String

    public init(name: String, columns: [String], keyLength: Int = 2, versionColumn: String?, rowsCanDisappear: Bool) {
        self.name = name
        self.columns = columns
        self.keyLength = keyLength
        self.versionColumn = versionColumn
        self.rowsCanDisappear = rowsCanDisappear
        let updates = columns.dropFirst(keyLength).map { "\($0) = excluded.\($0)" }.joined(separator: ", ")
        let guardVersion = versionColumn.map { " WHERE ledger.\(name).\($0) < excluded.\($0)" } ?? ""
        upsertSQL = """
            INSERT INTO ledger.\(name) (\(columns.joined(separator: ", ")))
            VALUES (\(columns.indices.map { "$\($0 + 1)" }.joined(separator: ", ")))
            ON CONFLICT (\(columns.prefix(keyLength).joined(separator: ", "))) DO UPDATE SET \(updates)\(guardVersion)
            """
    }

    /// The primary key's columns.
    public var key: [String] { Array(columns.prefix(keyLength)) }
}

/// One row, its values in the table's column order.
public struct ProjectionRow {
    public let values: [(any PostgresEncodable)?]

    public init(_ values: [(any PostgresEncodable)?]) { self.values = values }

    /// What the row holds, as PostgreSQL is sent it: rows with the same text are the same row.
    var text: [String?] { values.map { $0?.postgresText } }
}

/// A read model: named and versioned, with rows that are a pure function of one stream's state. The inline
/// writer (in the command's transaction) and a rebuild call the same `rows`.
public protocol Projection: Sendable {
    var name: String { get }
    /// Raised when `rows` changes what it makes of a state, so that stored rows are known to be out of date.
    var version: Int { get }
    var table: ProjectionTable { get }
    func rows(_ stream: StreamState) -> [ProjectionRow]
}

/// The read models written inline with every command.
public enum Projections {
    public static let inline: [any Projection] = [VerificationsProjection(), OrdersProjection(), DeadlinesProjection(),
                                                  CustomerVerificationsProjection(), ValidationsProjection(), VerificationReportsProjection(),
                                                  SnapshotsProjection()]

    /// The statements that bring the rows of `after`'s stream up to date. With `before` (the state the
    /// command decided on, whose rows are stored), only rows that differ are written and rows that went away
    /// are deleted; without it (the stored rows are unknown, as in a rebuild), every row is written and, where
    /// rows can disappear, the stream's others are deleted.
    public static func statements(_ projections: [any Projection] = inline, before: StreamState?,
                                  after: StreamState) -> [PostgresStatement] {
        projections.flatMap { projection -> [PostgresStatement] in
            let table = projection.table
            let rows = projection.rows(after)
            guard let before else {
                if rows.isEmpty && table.rowsCanDisappear { return [deleteAll(table, after)] }
                return rows.map { upsert(table, $0) }
            }
            // A row carrying the stream version differs from the stored one after every append, and never
            // goes away: no need to render the state before to know it is to be written.
            if table.versionColumn != nil, !table.rowsCanDisappear, before.version != after.version {
                return rows.map { upsert(table, $0) }
            }
            let stored = projection.rows(before)
            let storedText = stored.map(\.text)
            var statements = rows.filter { !storedText.contains($0.text) }.map { upsert(table, $0) }
            let keys = rows.map { Array($0.text.prefix(table.keyLength)) }
            if table.rowsCanDisappear, stored.contains(where: { !keys.contains(Array($0.text.prefix(table.keyLength))) }) {
                statements.append(deleteAll(table, after))
            }
            return statements
        }
    }

    /// `statements` (the upserts and deletes `statements(before:after:)` makes) as one statement of data-modifying
    /// CTEs, each with its parameters renumbered after the ones before: a command's read-model writes then cost
    /// PostgreSQL one statement's overhead (protocol messages, portal, snapshot, executor start and end) instead of
    /// one per row. They touch distinct rows, so running them in one statement (one snapshot) changes nothing.
    /// `query`, a SELECT of the same transaction whose rows nobody reads (the kept data key's check), becomes the
    /// statement's final SELECT, so that it costs no statement of its own either.
    public static func combined(_ statements: [PostgresStatement], then query: PostgresStatement? = nil) -> [PostgresStatement] {
        let all = statements + (query.map { [$0] } ?? [])
        guard statements.count > 1 || (query != nil && !statements.isEmpty) else { return all }
        let shape = CombinedShape(texts: all.map(\.0), parameterCounts: all.map(\.1.count), endsInQuery: query != nil)
        let text = combinedTexts.withLock { $0[shape] } ?? {
            var parts: [String] = []
            var offset = 0
            for (index, statement) in statements.enumerated() {
                parts.append("w\(index) AS (\(renumbered(statement.0, after: offset)))")
                offset += statement.1.count
            }
            let text = "WITH " + parts.joined(separator: ", ") + " " + (query.map { renumbered($0.0, after: offset) } ?? "SELECT")
            combinedTexts.withLock { texts in
                if texts.count >= 256 { texts.removeAll(keepingCapacity: true) }
                texts[shape] = text
            }
            return text
        }()
        return [(text, all.flatMap(\.1))]
    }

    /// What a combined statement's text depends on: the statements' texts and how many parameters each takes.
    private struct CombinedShape: Hashable {
        let texts: [String]
        let parameterCounts: [Int]
        let endsInQuery: Bool
    }

    /// The combined texts made so far: commands come in a few shapes (which read models a command changes), and
    /// looking a shape's text up costs less than renumbering its placeholders again for every command.
    private static let combinedTexts = Mutex<[CombinedShape: String]>([:])

    /// `sql` with each placeholder `$n` made `$(n + offset)`; the statements given have no `$` but in placeholders.
    static func renumbered(_ sql: String, after offset: Int) -> String {
        guard offset > 0 else { return sql }
        let dollar = UInt8(ascii: "$"), zero = UInt8(ascii: "0"), nine = UInt8(ascii: "9")
        let bytes = Array(sql.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 32)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            out.append(byte)
            guard byte == dollar, index < bytes.count, (zero...nine).contains(bytes[index]) else { continue }
            var number = 0
            while index < bytes.count, (zero...nine).contains(bytes[index]), number < 1_000_000 {
                number = number * 10 + Int(bytes[index] - zero)
                index += 1
            }
            out += Array(String(number + offset).utf8)
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func upsert(_ table: ProjectionTable, _ row: ProjectionRow) -> PostgresStatement { (table.upsertSQL, row.values) }

    static func deleteAll(_ table: ProjectionTable, _ stream: StreamState) -> PostgresStatement {
        deleteAll(table, organizationID: stream.organizationID, id: stream.id)
    }

    static func deleteAll(_ table: ProjectionTable, organizationID: UUID, id: String) -> PostgresStatement {
        ("DELETE FROM ledger.\(table.name) WHERE organization_id = $1 AND id = $2", [organizationID, id])
    }
}
