import Foundation
import LedgerCrypto
import LedgerDomain
@testable import LedgerEngine
import LedgerStorage
import LedgerTestSupport
import XCTest

/// Read rows sealed under the entity's key are what a replay of the log makes, byte for byte, before and after
/// an erasure: the documents' nonces come from their plaintext, so the same state seals to the same row.
final class PersonalDataReplayTests: XCTestCase {
    func testAReplayCheckFindsTheSealedRowsAsTheLogMakesThemAndRepairsThemSealed() throws {
        let database = try makeDatabase()
        let organizationID = try TestOrganization(database: database).id
        let vault = PersonalDataVault(keyEncryptionKey: try KeyEncryptionKey.generate())
        let engine = CommandEngine(pool: database.pool(size: 4), stateCacheSize: 100, vault: vault)
        let now = Date(timeIntervalSince1970: 1_790_000_000)
        func execute(_ id: String, _ command: VerificationCommand) throws {
            try engine.execute(CommandRequest(organizationID: organizationID, livemode: false, streamID: id, command: command,
                                              actor: EventMetadata(actorID: "test", actorType: .system), now: now))
        }
        try execute("ver_1", .invite(Invitation(entityID: "cus_1", checks: [.identityVerification],
                                                applicant: Applicant(firstName: "Jolanda", email: "jolanda.q@example.org"),
                                                expiresAt: now.addingTimeInterval(86_400))))
        try execute("ver_1", .startAttempt(attemptID: "att_1", url: "https://capture.example/att_1", expiresAt: now.addingTimeInterval(900)))
        for status in [AttemptStatus.captureInProgress, .checksInProgress, .completed] {
            try execute("ver_1", .recordProgress(attemptID: "att_1", status: status))
        }
        try execute("ver_1", .recordResult(CheckResult(check: .identityVerification, status: .approved,
                                                       extractedData: ExtractedData(firstName: "Jolanda",
                                                                                    document: .init(number: "X7Q4410982")))))
        let owner = try database.ownerConnection()
        let sealed = try owner.query("SELECT count(*) FROM ledger.verifications v JOIN ledger.orders o USING (organization_id, id) "
            + "WHERE v.document::jsonb ? 'encrypted_personal_data' AND o.document::jsonb ? 'encrypted_personal_data'").int64(0, 0)
        XCTAssertEqual(sealed, 1, "both read rows are sealed")
        XCTAssertEqual(try Replay.check(owner, vault: vault), [], "the sealed rows are what the log makes")
        XCTAssertThrowsError(try Replay.check(owner), "without the key the log does not fold")

        try owner.query("UPDATE ledger.orders SET document = (document::jsonb - 'encrypted_personal_data')::json WHERE organization_id = $1", [organizationID])
        XCTAssertEqual(try Replay.repair(owner, vault: vault).map(\.id), ["ver_1"])
        XCTAssertEqual(try Replay.check(owner, vault: vault), [])
        XCTAssertEqual(try owner.query("SELECT count(*) FROM ledger.orders WHERE document::jsonb ? 'encrypted_personal_data'").int64(0, 0), 1,
                       "the repaired row is sealed again")
        XCTAssertEqual(try owner.query("SELECT count(*) FROM ledger.orders WHERE document::text LIKE '%X7Q4410982%'").int64(0, 0), 0)
    }

    /// A long stream's snapshot keeps the state sealed under the entity's key: the table holds no personal value
    /// in plain text, a command's fold reads it back whole, and a replay makes the same row.
    func testALongStreamsSnapshotHoldsItsPersonalDataOnlySealed() throws {
        let database = try makeDatabase()
        let organizationID = try TestOrganization(database: database).id
        let vault = PersonalDataVault(keyEncryptionKey: try KeyEncryptionKey.generate())
        let engine = CommandEngine(pool: database.pool(size: 4), stateCacheSize: 0, vault: vault)
        let now = Date(timeIntervalSince1970: 1_790_000_000)
        func execute(_ command: VerificationCommand) throws {
            try engine.execute(CommandRequest(organizationID: organizationID, livemode: false, streamID: "ver_long", command: command,
                                              actor: EventMetadata(actorID: "test", actorType: .system), now: now))
        }
        try execute(.invite(Invitation(entityID: "cus_long", checks: [.identityVerification],
                                       applicant: Applicant(firstName: "Jolanda", email: "jolanda.q@example.org"),
                                       expiresAt: now.addingTimeInterval(86_400))))
        for round in 1..<SnapshotsProjection.threshold { try execute(.updateMetadata(["n": String(round)])) }
        let owner = try database.ownerConnection()
        let rows = try owner.query("SELECT version, state::text FROM ledger.stream_snapshots WHERE organization_id = $1 AND id = 'ver_long'",
                                   [organizationID])
        XCTAssertEqual(rows.int64(0, 0), SnapshotsProjection.threshold, "the long stream has its snapshot")
        let stored = try XCTUnwrap(rows.string(0, 1))
        XCTAssertTrue(stored.contains(PersonalDataEnvelope.member), "the snapshot's personal data is sealed")
        for value in ["Jolanda", "jolanda.q@example.org"] { XCTAssertFalse(stored.contains(value), "the snapshot shows \(value)") }
        let loaded = try XCTUnwrap(try owner.transaction { try VerificationStore.load($0, organizationID: organizationID, id: "ver_long", vault: vault) })
        XCTAssertEqual(loaded.version, SnapshotsProjection.threshold)
        XCTAssertEqual(loaded.state.invitation?.applicant.email, "jolanda.q@example.org", "folded from the snapshot, the state is whole")
        XCTAssertEqual(try Replay.check(owner, vault: vault), [], "a replay makes the same sealed snapshot")
    }
}
