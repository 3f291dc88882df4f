import CLibPQ
import Foundation
import LedgerDomain

public enum PostgresError: Error, CustomStringConvertible, Sendable {
    /// The server answered with an error; `sqlState` is its five-character code.
    case server(sqlState: String, message: String, detail: String?, constraint: String?)
    /// No usable connection: the server is down, unreachable or the connection broke.
    case connection(String)
    /// The pool had no free connection before the deadline.
    case poolExhausted

    public var description: String {
        switch self {
        case let .server(state, message, detail, _):
            return "PostgreSQL error \(state): \(message)" + (detail.map { " (\($0))" } ?? "")
        case let .connection(message): return "PostgreSQL connection failed: \(message)"
        case .poolExhausted: return "no database connection became free in time"
        }
    }

    public var sqlState: String? {
        if case let .server(state, _, _, _) = self { return state }
        return nil
    }

    /// True when the database could not be reached at all, as opposed to refusing a statement.
    public var isUnavailable: Bool {
        switch self {
        case .connection, .poolExhausted: return true
        case let .server(state, _, _, _):
            // Class 08 is connection exceptions, 57P0x the server shutting down or starting up.
            return state.hasPrefix("08") || state.hasPrefix("57P")
        }
    }
}

/// A value bound to a statement parameter, sent in PostgreSQL's text format.
public protocol PostgresEncodable {
    var postgresText: String { get }
}

extension String: PostgresEncodable { public var postgresText: String { self } }
extension Int: PostgresEncodable { public var postgresText: String { String(self) } }
extension Int32: PostgresEncodable { public var postgresText: String { String(self) } }
extension Int64: PostgresEncodable { public var postgresText: String { String(self) } }
extension UInt64: PostgresEncodable { public var postgresText: String { String(self) } }
extension Double: PostgresEncodable { public var postgresText: String { String(self) } }
extension Bool: PostgresEncodable { public var postgresText: String { self ? "t" : "f" } }
extension UUID: PostgresEncodable {
    /// Lower-case, as PostgreSQL prints a uuid; written here rather than by `uuidString.lowercased()` (which formats
    /// through libc's printf, then makes a second string): every row a replay writes starts with one.
    public var postgresText: String {
        let digits: StaticString = "0123456789abcdef"
        return withUnsafeBytes(of: uuid) { bytes in
            String(unsafeUninitializedCapacity: 36) { text in
                var index = 0
                for (position, byte) in bytes.enumerated() {
                    if position == 4 || position == 6 || position == 8 || position == 10 {
                        text[index] = UInt8(ascii: "-")
                        index += 1
                    }
                    text[index] = digits.utf8Start[Int(byte >> 4)]
                    text[index + 1] = digits.utf8Start[Int(byte & 0xF)]
                    index += 2
                }
                return index
            }
        }
    }

    /// The uuid PostgreSQL prints (36 characters, lower-case hex), read without libc's scanf, which is what
    /// `UUID(uuidString:)` reads with; nil for any other text.
    init?(postgresText text: UnsafeBufferPointer<UInt8>) {
        guard text.count == 36 else { return nil }
        var bytes: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        let parsed = withUnsafeMutableBytes(of: &bytes) { bytes -> Bool in
            var index = 0
            func nibble(_ character: UInt8) -> UInt8? {
                switch character {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): return character - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): return character - UInt8(ascii: "a") + 10
                default: return nil
                }
            }
            for position in 0..<16 {
                if position == 4 || position == 6 || position == 8 || position == 10 {
                    guard text[index] == UInt8(ascii: "-") else { return false }
                    index += 1
                }
                guard let high = nibble(text[index]), let low = nibble(text[index + 1]) else { return false }
                bytes[position] = high << 4 | low
                index += 2
            }
            return true
        }
        guard parsed else { return nil }
        self.init(uuid: bytes)
    }
}
extension JSONValue: PostgresEncodable { public var postgresText: String { jsonString } }
extension Date: PostgresEncodable { public var postgresText: String { PostgresTimestamp.format(self) } }

