import Foundation
import LedgerCrypto
import LedgerDomain
import Synchronization

/// A command sealed under a data key kept in memory that another instance destroyed meanwhile: the vault no longer
/// keeps it, and the command runs again (reading the key as the database holds it, destroyed).
public struct DataKeyDestroyedMeanwhile: Error {}

/// A command offered a new data key for an entity that had one already (see `PersonalDataVault.keyForWriting`,
/// `offering`): it runs again under the stored key.
public struct DataKeyStoredMeanwhile: Error {}

/// The check that a data key kept in memory was not destroyed meanwhile (`require_data_key`, LD004), to travel in the
/// transaction of the command that writes under the key: `statement` is one SELECT, and `mapError` turns its failure
/// into `DataKeyDestroyedMeanwhile` (passing any other error through).
public struct DataKeyCheck: Sendable {
    let owner: DataKeyOwner
    let livemode: Bool
    public let mapError: @Sendable (Error) -> Error

    public var statement: PostgresStatement {
        ("SELECT ledger.require_data_key($1, $2, $3)", [owner.organizationID, livemode, owner.entityID])
    }
}

/// The domain's cipher over one entity's data key: AES-256-GCM from libcrypto.
struct DataKeyCipher: PersonalDataCipher {
    let key: DataKey
    /// The key of `sealDeterministically`'s nonces, derived once per cipher rather than once per document.
    private let nonceKey: [UInt8]

    init(key: DataKey) {
        self.key = key
        nonceKey = Digest.hmacSHA256(key: key.bytes, message: Array("ledger document nonce".utf8))
    }

    func seal(_ plaintext: [UInt8], associatedData: [UInt8]) throws(PersonalDataError) -> [UInt8] {
        do { return try key.seal(plaintext, associatedData: associatedData) } catch { throw .sealingFailed(error.description) }
    }

    func open(_ sealed: [UInt8], associatedData: [UInt8]) throws(PersonalDataError) -> [UInt8] {
        do { return try key.open(sealed, associatedData: associatedData) } catch { throw .unreadable(error.description) }
    }

    /// Sealed under a nonce derived from the plaintext and the associated data (HMAC-SHA256 under a key of its own,
    /// derived from the data key), so the same document seals to the same bytes: a read row rendered again compares
    /// equal to the stored one (unchanged rows are not rewritten, a replay check finds no difference). A nonce
    /// repeats only with the very same plaintext and associated data, whose sealed box is then the same too, so
    /// all it tells is that two stored documents are equal.
    func sealDeterministically(_ plaintext: [UInt8], associatedData: [UInt8]) throws(PersonalDataError) -> [UInt8] {
        let nonce = Array(Digest.hmacSHA256(key: nonceKey, message: associatedData + plaintext).prefix(AESGCM.nonceSize))
        do { return try AESGCM.seal(plaintext, key: key.bytes, nonce: nonce, associatedData: associatedData) } catch {
            throw .sealingFailed(error.description)
        }
    }
}

/// Where personal data is encrypted and decrypted: the key-encryption key, the entities' wrapped data keys in
/// `ledger.data_keys` (Schema/038), and the envelopes of events and of stored documents (read rows, queued webhook
/// payloads). Everything else in the service sees either ciphertext or, after this, the data as it was written.
///
/// Readers always take the wrapped key from the database, so an erasure anywhere is seen at once. Writers keep the
/// unwrapped keys they used (a bounded map), so a command needs no round trip for its key: the check that the key
/// still exists travels with the command's next round trip (`require_data_key`), and a key destroyed by another
/// instance fails the command, which runs again without it.
///
/// Readers keep what they unwrapped too (bounded maps of their own), by owner and the very wrapped bytes the row gave:
/// unwrapping is a function of the two under this KEK, so a kept key is only used when the read's own row still
/// holds that wrapped key. An erasure, which the same read sees as no wrapped key, needs no invalidation to be
/// honoured; `forget` drops the entity's kept keys all the same, so a destroyed key does not stay in memory.
public final class PersonalDataVault: Sendable {
    public let keyEncryptionKey: KeyEncryptionKey
    private struct Holder: Hashable {
        let owner: DataKeyOwner
        let livemode: Bool
    }

    private struct Unwrapped: Hashable {
        let owner: DataKeyOwner
        let wrapped: [UInt8]
    }

    /// One of the maps the reading keys are kept in, each behind its own lock: a list page takes a key for each of
    /// its rows, and every request thread taking one lock for each was most of what a page cost (the threads spun
    /// and queued on it).
    private final class ReadingKeys: Sendable {
        let keys = Mutex<[Unwrapped: DataKeyCipher]>([:])
    }

