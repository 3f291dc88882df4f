import Foundation
import LedgerCrypto
import LedgerDomain
import LedgerStorage
import XCTest

/// The domain's envelope with the real cipher: AES-256-GCM under an entity's data key, itself wrapped by the KEK.
final class PersonalDataEncryptionTests: XCTestCase {
    /// The domain's cipher protocol over one data key; the engine's adapter is the same few lines.
    struct EntityCipher: PersonalDataCipher {
        let key: DataKey

        func seal(_ plaintext: [UInt8], associatedData: [UInt8]) throws(PersonalDataError) -> [UInt8] {
            do { return try key.seal(plaintext, associatedData: associatedData) } catch { throw .sealingFailed(error.description) }
        }

        func open(_ sealed: [UInt8], associatedData: [UInt8]) throws(PersonalDataError) -> [UInt8] {
            do { return try key.open(sealed, associatedData: associatedData) } catch { throw .unreadable(error.description) }
        }
    }

    let organizationID = UUID()
    let deadline = Date(timeIntervalSince1970: 1_795_000_000)

    var invite: VerificationEvent {
        .invited(Invitation(entityID: "cus_4410", checks: [.identityVerification],
                            applicant: Applicant(firstName: "Jolanda", lastName: "Quackenbush", email: "jolanda.q@example.org",
                                                 address: "12 Rue des Tilleuls"),
                            metadata: ["plan": "gold"], expiresAt: deadline))
    }

    var result: VerificationEvent {
        .resultRecorded(CheckResult(check: .identityVerification, status: .approved, responseCodes: [ResponseCode(code: 10000)],
                                    extractedData: ExtractedData(firstName: "Jolanda", lastName: "Quackenbush", dateOfBirth: "1984-02-29",
                                                                 document: .init(type: "passport", number: "X7Q4410982",
                                                                                 expiryDate: "2029-06-02")),
                                    raw: ["file": "file_front_77a"], attemptID: "att_1"))
    }

    let personalValues = ["Jolanda", "Quackenbush", "jolanda.q@example.org", "Rue des Tilleuls", "1984-02-29", "X7Q4410982",
                          "2029-06-02", "file_front_77a"]

    func context(_ eventID: UUID = UUID(), entity: String = "cus_4410") -> PersonalDataContext {
        PersonalDataContext(organizationID: organizationID, entityID: entity, eventID: eventID)
    }

    func cipher() throws -> EntityCipher { EntityCipher(key: try XCTUnwrap(DataKey.generate())) }

    func openError(_ body: () throws -> JSONValue) -> PersonalDataError? {
        do {
            _ = try body()
            return nil
        } catch {
            return error as? PersonalDataError
        }
    }

    func testSealedEventsShowNoPersonalValueAndOpenToExactlyWhatWasWritten() throws {
        let cipher = try cipher()
        for event in [invite, result] {
            let context = context()
            let stored = try PersonalDataEnvelope.seal(eventType: event.type, data: event.data, context: context, cipher: cipher)
            for value in personalValues { XCTAssertFalse(stored.jsonString.contains(value), "\(event.type) stores \(value) in plain text") }
            XCTAssertEqual(stored[PersonalDataEnvelope.member]?["version"], 1)
            let opened = try PersonalDataEnvelope.open(eventType: event.type, stored: stored, context: context, key: .available(cipher))
            XCTAssertEqual(opened.jsonString, event.data.jsonString)
            XCTAssertEqual(try VerificationEvent(type: event.type, data: opened), event)
        }
        let expiry = VerificationEvent.expired
        XCTAssertEqual(try PersonalDataEnvelope.seal(eventType: expiry.type, data: expiry.data, context: context(), cipher: cipher),
                       expiry.data, "an event without personal data is stored as it is")
    }

    /// Decrypts the stored form from the layout the README documents, with nothing of ours.
    static let pythonOpen = """
        import base64, json, sys, uuid
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        key, stored = bytes.fromhex(sys.argv[1]), json.loads(sys.argv[2])
        organization, event, entity = uuid.UUID(sys.argv[3]).bytes, uuid.UUID(sys.argv[4]).bytes, sys.argv[5].encode()
        envelope = stored["encrypted_personal_data"]
        assert envelope["version"] == 1
        box = base64.b64decode(envelope["ciphertext"])
        print(AESGCM(key).decrypt(box[:12], box[12:], b"\\x01" + organization + event + entity).decode())
        """

    func testPythonDecryptsTheStoredPersonalPartFromTheDocumentedLayout() throws {
        let cipher = try cipher(), eventID = UUID()
        let event = result
        let stored = try PersonalDataEnvelope.seal(eventType: event.type, data: event.data, context: context(eventID), cipher: cipher)
        let outcome = try ChildProcess.run("python3", ["-c", Self.pythonOpen, cipher.key.bytes.hexString, stored.jsonString,
                                                       organizationID.uuidString, eventID.uuidString, "cus_4410"])
        let personal = try JSONValue.parse(outcome.output.trimmingCharacters(in: .whitespacesAndNewlines))
        XCTAssertEqual(personal, PersonalDataPolicy.verification.split(eventType: event.type, data: event.data).personal)
        XCTAssertEqual(personal["extracted_data"]?["document"]?["number"], "X7Q4410982")
    }