/// bytea, sent in hex form.
public struct ByteA: PostgresEncodable, Sendable {
    public var bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public var postgresText: String {
        let digits = Array("0123456789abcdef".utf8)
        var chars: [UInt8] = [92, UInt8(ascii: "x")]
        chars.reserveCapacity(2 + bytes.count * 2)
        for b in bytes { chars.append(digits[Int(b >> 4)]); chars.append(digits[Int(b & 0xF)]) }
        return String(decoding: chars, as: UTF8.self)
    }
}

/// A one-dimensional array in PostgreSQL's text form: every element quoted, `"` and `\` escaped; nil is NULL.
public struct PostgresArray: PostgresEncodable, Sendable {
    public var elements: [String?]
    public init(_ elements: [String]) { self.elements = elements }
    public init(nullable elements: [String?]) { self.elements = elements }
    public var postgresText: String {
        var bytes: [UInt8] = [UInt8(ascii: "{")]
        bytes.reserveCapacity(elements.reduce(2) { $0 + ($1?.utf8.count ?? 4) + 3 })
        for (index, element) in elements.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            guard let element else {
                bytes += Array("NULL".utf8)
                continue
            }
            bytes.append(UInt8(ascii: "\""))
            for byte in element.utf8 {
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { bytes.append(UInt8(ascii: "\\")) }
                bytes.append(byte)
            }
            bytes.append(UInt8(ascii: "\""))
        }
        bytes.append(UInt8(ascii: "}"))
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// The rows of one statement, read in text format.
public final class PostgresRows {
    private let result: OpaquePointer
    public let count: Int
    public let columnCount: Int

    init(_ result: OpaquePointer) {
        self.result = result
        count = Int(PQntuples(result))
        columnCount = Int(PQnfields(result))
    }

    deinit { PQclear(result) }

    public func column(named name: String) -> Int? {
        let index = PQfnumber(result, name)
        return index < 0 ? nil : Int(index)
    }

    /// A cell outside the result counts as NULL: libpq's counts fit in Int32, so the conversions never trap.
    public func isNull(_ row: Int, _ column: Int) -> Bool {
        guard (0..<count).contains(row), (0..<columnCount).contains(column) else { return true }
        return PQgetisnull(result, Int32(row), Int32(column)) == 1
    }

    /// The cell's text, its length as libpq gives it rather than found by a scan for its end (a stored document is kilobytes).
    public func string(_ row: Int, _ column: Int) -> String? {
        withText(row, column) { String(decoding: $0, as: UTF8.self) }
    }

    /// Appends a cell's text to `buffer` as its bytes, with no string in between (a long read's documents);
    /// false for NULL.
    public func appendText(_ row: Int, _ column: Int, to buffer: inout [UInt8]) -> Bool {
        withText(row, column) { buffer.append(contentsOf: $0) } != nil
    }

    /// A cell's text as its bytes, lent to `body` (valid only inside it); nil for NULL.
    public func withText<T>(_ row: Int, _ column: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> T) rethrows -> T? {
        guard !isNull(row, column), let value = PQgetvalue(result, Int32(row), Int32(column)) else { return nil }
        let length = Int(PQgetlength(result, Int32(row), Int32(column)))
        return try value.withMemoryRebound(to: UInt8.self, capacity: length) { try body(UnsafeBufferPointer(start: $0, count: length)) }
    }

    public func int64(_ row: Int, _ column: Int) -> Int64? { string(row, column).flatMap { Int64($0) } }
    public func int(_ row: Int, _ column: Int) -> Int? { string(row, column).flatMap { Int($0) } }
    public func uint64(_ row: Int, _ column: Int) -> UInt64? { string(row, column).flatMap { UInt64($0) } }
    public func bool(_ row: Int, _ column: Int) -> Bool? { withText(row, column) { $0.first == UInt8(ascii: "t") } }
    public func uuid(_ row: Int, _ column: Int) -> UUID? {
        withText(row, column) { UUID(postgresText: $0) ?? UUID(uuidString: String(decoding: $0, as: UTF8.self)) } ?? nil
    }
    public func date(_ row: Int, _ column: Int) -> Date? { string(row, column).flatMap(Timestamp.parse) }

    public func json(_ row: Int, _ column: Int) -> JSONValue? {
        guard let text = string(row, column) else { return nil }
        return try? JSONValue.parse(Array(text.utf8), maxDepth: 512)
    }