    private let writingKeys = Mutex<[Holder: DataKey]>([:])
    private let readingKeys: [ReadingKeys]
    private let capacity: Int
    private let readingCapacity: Int

    public init(keyEncryptionKey: KeyEncryptionKey, capacity: Int = 10_000) {
        self.keyEncryptionKey = keyEncryptionKey
        self.capacity = max(0, capacity)
        readingKeys = (0..<64).map { _ in ReadingKeys() }
        readingCapacity = self.capacity == 0 ? 0 : max(1, self.capacity / readingKeys.count)
    }

    /// The map a wrapped key is kept in, chosen by its last byte: wrapped keys end in sealed bytes, uniformly spread.
    private func readingKeys(_ wrapped: [UInt8]) -> ReadingKeys {
        readingKeys[Int(wrapped.last ?? 0) % readingKeys.count]
    }

    // MARK: data keys

    /// The entity's key as a stored row gives it: its wrapped key, or none and the time it was erased.
    public func key(_ owner: DataKeyOwner, wrapped: [UInt8]?, erased: Bool) throws -> PersonalDataKey {
        if erased { return .erased }
        guard let wrapped else { return .notIssued }
        let unwrapped = Unwrapped(owner: owner, wrapped: wrapped)
        let kept = readingKeys(wrapped)
        if let cipher = kept.keys.withLock({ $0[unwrapped] }) { return .available(cipher) }
        let cipher = DataKeyCipher(key: try keyEncryptionKey.unwrap(try WrappedDataKey(bytes: wrapped), for: owner))
        if readingCapacity > 0 {
            kept.keys.withLock { keys in
                if keys.count >= readingCapacity { keys.removeAll(keepingCapacity: true) }
                keys[unwrapped] = cipher
            }
        }
        return .available(cipher)
    }

    /// The entity's key in one mode as the database holds it now.
    public func key(_ connection: PostgresConnection, _ owner: DataKeyOwner, livemode: Bool) throws -> PersonalDataKey {
        let rows = try connection.query("""
            SELECT wrapped_key, erased_at IS NOT NULL FROM ledger.data_keys WHERE organization_id = $1 AND livemode = $2 AND entity_id = $3
            """, [owner.organizationID, livemode, owner.entityID])
        guard rows.count > 0 else { return .notIssued }
        return try key(owner, wrapped: rows.bytes(0, 0), erased: rows.bool(0, 1) ?? false)
    }

    /// The key a command writes the entity's personal data under: the one it used before, else the stored one,
    /// else a new one, stored wrapped in the command's transaction (a racing first writer's key wins). One round
    /// trip when the key is not kept: the new key is offered and the stored one read in one statement.
    /// - Parameter offering: for a command whose entity most likely has no key yet (a new stream's invitation): a new
    ///   key is returned without a round trip and stored with the transaction's next one (`offer_data_key`), so that the
    ///   transaction can still hand its writes over to a commit batch. If the entity had a key after all, that fails
    ///   the transaction with `DataKeyStoredMeanwhile`, and the command runs again without `offering`.
    public func keyForWriting(_ tx: PostgresConnection, _ owner: DataKeyOwner, livemode: Bool, offering: Bool = false) throws -> PersonalDataKey {
        let (key, check) = try keyAndCheckForWriting(tx, owner, livemode: livemode, offering: offering)
        if let check { tx.sendWithNextRoundTrip([check.statement], mapError: check.mapError) }
        return key
    }

    /// `keyForWriting`, except that a kept key's check is returned rather than queued, for a caller that sends it
    /// inside a statement of its own (the command's read-model statement) instead of as one more statement.
    public func keyAndCheckForWriting(_ tx: PostgresConnection, _ owner: DataKeyOwner, livemode: Bool,
                                      offering: Bool = false) throws -> (key: PersonalDataKey, check: DataKeyCheck?) {
        let holder = Holder(owner: owner, livemode: livemode)
        if let kept = writingKeys.withLock({ $0[holder] }) {
            // Checked in the same transaction: an erasure committed by another instance fails it, and the command runs
            // again with the key read afresh (CommandEngine). Only a transaction that checked before the erasure
            // committed can still write under the key; what it writes is unreadable once the erasure commits.
            let check = DataKeyCheck(owner: owner, livemode: livemode) { [self] error in
                guard (error as? PostgresError)?.sqlState == "LD004" else { return error }
                forget(owner, livemode: livemode)
                return DataKeyDestroyedMeanwhile()
            }
            return (.available(DataKeyCipher(key: kept)), check)
        }
        return (try keyAfresh(tx, owner, holder: holder, offering: offering), nil)
    }

