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
    var database: TestDatabase!
    var organizationID: UUID!
    let now = Date(timeIntervalSince1970: 1_790_000_000)

    override func setUpWithError() throws {
        database = try makeDatabase()
        organizationID = try TestOrganization(database: database).id
    }

    func execute(_ engine: CommandEngine, _ id: String, _ command: VerificationCommand) throws {
        try engine.execute(CommandRequest(organizationID: organizationID, livemode: false, streamID: id, command: command,
                                          actor: EventMetadata(actorID: "test", actorType: .system), now: now))
    }

    /// An invitation of an applicant with personal data (name and email).
    func invite(_ engine: CommandEngine, _ id: String, entityID: String) throws {
        try execute(engine, id, .invite(Invitation(entityID: entityID, checks: [.identityVerification],
                                                   applicant: Applicant(firstName: "Jolanda", email: "jolanda.q@example.org"),
                                                   expiresAt: now.addingTimeInterval(86_400))))
    }

    /// The invited applicant's attempt, to an approved result whose extracted data holds a document number.
    func approve(_ engine: CommandEngine, _ id: String) throws {
        try execute(engine, id, .startAttempt(attemptID: "att_1", url: "https://capture.example/att_1", expiresAt: now.addingTimeInterval(900)))
        for status in [AttemptStatus.captureInProgress, .checksInProgress, .completed] {
            try execute(engine, id, .recordProgress(attemptID: "att_1", status: status))
        }
        try execute(engine, id, .recordResult(CheckResult(check: .identityVerification, status: .approved,
                                                          extractedData: ExtractedData(firstName: "Jolanda", document: .init(number: "X7Q4410982")))))
    }

    func testAReplayCheckFindsTheSealedRowsAsTheLogMakesThemAndRepairsThemSealed() throws {
        let vault = PersonalDataVault(keyEncryptionKey: try KeyEncryptionKey.generate())
        let engine = CommandEngine(pool: database.pool(size: 4), stateCacheSize: 100, vault: vault)
        try invite(engine, "ver_1", entityID: "cus_1")
        try approve(engine, "ver_1")
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
        let vault = PersonalDataVault(keyEncryptionKey: try KeyEncryptionKey.generate())
        let engine = CommandEngine(pool: database.pool(size: 4), stateCacheSize: 0, vault: vault)
        try invite(engine, "ver_long", entityID: "cus_long")
        for round in 1..<SnapshotsProjection.threshold { try execute(engine, "ver_long", .updateMetadata(["n": String(round)])) }
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

    /// Rows written before personal data was encrypted hold it in plain text; the projections' versions were raised
    /// for the sealing, so the next migrate's rebuild seals them (and gives the entity its data key), leaving the log
    /// as it was written.
    func testRowsWrittenBeforeEncryptionAreRebuiltSealedOnceTheRaisedVersionsMigrate() throws {
        let unencrypted = CommandEngine(pool: database.pool(size: 2), stateCacheSize: 0)
        try invite(unencrypted, "ver_old", entityID: "cus_old")
        try approve(unencrypted, "ver_old")
        let owner = try database.ownerConnection()
        // The versions a database migrated before the sealing holds.
        try owner.query("""
            UPDATE ledger.projection_versions AS p SET version = old.version FROM (VALUES ('verifications', 1), ('orders', 1),
                ('customer_verifications', 1), ('validations', 2), ('verification_reports', 2), ('stream_snapshots', 1)) AS old (name, version)
            WHERE p.name = old.name
            """)
        let readRows = ["verifications", "orders", "customer_verifications", "validations", "verification_reports"]
        func plainTextRows(_ value: String) throws -> [String] {
            try readRows.filter { try owner.query("SELECT count(*) FROM ledger.\($0) WHERE document::text LIKE '%' || $1 || '%'", [value]).int(0, 0) != 0 }
        }
        XCTAssertEqual(try plainTextRows("jolanda.q@example.org"), ["verifications", "orders"],
                       "written without encryption, the rows hold the email in plain text")
        let events = try owner.query("SELECT string_agg(data::text, ',' ORDER BY position) FROM ledger.events").string(0, 0)

        let vault = PersonalDataVault(keyEncryptionKey: try KeyEncryptionKey.generate())
        XCTAssertEqual(Set(try Replay.rebuildRaised(owner, vault: vault)), Set(readRows + ["stream_snapshots"]))
        for value in ["Jolanda", "jolanda.q@example.org", "X7Q4410982"] {
            XCTAssertEqual(try plainTextRows(value), [], "\(value) is still in plain text in a rebuilt row")
        }
        for table in ["verifications", "orders"] {
            XCTAssertEqual(try owner.query("SELECT count(*) FROM ledger.\(table) WHERE document::jsonb ? 'encrypted_personal_data'").int(0, 0), 1,
                           "\(table)'s row is sealed")
        }
        XCTAssertEqual(try owner.query("SELECT count(*) FROM ledger.data_keys WHERE entity_id = 'cus_old' AND wrapped_key IS NOT NULL").int(0, 0), 1,
                       "the entity got its data key for the rebuild")
        XCTAssertEqual(try owner.query("SELECT string_agg(data::text, ',' ORDER BY position) FROM ledger.events").string(0, 0), events,
                       "the log is never rewritten")
        XCTAssertEqual(try Replay.check(owner, vault: vault), [], "the sealed rows are what the log makes")
        let loaded = try XCTUnwrap(try owner.transaction { try VerificationStore.load($0, organizationID: organizationID, id: "ver_old", vault: vault) })
        XCTAssertEqual(loaded.state.invitation?.applicant.email, "jolanda.q@example.org", "the plain-text events still read whole")
    }
}