    /// bytea in the server's default hex output form (`\x…`).
    public func bytes(_ row: Int, _ column: Int) -> [UInt8]? {
        withText(row, column) { text -> [UInt8]? in
            guard text.count >= 2, text[0] == UInt8(ascii: "\\"), text[1] == UInt8(ascii: "x") else { return nil }
            return [UInt8](hexDigits: UnsafeBufferPointer(rebasing: text[2...]))
        } ?? nil
    }
}

/// Rows in the text format of `COPY … FROM STDIN`: values by tab, rows by newline, NULL as `\N`, and backslash,
/// tab, newline and carriage return escaped in values.
public struct PostgresCopyRows: Sendable {
    public private(set) var bytes: [UInt8] = []
    public private(set) var count = 0

    public init() {}

    public mutating func append(_ values: [(any PostgresEncodable)?]) {
        for (index, value) in values.enumerated() {
            if index > 0 { bytes.append(0x09) }
            guard let value else {
                bytes.append(contentsOf: [0x5C, 0x4E])
                continue
            }
            var text = value.postgresText
            text.withUTF8 { appendEscaped($0) }
        }
        bytes.append(0x0A)
        count += 1
    }

    /// `text` with backslash, tab, newline and carriage return escaped, the runs between them appended whole (a
    /// replay's rows are mostly documents of kilobytes, and appending them a byte at a time was most of building them).
    private mutating func appendEscaped(_ text: UnsafeBufferPointer<UInt8>) {
        var start = 0
        for index in 0..<text.count {
            let escaped: UInt8
            switch text[index] {
            case 0x5C: escaped = 0x5C
            case 0x09: escaped = 0x74
            case 0x0A: escaped = 0x6E
            case 0x0D: escaped = 0x72
            default: continue
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: text[start..<index]))
            bytes.append(0x5C)
            bytes.append(escaped)
            start = index + 1
        }
        bytes.append(contentsOf: UnsafeBufferPointer(rebasing: text[start...]))
    }
}

/// A statement and its parameters.
public typealias PostgresStatement = (String, [(any PostgresEncodable)?])

/// A statement with its parameters already in PostgreSQL's text form. Queued statements are rendered when
/// queued, on the thread that made them, rather than by whichever thread sends them (a commit thread sends
/// many requests' statements, one after the other).
struct RenderedStatement: Equatable {
    let sql: String
    let parameters: [String?]

    init(_ statement: PostgresStatement) {
        sql = statement.0
        parameters = statement.1.map { $0?.postgresText }
    }
}

/// Statements queued in a transaction to travel with its next round trip. `setting` names what a group of
/// settings sets for the rest of the transaction (its scope, a planner setting); a batch of handed-over writes
/// leaves such a group out when the same statement has already set it in that batch's transaction.
fileprivate struct WaitingGroup {
    let statements: [RenderedStatement]
    let mapError: (Error) -> Error
    var setting: String? = nil
}

/// The queued writes and commit actions of a transaction that sent nothing (see
/// `PostgresConnection.transaction(_:handingOverWrites:)`). Owned by one thread at a time: the one that made
/// it, then the one that commits it.
public struct HandedOverWrites: @unchecked Sendable {
    fileprivate let groups: [WaitingGroup]
    fileprivate let actions: [() -> Void]
}

/// One libpq connection. Not thread-safe: a pool hands it to one thread at a time.
public final class PostgresConnection {
    private let raw: OpaquePointer
    private var preparedNames: [String: String] = [:]
    /// Set by `transaction`: the next statement is sent together with BEGIN.
    private var beginPending = false
    /// Statements of the open transaction waiting for its next round trip (see `sendWithNextRoundTrip`).
    private var waiting: [WaitingGroup] = []
    private var commitActions: [() -> Void] = []
    public private(set) var isBroken = false
    /// Whose rows the connection's transactions may touch (row-level security, `Schema/019`): each transaction
    /// opens with the scope's settings, and a statement sent outside a transaction runs in one of its own that
    /// does. The pool sets it for the time a caller holds the connection.
    public var scope: DatabaseScope?
    /// What it was opened with, so that a caller can open another to the same database.
    public let conninfo: String