    /// The entity's key when none is kept for writing: a new one offered, or stored and read back in one statement.
    private func keyAfresh(_ tx: PostgresConnection, _ owner: DataKeyOwner, holder: Holder, offering: Bool) throws -> PersonalDataKey {
        let livemode = holder.livemode
        guard let fresh = DataKey.generate() else { throw PersonalDataError.sealingFailed("libcrypto's random generator is not seeded") }
        let wrapped = try keyEncryptionKey.wrap(fresh, for: owner)
        if offering {
            tx.sendWithNextRoundTrip([("SELECT ledger.offer_data_key($1, $2, $3, $4)",
                                       [owner.organizationID, livemode, owner.entityID, ByteA(wrapped.bytes)])]) { error in
                (error as? PostgresError)?.sqlState == "LD005" ? DataKeyStoredMeanwhile() : error
            }
            tx.afterCommit { [self] in keep(fresh, for: holder) }
            return .available(DataKeyCipher(key: fresh))
        }
        let rows = try tx.query("""
            WITH offered AS (
                INSERT INTO ledger.data_keys (organization_id, livemode, entity_id, wrapped_key) VALUES ($1, $2, $3, $4)
                ON CONFLICT DO NOTHING RETURNING wrapped_key)
            SELECT wrapped_key, false FROM offered
            UNION ALL
            SELECT wrapped_key, erased_at IS NOT NULL FROM ledger.data_keys
            WHERE organization_id = $1 AND livemode = $2 AND entity_id = $3 AND NOT EXISTS (SELECT FROM offered)
            """, [owner.organizationID, livemode, owner.entityID, ByteA(wrapped.bytes)])
        // No row: another transaction stored its key after this statement's snapshot was taken; it is committed now.
        let found = rows.count == 1 ? try key(owner, wrapped: rows.bytes(0, 0), erased: rows.bool(0, 1) ?? false)
            : try key(tx, owner, livemode: livemode)
        if case let .available(cipher) = found, let cipher = cipher as? DataKeyCipher {
            tx.afterCommit { [self] in keep(cipher.key, for: holder) }
        }
        return found
    }

    /// Gives a data key to every entity whose events all predate encryption (it has none yet), so that a rebuild of
    /// its read rows seals them; its events stay as they were written. Returns how many keys were issued.
    @discardableResult
    public func issueMissingKeys(_ connection: PostgresConnection) throws -> Int {
        let rows = try connection.query("""
            SELECT DISTINCT e.organization_id, (e.data ->> 'livemode')::boolean, e.data ->> 'entity_id' FROM ledger.events e
            WHERE e.type = 'VerificationInvited' AND NOT EXISTS (
                SELECT FROM ledger.data_keys k WHERE k.organization_id = e.organization_id
                  AND k.livemode = (e.data ->> 'livemode')::boolean AND k.entity_id = e.data ->> 'entity_id')
            """)
        var issued = 0
        for row in 0..<rows.count {
            guard let organization = rows.uuid(row, 0), let livemode = rows.bool(row, 1), let entity = rows.string(row, 2) else {
                throw StorageError.unreadableRow(table: "events", key: "VerificationInvited \(row)")
            }
            guard let fresh = DataKey.generate() else { throw PersonalDataError.sealingFailed("libcrypto's random generator is not seeded") }
            let owner = DataKeyOwner(organizationID: organization, entityID: entity)
            issued += try connection.query("""
                INSERT INTO ledger.data_keys (organization_id, livemode, entity_id, wrapped_key) VALUES ($1, $2, $3, $4)
                ON CONFLICT DO NOTHING RETURNING 1
                """, [organization, livemode, entity, ByteA(try keyEncryptionKey.wrap(fresh, for: owner).bytes)]).count
        }
        return issued
    }

    private func keep(_ key: DataKey, for holder: Holder) {
        guard capacity > 0 else { return }
        writingKeys.withLock { keys in
            if keys.count >= capacity { keys.removeAll(keepingCapacity: true) }
            keys[holder] = key
        }
    }

    /// Drops the keys kept for writing and reading (the entity's key is being destroyed). The reading keys are kept
    /// by owner, not mode: the entity's key of its other mode is dropped too, and unwrapped again by its next read.
    public func forget(_ owner: DataKeyOwner, livemode: Bool) {
        _ = writingKeys.withLock { $0.removeValue(forKey: Holder(owner: owner, livemode: livemode)) }
        for kept in readingKeys {
            kept.keys.withLock { keys in
                for unwrapped in keys.keys where unwrapped.owner == owner { keys.removeValue(forKey: unwrapped) }
            }
        }
    }

