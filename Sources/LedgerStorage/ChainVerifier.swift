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
    public static func verifyStream(_ connection: PostgresConnection, organizationID: UUID,
                                    streamID: String) throws -> ChainReport {
        try verify(connection, scope: "e.organization_id = $4 AND e.stream_id = $5",
                   extraParameters: [organizationID, streamID])
    }

    /// Every stream of one organization, or of the whole ledger when `organizationID` is nil.
    public static func verifyAll(_ connection: PostgresConnection, organizationID: UUID? = nil) throws -> ChainReport {
        if let organizationID {
            return try verify(connection, scope: "e.organization_id = $4", extraParameters: [organizationID])
        }
        return try verify(connection, scope: "TRUE", extraParameters: [])
    }

    private static let batchSize = 2_000
    private static let genesis = [UInt8](repeating: 0, count: 32)

    private static func verify(_ connection: PostgresConnection, scope: String,
                               extraParameters: [any PostgresEncodable]) throws -> ChainReport {
        let sql = """
            SELECT e.organization_id, e.stream_id, e.version, e.position, e.previous_hash, e.hash,
                   ledger.event_canonical_bytes(e.event_id, e.organization_id, e.stream_id, e.version, e.type,
                                                e.schema_version, e.data, e.metadata, e.occurred_at),
                   s.version
            FROM ledger.events e
            LEFT JOIN ledger.streams s ON s.organization_id = e.organization_id AND s.stream_id = e.stream_id
            WHERE (e.organization_id, e.stream_id, e.version) > ($1::uuid, $2, $3) AND \(scope)
            ORDER BY e.organization_id, e.stream_id, e.version
            LIMIT \(batchSize)
            """
        var report = ChainReport(streamsChecked: 0, eventsChecked: 0, firstBreak: nil)
        var after: (UUID, String, Int64) = (UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)), "", 0)
        var current: (organization: UUID, stream: String, version: Int64, hash: [UInt8], recordedVersion: Int64?)?

        func finishStream() -> ChainBreak? {
            guard let stream = current else { return nil }
            report.streamsChecked += 1
            guard stream.recordedVersion == stream.version else {
                return ChainBreak(organizationID: stream.organization, streamID: stream.stream,
                                  version: stream.version + 1, position: nil,
                                  reason: .headMismatch(headVersion: stream.recordedVersion ?? 0))
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
                    current = (organization, stream, 0, genesis, rows.int64(row, 7))
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
            if rows.count < batchSize { break }
        }
        report.firstBreak = finishStream()
        return report
    }
}