    public init(conninfo: String) throws {
        self.conninfo = conninfo
        guard let connection = PQconnectdb(conninfo) else { throw PostgresError.connection("out of memory") }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(connection)).trimmingCharacters(in: .whitespacesAndNewlines)
            PQfinish(connection)
            throw PostgresError.connection(message)
        }
        // Server notices ("relation already exists, skipping") are not errors and not for standard error.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        raw = connection
    }

    deinit { PQfinish(raw) }

    public var serverProcessID: Int32 { PQbackendPID(raw) }

    public var isInTransaction: Bool { PQtransactionStatus(raw) != PQTRANS_IDLE }

    /// Runs one parameterised statement, prepared once per connection and reused.
    @discardableResult
    public func query(_ sql: String, _ parameters: [(any PostgresEncodable)?] = []) throws -> PostgresRows {
        if beginPending || !waiting.isEmpty || needsOwnTransaction { return try pipeline([(sql, parameters)])[0] }
        let statement = RenderedStatement((sql, parameters))
        let name = try preparedName(sql, parameterCount: statement.parameters.count)
        let result = withCStrings(statement.parameters) { pointers in
            PQexecPrepared(raw, name, Int32(pointers.count), pointers, nil, nil, 0)
        }
        return try check(result, sql: sql)
    }

    /// Runs one parameterised statement like `query`, and `meanwhile` while the server works on it (a reader of
    /// pages puts the last page to use as the next one is made). The rows are read once `meanwhile` is done; if it
    /// throws, they are read all the same, so that the connection stays usable, and its error is thrown.
    public func query(_ sql: String, _ parameters: [(any PostgresEncodable)?] = [],
                      meanwhile: () throws -> Void) throws -> PostgresRows {
        guard !beginPending && waiting.isEmpty && !needsOwnTransaction else {
            try meanwhile()
            return try query(sql, parameters)
        }
        let statement = RenderedStatement((sql, parameters))
        let name = try preparedName(sql, parameterCount: statement.parameters.count)
        guard sendPrepared(statement, as: name) else {
            isBroken = PQstatus(raw) != CONNECTION_OK
            throw PostgresError.connection(String(cString: PQerrorMessage(raw)))
        }
        let done = Result { try meanwhile() }
        let rows = nextResult(sql: sql)
        try done.get()
        return try rows.get()
    }

    /// Sends several statements in one round trip (libpq's pipeline mode) and returns their rows in order.
    /// The first error is thrown once every result has been read.
    public func pipeline(_ statements: [PostgresStatement]) throws -> [PostgresRows] {
        try roundTrip(statements.map { .prepared(RenderedStatement($0)) }).map { try $0.get() }
    }

    /// Inside `transaction`: queues write statements whose rows nobody reads, to travel with the transaction's
    /// next round trip, at the latest with its COMMIT, so that they cost no round trip of their own. If one
    /// fails, the error `mapError` makes of it fails that round trip and the transaction.
    public func sendWithNextRoundTrip(_ statements: [PostgresStatement], mapError: @escaping (Error) -> Error = { $0 }) {
        waiting.append(WaitingGroup(statements: statements.map(RenderedStatement.init), mapError: mapError))
    }

    /// Inside `transaction`: queues `statement`, which sets `setting` for the rest of the transaction (`SET LOCAL`,
    /// `set_config(…, true)`), to travel with the next round trip like `sendWithNextRoundTrip`. When these writes are
    /// handed over and committed in a batch, it is sent only if the batch's transaction has not run the very same
    /// statement for `setting` already: a batch of one tenant's commands sets each thing once.
    public func setForTransaction(_ setting: String, _ statement: PostgresStatement) {
        waiting.append(WaitingGroup(statements: [RenderedStatement(statement)], mapError: { $0 }, setting: setting))
    }

    /// Inside `transaction`: runs `action` once the transaction has committed, never if it rolls back.
    public func afterCommit(_ action: @escaping () -> Void) {
        commitActions.append(action)
    }

    private enum Item {
        case prepared(RenderedStatement)
        /// BEGIN and COMMIT, which take no parameters.
        case control(String)
    }

    /// A scoped statement outside any transaction gets one of its own, which opens with the scope.
    private var needsOwnTransaction: Bool { scope != nil && !beginPending && !isInTransaction }

    /// BEGIN and the scope's settings.
    private var opening: [Item] {
        [.control("BEGIN")] + (scope.map { [Item.prepared(RenderedStatement($0.statement))] } ?? [])
    }

    /// One round trip: BEGIN (and the scope) if it is owed, the waiting statements, then `items`. Returns the
    /// results of `items`; throws what the first failing waiting statement maps its error to.
    private func roundTrip(_ items: [Item]) throws -> [Result<PostgresRows, Error>] {
        let queued = waiting
        waiting = []
        let ownTransaction = needsOwnTransaction
        let opened = beginPending || ownTransaction ? opening : []
        let all = opened + queued.flatMap { $0.statements.map { Item.prepared($0) } } + items
            + (ownTransaction ? [Item.control("COMMIT")] : [])
        let results = try send(all)
        beginPending = false
        if ownTransaction { endAbortedTransaction() }
        for result in results[0..<opened.count] {
            if case let .failure(error) = result { throw error }
        }
        var offset = opened.count
        for group in queued {
            for result in results[offset..<(offset + group.statements.count)] {
                if case let .failure(error) = result { throw group.mapError(error) }
            }
            offset += group.statements.count
        }
        let answers = Array(results[offset..<(offset + items.count)])
        if ownTransaction, answers.allSatisfy({ if case .success = $0 { true } else { false } }),
           case let .failure(error)? = results.last {
            throw error
        }
        return answers
    }

    /// A transaction of a statement's own stays open when the statement failed (its COMMIT was skipped).
    private func endAbortedTransaction() {
        guard isInTransaction && !isBroken else { return }
        _ = try? check(PQexec(raw, "ROLLBACK"), sql: "ROLLBACK")
    }

    private func send(_ items: [Item]) throws -> [Result<PostgresRows, Error>] {
        let names = try items.map { item -> String? in
            guard case let .prepared(statement) = item else { return nil }
            return try preparedName(statement.sql, parameterCount: statement.parameters.count)
        }
        guard PQenterPipelineMode(raw) == 1 else { throw PostgresError.connection(String(cString: PQerrorMessage(raw))) }
        defer { if PQexitPipelineMode(raw) != 1 { isBroken = true } }
        for (index, item) in items.enumerated() {
            let sent: Bool
            switch item {
            case let .control(sql):
                sent = PQsendQueryParams(raw, sql, 0, nil, nil, nil, nil, 0) == 1
            case let .prepared(statement):
                sent = sendPrepared(statement, as: names[index])
            }
            guard sent else {
                // Results of what was already sent are still owed; this connection cannot be reused.
                isBroken = true
                throw PostgresError.connection(String(cString: PQerrorMessage(raw)))
            }
        }
        PQpipelineSync(raw)
        // One result (then a NULL) per item, then the sync point.
        let results = items.map { item -> Result<PostgresRows, Error> in
            switch item {
            case let .control(sql): nextResult(sql: sql)
            case let .prepared(statement): nextResult(sql: statement.sql)
            }
        }
        while let result = PQgetResult(raw) {
            let status = PQresultStatus(result)
            PQclear(result)
            if status == PGRES_PIPELINE_SYNC { break }
        }
        if PQstatus(raw) != CONNECTION_OK { isBroken = true }
        return results
    }

    private func sendPrepared(_ statement: RenderedStatement, as name: String?) -> Bool {
        withCStrings(statement.parameters) { pointers in
            PQsendQueryPrepared(raw, name, Int32(pointers.count), pointers, nil, nil, 0)
        } == 1
    }

    /// The result of the next statement sent; libpq follows each statement's result with a NULL.
    private func nextResult(sql: String) -> Result<PostgresRows, Error> {
        let result = PQgetResult(raw)
        while let extra = PQgetResult(raw) { PQclear(extra) }
        return Result { try check(result, sql: sql) }
    }

    private func preparedName(_ sql: String, parameterCount: Int) throws -> String {
        if let known = preparedNames[sql] { return known }
        let name = "s\(preparedNames.count)"
        try check(PQprepare(raw, name, sql, Int32(parameterCount), nil), sql: sql)
        preparedNames[sql] = name
        return name
    }

    /// `COPY … FROM STDIN` (`sql`) with `rows` as its data: rows already in COPY's text format (`PostgresCopyRows`),
    /// parsed by PostgreSQL in one statement, which costs it far less than the same rows as an INSERT's parameters.
    /// Runs in the open transaction, after the statements waiting for it.
    public func copyIn(_ sql: String, _ rows: PostgresCopyRows) throws {
        guard !needsOwnTransaction else { throw PostgresError.connection("COPY under a scope needs a transaction") }
        if beginPending || !waiting.isEmpty { _ = try roundTrip([]) }
        let started = PQexec(raw, sql)
        guard let started, PQresultStatus(started) == PGRES_COPY_IN else {
            try check(started, sql: sql)
            throw PostgresError.connection("not a COPY FROM STDIN: \(sql)")
        }
        PQclear(started)
        let sent = rows.bytes.withUnsafeBufferPointer { buffer -> Bool in
            var offset = 0
            // libpq takes at most Int32.max bytes a call; a few megabytes keep its buffer small.
            while offset < buffer.count {
                let length = min(buffer.count - offset, 4 << 20)
                guard let base = buffer.baseAddress,
                      PQputCopyData(raw, UnsafeRawPointer(base + offset).assumingMemoryBound(to: CChar.self), Int32(length)) == 1 else {
                    return false
                }
                offset += length
            }
            return true
        }
        guard PQputCopyEnd(raw, sent ? nil : "the rows could not be sent") == 1 else {
            isBroken = true
            throw PostgresError.connection(String(cString: PQerrorMessage(raw)))
        }
        _ = try nextResult(sql: sql).get()
    }

    /// Runs one or more statements without parameters (migrations, session settings).
    public func execute(_ sql: String) throws {
        if !waiting.isEmpty { _ = try roundTrip([]) }
        let scoped = scope.map { $0.literalStatement + "; " } ?? ""
        let ownTransaction = needsOwnTransaction
        let text = beginPending ? "BEGIN; " + scoped + sql : ownTransaction ? "BEGIN; " + scoped + sql + "; COMMIT" : sql
        beginPending = false
        do {
            try check(PQexec(raw, text), sql: sql)
        } catch {
            if ownTransaction { endAbortedTransaction() }
            throw error
        }
    }

    /// Runs `body` in a transaction. BEGIN travels with the first statement and the statements still waiting
    /// travel with COMMIT, so a transaction that only writes takes one round trip.
    public func transaction<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try transaction(body, handingOverWrites: false).value
    }

    /// Like `transaction`, except that when `body` only queued writes (it sent nothing, so it read nothing
    /// and holds no lock), nothing is committed here: the writes and their commit actions are returned, for
    /// `commit(_:)` on this or another connection, possibly together with other transactions' writes.
    public func transaction<T>(_ body: (PostgresConnection) throws -> T,
                               handingOverWrites: Bool) throws -> (value: T, writes: HandedOverWrites?) {
        beginPending = true
        defer {
            beginPending = false
            waiting = []
            commitActions = []
        }
        do {
            let value = try body(self)
            if handingOverWrites && beginPending && !waiting.isEmpty {
                // The scope travels with the writes: the batch they are committed in runs them under it.
                let scoped = scope.map { [WaitingGroup(statements: [RenderedStatement($0.statement)], mapError: { $0 }, setting: "ledger.scope")] } ?? []
                return (value, HandedOverWrites(groups: scoped + waiting, actions: commitActions))
            }
            if !beginPending || !waiting.isEmpty {
                _ = try roundTrip([.control("COMMIT")])[0].get()
            }
            let actions = commitActions
            commitActions = []
            for action in actions { action() }
            return (value, nil)
        } catch {
            waiting = []
            if !beginPending && !isBroken { try? execute("ROLLBACK") }
            throw error
        }
    }

    /// Commits the writes of one or more transactions as a single transaction (one round trip), then runs
    /// their commit actions. If a statement fails, nothing is kept and the error is that statement's,
    /// mapped as its transaction asked. A setting (see `setForTransaction`) already made by the same statement
    /// earlier in the batch is not sent again; one that differs (another tenant's scope) is.
    public func commit(_ writes: [HandedOverWrites]) throws {
        try transaction { tx in
            var inEffect: [String: [RenderedStatement]] = [:]
            for handedOver in writes {
                for group in handedOver.groups {
                    if let setting = group.setting {
                        if inEffect[setting] == group.statements { continue }
                        inEffect[setting] = group.statements
                    }
                    tx.waiting.append(group)
                }
                tx.commitActions += handedOver.actions
            }
        }
    }

    /// Waits for a NOTIFY on channels this connection LISTENs to, up to `timeout` seconds.
    public func waitForNotification(timeout: Double) throws -> (channel: String, payload: String)? {
        if let n = takeNotification() { return n }
        let socket = PQsocket(raw)
        guard socket >= 0 else { isBroken = true; throw PostgresError.connection("no socket") }
        var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        let ready = poll(&descriptor, 1, Int32((timeout.isFinite ? min(max(timeout, 0), 86_400) : 0) * 1000))
        if ready > 0 {
            guard PQconsumeInput(raw) == 1 else {
                isBroken = true
                throw PostgresError.connection(String(cString: PQerrorMessage(raw)))
            }
        }
        return takeNotification()
    }

    private func takeNotification() -> (channel: String, payload: String)? {
        guard let notification = PQnotifies(raw) else { return nil }
        defer { PQfreemem(notification) }
        return (String(cString: notification.pointee.relname), String(cString: notification.pointee.extra))
    }

    @discardableResult
    private func check(_ result: OpaquePointer?, sql: String) throws -> PostgresRows {
        guard let result else {
            isBroken = PQstatus(raw) != CONNECTION_OK
            throw PostgresError.connection(String(cString: PQerrorMessage(raw)))
        }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return PostgresRows(result)
        default:
            let field = { (code: Character) -> String? in
                guard let value = PQresultErrorField(result, Int32(code.asciiValue ?? 0)) else { return nil }
                return String(cString: value)
            }
            let state = field("C") ?? ""
            let message = field("M") ?? String(cString: PQerrorMessage(raw))
            let detail = field("D")
            let constraint = field("n")
            PQclear(result)
            if PQstatus(raw) != CONNECTION_OK {
                isBroken = true
                throw PostgresError.connection(message.trimmingCharacters(in: .whitespacesAndNewlines))
            }
            if state == "26000" { preparedNames.removeAll() }
            throw PostgresError.server(sqlState: state, message: message, detail: detail, constraint: constraint)
        }
    }
}