    func testACiphertextOpensOnlyUnderItsKeyForItsOwnEvent() throws {
        let cipher = try cipher(), eventID = UUID()
        let stored = try PersonalDataEnvelope.seal(eventType: invite.type, data: invite.data, context: context(eventID), cipher: cipher)
        let open = { (context: PersonalDataContext, key: PersonalDataKey) in
            { try PersonalDataEnvelope.open(eventType: self.invite.type, stored: stored, context: context, key: key) }
        }
        for (name, context) in [("another event", context()), ("another entity", context(eventID, entity: "cus_4411")),
                                ("another organization", PersonalDataContext(organizationID: UUID(), entityID: "cus_4410", eventID: eventID))] {
            guard case .unreadable? = openError(open(context, .available(cipher))) else { return XCTFail(name) }
        }
        guard case let .unreadable(reason)? = openError(open(context(eventID), .available(try self.cipher()))) else {
            return XCTFail("another data key")
        }
        XCTAssertTrue(reason.contains("does not authenticate"), reason)

        // One character of the stored ciphertext changed: the hash chain would also notice, but the cipher refuses first.
        guard case let .object(members) = stored, let text = stored[PersonalDataEnvelope.member]?["ciphertext"]?.stringValue else {
            return XCTFail("no envelope")
        }
        let altered = String(text.prefix(20)) + (text.dropFirst(20).first == "A" ? "B" : "A") + String(text.dropFirst(21))
        let tampered = JSONValue.object(members.map { $0.0 == PersonalDataEnvelope.member ? ($0.0, ["version": 1, "ciphertext": .string(altered)]) : $0 })
        XCTAssertNotNil(openError { try PersonalDataEnvelope.open(eventType: self.invite.type, stored: tampered, context: self.context(eventID),
                                                                  key: .available(cipher)) })
        let futureVersion = JSONValue.object(members.map { $0.0 == PersonalDataEnvelope.member ? ($0.0, ["version": 2, "ciphertext": .string(text)]) : $0 })
        XCTAssertEqual(openError { try PersonalDataEnvelope.open(eventType: self.invite.type, stored: futureVersion, context: self.context(eventID),
                                                                 key: .available(cipher)) },
                       .malformed("version 2; this build reads 1"))
    }

    func testAnErasedEntitysEventsReadWithNullPersonalFields() throws {
        let cipher = try cipher()
        for event in [invite, result] {
            let context = context()
            let stored = try PersonalDataEnvelope.seal(eventType: event.type, data: event.data, context: context, cipher: cipher)
            let erased = try PersonalDataEnvelope.open(eventType: event.type, stored: stored, context: context, key: .erased)
            XCTAssertNil(erased[PersonalDataEnvelope.member])
            for value in personalValues { XCTAssertFalse(erased.jsonString.contains(value), value) }
            XCTAssertNoThrow(try VerificationEvent(type: event.type, data: erased), "an erased event still folds")
        }
        let erasedInvite = try PersonalDataEnvelope.open(eventType: invite.type, stored: invite.data, context: context(), key: .erased)
        XCTAssertEqual(erasedInvite["applicant"], ["first_name": nil, "last_name": nil, "email": nil, "address": nil],
                       "events written before encryption are hidden too")
    }

    func testWithoutADataKeyOnlyUnencryptedEventsRead() throws {
        let cipher = try cipher(), context = context()
        let stored = try PersonalDataEnvelope.seal(eventType: invite.type, data: invite.data, context: context, cipher: cipher)
        XCTAssertEqual(openError { try PersonalDataEnvelope.open(eventType: self.invite.type, stored: stored, context: context, key: .notIssued) },
                       .keyMissing)
        XCTAssertEqual(try PersonalDataEnvelope.open(eventType: invite.type, stored: invite.data, context: context, key: .notIssued), invite.data)
        XCTAssertEqual(try PersonalDataEnvelope.open(eventType: invite.type, stored: invite.data, context: context, key: .available(cipher)),
                       invite.data, "an event from before encryption reads as it was written")
    }

    func testRotatingTheKEKKeepsEveryEventReadableAndTheOldKEKCannotUnwrapTheNewForm() throws {
        let owner = DataKeyOwner(organizationID: organizationID, entityID: "cus_4410")
        let old = try KeyEncryptionKey.generate(), new = try KeyEncryptionKey.generate()
        let wrapped = try old.wrap(try XCTUnwrap(DataKey.generate()), for: owner)
        let contexts = [context(), context()]
        let stored = try zip([invite, result], contexts).map { event, context in
            try PersonalDataEnvelope.seal(eventType: event.type, data: event.data, context: context,
                                          cipher: EntityCipher(key: try old.unwrap(wrapped, for: owner)))
        }

        let rotated = try KeyEncryptionKey.rewrap(wrapped, for: owner, from: old, to: new)
        let cipher = EntityCipher(key: try new.unwrap(rotated, for: owner))
        for ((event, context), data) in zip(zip([invite, result], contexts), stored) {
            let opened = try PersonalDataEnvelope.open(eventType: event.type, stored: data, context: context, key: .available(cipher))
            XCTAssertEqual(opened.jsonString, event.data.jsonString)
        }
        XCTAssertThrowsError(try old.unwrap(rotated, for: owner)) { error in
            XCTAssertTrue("\(error)".hasPrefix("wrong key-encryption key"), "\(error)")
        }
    }
}