    // MARK: events

    /// Event data as the log stores it: the personal part sealed under the key, or left out once the key is destroyed.
    public func seal(eventType: String, data: JSONValue, eventID: UUID, owner: DataKeyOwner, key: PersonalDataKey) throws -> JSONValue {
        switch key {
        case let .available(cipher):
            return try PersonalDataEnvelope.seal(eventType: eventType, data: data, context: Self.context(owner, eventID), cipher: cipher)
        case .erased, .notIssued:
            return PersonalDataPolicy.verification.split(eventType: eventType, data: data).plain
        }
    }

    public func open(eventType: String, stored: JSONValue, eventID: UUID, owner: DataKeyOwner, key: PersonalDataKey) throws -> JSONValue {
        try PersonalDataEnvelope.open(eventType: eventType, stored: stored, context: Self.context(owner, eventID), key: key)
    }

    // MARK: documents

    /// A rendered document (a verification or order object) as the database keeps it: `plain` (the same document
    /// rendered without personal data) with the whole of `full` sealed in its `encrypted_personal_data` member, or
    /// `full` itself when it holds nothing personal. `documentID` names the document (its kind and stream), bound in
    /// as associated data so a ciphertext cannot be moved to another document.
    public func sealDocument(full: String, plain: String, documentID: String, owner: DataKeyOwner, key: PersonalDataKey) throws -> String {
        guard full != plain else { return full }
        guard case let .available(available) = key else { return plain }
        guard let cipher = available as? DataKeyCipher else { throw PersonalDataError.sealingFailed("not a data key of this vault") }
        let sealed = try cipher.sealDeterministically(Array(full.utf8), associatedData: Self.documentContext(owner, documentID).associatedData)
        // Put together as UTF-8 bytes: `plain.dropLast() + envelope` went through the document's characters one by one.
        var document = Array(plain.utf8)
        guard document.last == UInt8(ascii: "}") else { throw PersonalDataError.malformed("a document is a JSON object") }
        document.removeLast()
        document += Self.envelopeOpening
        document += Data(sealed).base64EncodedString().utf8
        document += Self.envelopeClosing
        return String(decoding: document, as: UTF8.self)
    }

    /// A stored document as its reader shows it: as written, or without personal data and marked erased.
    public func openDocument(_ stored: String, documentID: String, owner: DataKeyOwner, key: PersonalDataKey) throws -> String {
        if case let .available(cipher) = key, let sealed = Self.appendedSealedBox(stored) {
            return try Self.open(sealed, cipher, owner, documentID)
        }
        guard stored.contains(PersonalDataEnvelope.member) else { return stored }
        guard let document = try? JSONValue.parse(Array(stored.utf8), maxDepth: 64), case let .object(members) = document,
              let envelope = document[PersonalDataEnvelope.member] else { return stored }
        switch key {
        case let .available(cipher):
            guard let text = envelope["ciphertext"]?.stringValue, let sealed = Base64.decode(text.utf8) else {
                throw PersonalDataError.malformed("ciphertext is not base64")
            }
            return try Self.open(sealed, cipher, owner, documentID)
        case .erased:
            return PersonalDataMarker.markedErased(.object(members.filter { $0.0 != PersonalDataEnvelope.member })).jsonString
        case .notIssued:
            throw PersonalDataError.keyMissing
        }
    }

    private static func open(_ sealed: [UInt8], _ cipher: any PersonalDataCipher, _ owner: DataKeyOwner,
                             _ documentID: String) throws -> String {
        let opened = try cipher.open(sealed, associatedData: documentContext(owner, documentID).associatedData)
        guard let full = String(validating: opened, as: UTF8.self) else { throw PersonalDataError.malformed("the document is not UTF-8") }
        return full
    }

    /// The envelope as `sealDocument` appends it, around the ciphertext.
    private static let envelopeOpening = Array(",\"\(PersonalDataEnvelope.member)\":{\"version\":\(PersonalDataEnvelope.version),\"ciphertext\":\"".utf8)
    private static let envelopeClosing = Array("\"}}".utf8)

