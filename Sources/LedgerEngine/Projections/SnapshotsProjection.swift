import Foundation
import LedgerDomain
import LedgerStorage

/// `ledger.stream_snapshots`: the state of a long stream at its latest version, so that a command on it folds
/// only the events after that (none, usually) instead of the whole stream. Streams shorter than `threshold`
/// have none: folding them is cheaper than decoding a snapshot. A projection like the others, so `ledger
/// replay` rebuilds and checks it from the log; raise `version` when the state's shape changes. With encryption
/// on, the state's personal data is sealed under the entity's key like the documents', so the table holds none in
/// plain text and none at all once the key is destroyed.
struct SnapshotsProjection: Projection {
    let name = "stream_snapshots"
    /// Version 2: the state's personal data sealed under the entity's key; it counts its events and names the event
    /// of its latest status decision.
    let version = 2
    let table = ProjectionTable(name: "stream_snapshots", columns: ["organization_id", "id", "version", "state"],
                                versionColumn: "version", rowsCanDisappear: false)

    static let threshold: Int64 = 1_000

    func rows(_ stream: StreamState) -> [ProjectionRow] {
        guard stream.version >= Self.threshold, let state = Self.stored(stream) else { return [] }
        return [ProjectionRow([stream.organizationID, stream.id, stream.version, state])]
    }

    /// The state as the table keeps it: sealed like the documents when the stream has a sealing, and without
    /// its personal data (never with it in plain text) when it cannot be sealed or the key is destroyed.
    static func stored(_ stream: StreamState) -> String? {
        guard let sealing = stream.sealing else { return encode(stream.state) }
        var plain = stream.state.personalDataRemoved
        if case .erased = sealing.key { plain.personalDataErased = true }
        guard let plainText = encode(plain) else { return nil }
        guard case .available = sealing.key, let full = encode(stream.state) else { return plainText }
        return (try? sealing.vault.sealDocument(full: full, plain: plainText, documentID: documentID(stream.id),
                                                owner: sealing.owner, key: sealing.key)) ?? plainText
    }

    static func documentID(_ streamID: String) -> String { PersonalDataVault.documentID(kind: SealedDocumentKind.snapshot, streamID: streamID) }

    /// Keys sorted, so that one state always gives the same text; dates as seconds, which round-trip exactly.
    static func encode(_ state: VerificationState) -> String? {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(state)).map { String(decoding: $0, as: UTF8.self) }
    }

    static func decode(_ text: String) -> VerificationState? {
        try? JSONDecoder().decode(VerificationState.self, from: Data(text.utf8))
    }
}