private func withCStrings<R>(_ strings: [String?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    var storage: [UnsafeMutablePointer<CChar>?] = strings.map { $0.flatMap { strdup($0) } }
    defer { for pointer in storage { free(pointer) } }
    return storage.withUnsafeMutableBufferPointer { buffer in
        body(buffer.map { UnsafePointer($0) })
    }
}

/// timestamptz parameters in PostgreSQL's text form, in UTC with microseconds. (Reading them back is
/// `Timestamp.parse`, which understands the server's ISO output.)
public enum PostgresTimestamp {
    /// A date outside `Timestamp.representable` (none that the API accepts) is sent as `infinity` or
    /// `-infinity`, which compare the same way, rather than trapping in the conversion to whole seconds.
    public static func format(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970
        guard Timestamp.representable.contains(seconds) else { return seconds > 0 ? "infinity" : "-infinity" }
        let micros = (seconds * 1_000_000).rounded()
        let wholeSeconds = Int64((micros / 1_000_000).rounded(.down))
        let fraction = Int64(micros) - wholeSeconds * 1_000_000
        var time = time_t(wholeSeconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        // The year has five digits only for the microsecond that rounds up to year 10000.
        return Timestamp.format(year: Int(parts.tm_year) + 1900, month: Int(parts.tm_mon) + 1, day: Int(parts.tm_mday),
                                hour: Int(parts.tm_hour), minute: Int(parts.tm_min), second: Int(parts.tm_sec),
                                fraction: Int(fraction), fractionDigits: 6)
    }
}