    /// The ciphertext of a document that ends as `sealDocument` left it (the stored text of a `json` column),
    /// found without parsing the document: its last member is the envelope, `"ciphertext"` last in it. Only base64
    /// stands between the opening and the closing `"}}` (no quote, and the decoding refuses anything else), so the
    /// quote that opens the member is outside any string (inside one it would be escaped), and the final brace closes
    /// the document itself, so the envelope is one of its own members. Any other text (a `jsonb` column's, reordered)
    /// is nil, and `openDocument` parses it. The ciphertext is decoded where the string keeps its bytes.
    static func appendedSealedBox(_ stored: String) -> [UInt8]? {
        var stored = stored
        return stored.withUTF8 { text -> [UInt8]? in
            guard let base = text.baseAddress, text.count >= envelopeOpening.count + envelopeClosing.count,
                  holds(envelopeClosing, at: base + text.count - envelopeClosing.count) else { return nil }
            let end = text.count - envelopeClosing.count
            var start = end
            while start > 0, base[start - 1] != UInt8(ascii: "\"") { start -= 1 }
            guard start >= envelopeOpening.count, holds(envelopeOpening, at: base + start - envelopeOpening.count) else { return nil }
            return Base64.decode(UnsafeBufferPointer(start: base + start, count: end - start))
        }
    }

    /// Whether the bytes at `bytes` begin with `expected` (compared by libc: this runs for every document read).
    private static func holds(_ expected: [UInt8], at bytes: UnsafePointer<UInt8>) -> Bool {
        expected.withUnsafeBytes { expected in
            guard let first = expected.baseAddress else { return true }
            return memcmp(first, bytes, expected.count) == 0
        }
    }

    /// The id a document's ciphertext is bound to.
    public static func documentID(kind: String, streamID: String) -> String { "\(kind)/\(streamID)" }

    static func context(_ owner: DataKeyOwner, _ eventID: UUID) -> PersonalDataContext {
        PersonalDataContext(organizationID: owner.organizationID, entityID: owner.entityID, eventID: eventID)
    }

    static func documentContext(_ owner: DataKeyOwner, _ documentID: String) -> PersonalDataContext {
        context(owner, Digest.uuid(fromSeed: "document/\(documentID)"))
    }

    // MARK: the key-encryption key

    /// Stops a service started with another key-encryption key than the one that wrapped the stored data keys,
    /// before it serves anything: one stored key of each KEK id is unwrapped.
    public func checkKeyEncryptionKey(_ connection: PostgresConnection) throws {
        let rows = try connection.query("""
            SELECT DISTINCT ON (substring(wrapped_key FROM 2 FOR 8)) organization_id, entity_id, wrapped_key
            FROM ledger.data_keys WHERE wrapped_key IS NOT NULL ORDER BY substring(wrapped_key FROM 2 FOR 8)
            """)
        for row in 0..<rows.count {
            guard let organization = rows.uuid(row, 0), let entity = rows.string(row, 1), let wrapped = rows.bytes(row, 2) else {
                throw StorageError.unreadableRow(table: "data_keys", key: "\(row)")
            }
            _ = try keyEncryptionKey.unwrap(try WrappedDataKey(bytes: wrapped), for: DataKeyOwner(organizationID: organization, entityID: entity))
        }
    }

    /// Re-wraps every stored data key from `old` to `new`, in one transaction; events and documents are not touched.
    /// Returns how many keys were re-wrapped. Run it again after a failure: keys `new` already wraps are kept.
    public static func rotate(_ connection: PostgresConnection, from old: KeyEncryptionKey, to new: KeyEncryptionKey) throws -> Int {
        try connection.transaction { tx in
            let rows = try tx.query("SELECT organization_id, entity_id, wrapped_key FROM ledger.data_keys WHERE wrapped_key IS NOT NULL FOR UPDATE")
            var rewrapped = 0
            for row in 0..<rows.count {
                guard let organization = rows.uuid(row, 0), let entity = rows.string(row, 1), let bytes = rows.bytes(row, 2) else {
                    throw StorageError.unreadableRow(table: "data_keys", key: "\(row)")
                }
                let owner = DataKeyOwner(organizationID: organization, entityID: entity)
                let wrapped = try WrappedDataKey(bytes: bytes)
                let next = try KeyEncryptionKey.rewrap(wrapped, for: owner, from: old, to: new)
                guard next != wrapped else { continue }
                _ = try tx.query("UPDATE ledger.data_keys SET wrapped_key = $3 WHERE organization_id = $1 AND entity_id = $2 AND wrapped_key = $4",
                             [organization, entity, ByteA(next.bytes), ByteA(bytes)])
                rewrapped += 1
            }
            return rewrapped
        }
    }
}
