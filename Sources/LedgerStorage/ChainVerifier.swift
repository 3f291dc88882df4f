import Foundation
import LedgerCrypto
import LedgerDomain

/// The first place where the log stops proving itself unaltered.
public struct ChainBreak: Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        /// The row's hash is not SHA-256(previous hash ‖ canonical bytes): its content changed.
        case contentAltered
        /// The row does not chain from the event before it.
        case previousHashMismatch
        /// Versions skip: an event is missing.
        case versionGap(expected: Int64)
        /// The stream's recorded version disagrees with its last event: events were removed or added.
        case headMismatch(headVersion: Int64)
        /// The stream's recorded head hash is not its last event's hash: its last events were removed (and the
        /// version rewound with them) or replaced.
        case headHashMismatch
    }

    public var organizationID: UUID
    public var streamID: String
    public var version: Int64
    public var position: Int64?
    public var reason: Reason

    public init(organizationID: UUID, streamID: String, version: Int64, position: Int64?, reason: Reason) {
        self.organizationID = organizationID
        self.streamID = streamID
        self.version = version
        self.position = position
        self.reason = reason
    }

    public var description: String {
        let place = "stream \(streamID) version \(version)" + (position.map { " (position \($0))" } ?? "")
        switch reason {
        case .contentAltered: return "\(place): the event's content no longer matches its hash"
        case .previousHashMismatch: return "\(place): the event does not chain from the event before it"
        case let .versionGap(expected): return "\(place): expected version \(expected), an event is missing"
        case let .headMismatch(head): return "\(place): the stream's head says version \(head), the log disagrees"
        case .headHashMismatch: return "\(place): the stream's head hash is not the hash of its last event"
        }
    }
}

public struct ChainReport: Sendable, Equatable {
    public var streamsChecked: Int
    public var eventsChecked: Int
    public var firstBreak: ChainBreak?
    public var isIntact: Bool { firstBreak == nil }

    public init(streamsChecked: Int, eventsChecked: Int, firstBreak: ChainBreak?) {
        self.streamsChecked = streamsChecked
        self.eventsChecked = eventsChecked
        self.firstBreak = firstBreak
    }
}

/// Recomputes hash chains with libcrypto from the canonical bytes the database renders (Schema/004).
public enum ChainVerifier {
    public static func verifyStream(_ connection: PostgresConnection, organizationID: UUID, streamID: String,
                                    batchSize: Int = defaultBatchSize) throws -> ChainReport {
        try verifyAll(connection, organizationID: organizationID, streamID: streamID, batchSize: batchSize)
    }

    /// Every stream of the ledger, of one organization, or with one id (in one organization or in all);
    /// `progress` hears of each batch checked.
    public static func verifyAll(_ connection: PostgresConnection, organizationID: UUID? = nil, streamID: String? = nil,
                                 batchSize: Int = defaultBatchSize, progress: (ChainReport) -> Void = { _ in }) throws -> ChainReport {
        switch (organizationID, streamID) {
        case let (organization?, stream?):
            return try verify(connection, scope: { "organization_id = $\($0) AND stream_id = $\($0 + 1)" }, extraParameters: [organization, stream],
                              batchSize: batchSize, progress: progress)
        case let (organization?, nil):
            return try verify(connection, scope: { "organization_id = $\($0)" }, extraParameters: [organization], batchSize: batchSize,
                              progress: progress)
        case let (nil, stream?):
            return try verify(connection, scope: { "stream_id = $\($0)" }, extraParameters: [stream], batchSize: batchSize, progress: progress)
        case (nil, nil):
            return try verify(connection, scope: { _ in "TRUE" }, extraParameters: [], batchSize: batchSize, progress: progress)
        }
    }

    public static let defaultBatchSize = 2_000
    private static let genesis = [UInt8](repeating: 0, count: 32)

