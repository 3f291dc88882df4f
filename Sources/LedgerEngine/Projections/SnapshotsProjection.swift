import Foundation
import LedgerDomain
import LedgerStorage

/// `ledger.stream_snapshots`: the state of a long stream at its latest version, so that a command on it folds
/// only the events after that (none, usually) instead of the whole stream. Streams shorter than `threshold`
/// have none: folding them is cheaper than decoding a snapshot. A projection like the others, so `ledger
/// replay` rebuilds and checks it from the log; raise `version` when the state's shape changes.
struct SnapshotsProjection: Projection {
    let name = "stream_snapshots"
    let version = 1
    let table = ProjectionTable(name: "stream_snapshots", columns: ["organization_id", "id", "version", "state"],
                                versionColumn: "version", rowsCanDisappear: false)

    static let threshold: Int64 = 1_000

    func rows(_ stream: StreamState) -> [ProjectionRow] {
        guard stream.version >= Self.threshold, let state = Self.encode(stream.state) else { return [] }
        return [ProjectionRow([stream.organizationID, stream.id, stream.version, state])]
    }

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