    /// `scope` is a condition on columns that events and streams share (organization_id, stream_id), given the
    /// number of its first parameter.
    private static func verify(_ connection: PostgresConnection, scope: (Int) -> String, extraParameters: [any PostgresEncodable],
                               batchSize: Int, progress: (ChainReport) -> Void) throws -> ChainReport {
        let batchSize = max(1, batchSize)
        let sql = """
            SELECT e.organization_id, e.stream_id, e.version, e.position, e.previous_hash, e.hash,
                   ledger.event_canonical_bytes(e.event_id, e.organization_id, e.stream_id, e.version, e.type,
                                                e.schema_version, e.data, e.metadata, e.occurred_at),
                   s.version, s.head_hash
            FROM (SELECT * FROM ledger.events WHERE \(scope(4))) e
            LEFT JOIN ledger.streams s ON s.organization_id = e.organization_id AND s.stream_id = e.stream_id
            WHERE (e.organization_id, e.stream_id, e.version) > ($1::uuid, $2, $3)
            ORDER BY e.organization_id, e.stream_id, e.version
            LIMIT \(batchSize)
            """
        var report = ChainReport(streamsChecked: 0, eventsChecked: 0, firstBreak: nil)
        var after: (UUID, String, Int64) = (UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)), "", 0)
        var current: (organization: UUID, stream: String, version: Int64, hash: [UInt8], recordedVersion: Int64?, recordedHash: [UInt8]?)?

        func finishStream() -> ChainBreak? {
            guard let stream = current else { return nil }
            report.streamsChecked += 1
            guard stream.recordedVersion == stream.version else {
                return ChainBreak(organizationID: stream.organization, streamID: stream.stream,
                                  version: stream.version + 1, position: nil,
                                  reason: .headMismatch(headVersion: stream.recordedVersion ?? 0))
            }
            guard stream.recordedHash == stream.hash else {
                return ChainBreak(organizationID: stream.organization, streamID: stream.stream, version: stream.version, position: nil,
                                  reason: .headHashMismatch)
            }
            return nil
        }

        while true {
            let rows = try connection.query(sql, [after.0, after.1, after.2] + extraParameters.map { Optional($0) })
            for row in 0..<rows.count {
                guard let organization = rows.uuid(row, 0), let stream = rows.string(row, 1),
                      let version = rows.int64(row, 2), let position = rows.int64(row, 3),
                      let previous = rows.bytes(row, 4), let hash = rows.bytes(row, 5),
                      let canonical = rows.bytes(row, 6) else {
                    throw StorageError.unreadableRow(table: "events", key: rows.string(row, 3) ?? "?")
                }
                after = (organization, stream, version)
                if current?.organization != organization || current?.stream != stream {
                    if let broken = finishStream() { report.firstBreak = broken; return report }
                    current = (organization, stream, 0, genesis, rows.int64(row, 7), rows.bytes(row, 8))
                }
                guard var link = current else { continue }
                report.eventsChecked += 1
                let place = { (reason: ChainBreak.Reason) in
                    ChainBreak(organizationID: organization, streamID: stream, version: version, position: position,
                               reason: reason)
                }
                if version != link.version + 1 {
                    report.firstBreak = place(.versionGap(expected: link.version + 1)); return report
                }
                if previous != link.hash {
                    report.firstBreak = place(.previousHashMismatch); return report
                }
                if Digest.sha256(previous + canonical) != hash {
                    report.firstBreak = place(.contentAltered); return report
                }
                link.version = version
                link.hash = hash
                current = link
            }
            progress(report)
            if rows.count < batchSize { break }
        }
        report.firstBreak = finishStream()
        if report.firstBreak == nil {
            // A stream whose every event is gone has no row above to be noticed by.
            let empty = try connection.query("""
                SELECT s.organization_id, s.stream_id, s.version FROM (SELECT * FROM ledger.streams WHERE \(scope(1))) s
                WHERE NOT EXISTS (SELECT FROM ledger.events e WHERE e.organization_id = s.organization_id AND e.stream_id = s.stream_id)
                ORDER BY s.organization_id, s.stream_id LIMIT 1
                """, extraParameters.map { Optional($0) })
            if let organization = empty.uuid(0, 0), let stream = empty.string(0, 1), let version = empty.int64(0, 2) {
                report.firstBreak = ChainBreak(organizationID: organization, streamID: stream, version: 1, position: nil,
                                               reason: .headMismatch(headVersion: version))
            }
        }
        return report
    }
}

extension ChainBreak.Reason {
    public static let names = ["content_altered", "previous_hash_mismatch", "version_gap", "head_mismatch", "head_hash_mismatch"]

    /// The reason as a word, for JSON.
    public var name: String {
        switch self {
        case .contentAltered: return "content_altered"
        case .previousHashMismatch: return "previous_hash_mismatch"
        case .versionGap: return "version_gap"
        case .headMismatch: return "head_mismatch"
        case .headHashMismatch: return "head_hash_mismatch"
        }
    }
}
