import Foundation
import LedgerCrypto
import LedgerStorage
import XCTest

/// Data keys wrapped by the key-encryption key: the documented format (read back by Python), a wrong KEK named as
/// such, a wrapped key bound to its owner, rotation, and loading the KEK from the environment or a file.
final class DataKeyTests: XCTestCase {
    let owner = DataKeyOwner(organizationID: UUID(), entityID: "cus_4410")

    func makeKEK() throws -> KeyEncryptionKey { try KeyEncryptionKey.generate() }
    func makeDataKey() throws -> DataKey { try XCTUnwrap(DataKey.generate()) }

    func unwrapError(_ body: () throws -> DataKey) -> DataKeyError? {
        do {
            _ = try body()
            return nil
        } catch {
            return error as? DataKeyError
        }
    }

    /// Unwraps from the layout the README and `WrappedDataKey` document, with nothing of ours.
    static let pythonUnwrap = """
        import sys, uuid
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        kek, wrapped = bytes.fromhex(sys.argv[1]), bytes.fromhex(sys.argv[2])
        organization, entity = uuid.UUID(sys.argv[3]).bytes, sys.argv[4].encode()
        version, kek_id, nonce, sealed = wrapped[0], wrapped[1:9], wrapped[9:21], wrapped[21:]
        assert version == 1 and len(wrapped) == 69, (version, len(wrapped))
        print(AESGCM(kek).decrypt(nonce, sealed, wrapped[:9] + organization + entity).hex())
        """

    func testAWrappedKeyHasTheDocumentedLayoutAndPythonUnwrapsIt() throws {
        let kekBase64 = try makeKEK().base64
        let kek = try XCTUnwrap(try KeyEncryptionKey.load(environment: ["LEDGER_KEK": kekBase64]))
        let dataKey = try makeDataKey()
        let wrapped = try kek.wrap(dataKey, for: owner)
        XCTAssertEqual(wrapped.bytes.count, 69)
        XCTAssertEqual(wrapped.version, 1)
        XCTAssertEqual(wrapped.keyEncryptionKeyID, kek.idHex)
        XCTAssertEqual(Array(wrapped.bytes[1...8]).hexString, kek.idHex)
        let kekHex = Array(try XCTUnwrap(Data(base64Encoded: kekBase64))).hexString
        let unwrapped = try ChildProcess.run("python3", ["-c", Self.pythonUnwrap, kekHex, wrapped.bytes.hexString,
                                                         owner.organizationID.uuidString, owner.entityID])
        XCTAssertEqual(unwrapped.output.trimmingCharacters(in: .whitespacesAndNewlines), dataKey.bytes.hexString)
        XCTAssertEqual(try kek.unwrap(WrappedDataKey(bytes: wrapped.bytes), for: owner), dataKey)
        XCTAssertNotEqual(try kek.wrap(dataKey, for: owner), wrapped, "every wrap takes a fresh nonce")
    }

    func testAWrongKEKIsNamedAsSuchAndNeverYieldsAKey() throws {
        let right = try makeKEK(), wrong = try makeKEK()
        let wrapped = try right.wrap(try makeDataKey(), for: owner)
        let error = unwrapError { try wrong.unwrap(wrapped, for: owner) }
        XCTAssertEqual(error, .wrappedByAnotherKey(wrappedBy: right.idHex, loaded: wrong.idHex))
        let message = error?.description ?? ""
        XCTAssertTrue(message.hasPrefix("wrong key-encryption key"), message)
        XCTAssertTrue(message.contains("LEDGER_KEK") && message.contains(right.idHex) && message.contains(wrong.idHex), message)

        // A header edited to name the wrong KEK gets past the id check; the tag still refuses it.
        let forged = try WrappedDataKey(bytes: [1] + wrong.id + Array(wrapped.bytes[9...]))
        let tagError = unwrapError { try wrong.unwrap(forged, for: owner) }
        XCTAssertEqual(tagError, .authenticationFailed(keyEncryptionKeyID: wrong.idHex))
        XCTAssertTrue(tagError?.description.contains("wrong key-encryption key") == true)
    }

    func testAWrappedKeyOpensOnlyForItsOwnEntityAndOrganization() throws {
        let kek = try makeKEK()
        let wrapped = try kek.wrap(try makeDataKey(), for: owner)
        let others = [DataKeyOwner(organizationID: owner.organizationID, entityID: "cus_4411"),
                      DataKeyOwner(organizationID: UUID(), entityID: owner.entityID),
                      DataKeyOwner(organizationID: owner.organizationID, entityID: "")]
        for other in others {
            XCTAssertEqual(unwrapError { try kek.unwrap(wrapped, for: other) }, .authenticationFailed(keyEncryptionKeyID: kek.idHex))
        }
    }

    func testEveryAlteredByteIsRefusedAndMalformedKeysAreErrors() throws {
        let kek = try makeKEK()
        let wrapped = try kek.wrap(try makeDataKey(), for: owner)
        for index in wrapped.bytes.indices {
            var bytes = wrapped.bytes
            bytes[index] ^= 0x01
            let error = unwrapError { try kek.unwrap(try WrappedDataKey(bytes: bytes), for: owner) }
            switch index {
            case 0: XCTAssertEqual(error, .unsupportedVersion(0))
            case 1...8: XCTAssertEqual(error, .wrappedByAnotherKey(wrappedBy: Array(bytes[1...8]).hexString, loaded: kek.idHex))
            default: XCTAssertEqual(error, .authenticationFailed(keyEncryptionKeyID: kek.idHex), "byte \(index)")
            }
        }
        XCTAssertThrowsError(try WrappedDataKey(bytes: [])) { XCTAssertEqual($0 as? DataKeyError, .malformed("a wrapped data key is 69 bytes, not 0")) }
        XCTAssertThrowsError(try WrappedDataKey(bytes: Array(wrapped.bytes.dropLast()))) {
            XCTAssertEqual($0 as? DataKeyError, .malformed("a wrapped data key is 69 bytes, not 68"))
        }
        XCTAssertThrowsError(try WrappedDataKey(bytes: wrapped.bytes + [0]))
        XCTAssertThrowsError(try WrappedDataKey(bytes: [2] + wrapped.bytes.dropFirst())) { XCTAssertEqual($0 as? DataKeyError, .unsupportedVersion(2)) }
        XCTAssertNil(DataKey(bytes: [UInt8](repeating: 7, count: 16)))
        XCTAssertThrowsError(try KeyEncryptionKey(bytes: [UInt8](repeating: 7, count: 31)))
    }

    func testRotationRewrapsUnderTheNewKEKAndCanBeRunAgain() throws {
        let old = try makeKEK(), new = try makeKEK()
        let dataKey = try makeDataKey()
        let wrapped = try old.wrap(dataKey, for: owner)
        let rotated = try KeyEncryptionKey.rewrap(wrapped, for: owner, from: old, to: new)
        XCTAssertEqual(rotated.keyEncryptionKeyID, new.idHex)
        XCTAssertEqual(try new.unwrap(rotated, for: owner), dataKey, "the same data key, so every ciphertext stays readable")
        XCTAssertEqual(unwrapError { try old.unwrap(rotated, for: owner) }, .wrappedByAnotherKey(wrappedBy: new.idHex, loaded: old.idHex))
        XCTAssertEqual(try KeyEncryptionKey.rewrap(rotated, for: owner, from: old, to: new), rotated, "a second run changes nothing")

        let stranger = try makeKEK().wrap(dataKey, for: owner)
        XCTAssertThrowsError(try KeyEncryptionKey.rewrap(stranger, for: owner, from: old, to: new)) { error in
            guard case .wrappedByAnotherKey = error as? DataKeyError else { return XCTFail("\(error)") }
        }
        let otherOwner = DataKeyOwner(organizationID: owner.organizationID, entityID: "cus_other")
        XCTAssertThrowsError(try KeyEncryptionKey.rewrap(wrapped, for: otherOwner, from: old, to: new))
    }

    func testTheKEKComesFromTheEnvironmentWithErrorsNamingTheVariable() throws {
        let kek = try makeKEK()
        XCTAssertEqual(try KeyEncryptionKey.load(environment: ["LEDGER_KEK": kek.base64])?.idHex, kek.idHex)
        XCTAssertEqual(try KeyEncryptionKey.load(environment: ["LEDGER_KEK": " \(kek.base64)\n"])?.idHex, kek.idHex)
        XCTAssertNil(try KeyEncryptionKey.load(environment: [:]))
        XCTAssertNil(try KeyEncryptionKey.load(environment: ["LEDGER_KEK": "", "LEDGER_KEK_FILE": ""]))

        func failure(_ environment: [String: String]) -> KeyEncryptionKeyError? {
            do {
                _ = try KeyEncryptionKey.load(environment: environment)
                return nil
            } catch {
                return error
            }
        }
        let short = Data(repeating: 1, count: 16).base64EncodedString()
        XCTAssertEqual(failure(["LEDGER_KEK": short]), .wrongLength(source: "LEDGER_KEK", byteCount: 16))
        XCTAssertEqual(failure(["LEDGER_KEK": short])?.description,
                       "LEDGER_KEK holds 16 bytes; a key-encryption key is 32 bytes (openssl rand -base64 32)")
        XCTAssertEqual(failure(["LEDGER_KEK": "not*base64!"]), .notBase64(source: "LEDGER_KEK"))
        XCTAssertTrue(failure(["LEDGER_KEK": "not*base64!"])?.description.hasPrefix("LEDGER_KEK is not base64") == true)
        XCTAssertEqual(failure(["LEDGER_KEK": String(kek.base64.dropLast())]), .notBase64(source: "LEDGER_KEK"), "padding is required")
        XCTAssertEqual(failure(["LEDGER_KEK": kek.base64, "LEDGER_KEK_FILE": "/tmp/x"]), .bothSet)
        XCTAssertFalse(failure(["LEDGER_KEK": short])?.description.contains(short) == true, "an error never shows the key")
        XCTAssertFalse("\(kek)".contains(kek.base64))
        XCTAssertEqual("\(kek)", "key-encryption key \(kek.idHex)")
        XCTAssertEqual("\(try makeDataKey())", "data key")
    }

    func testTheKEKFileIsCreatedOwnerOnlyNeverOverwrittenAndReadBack() throws {
        let directory = NSTemporaryDirectory() + "ledger-kek-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/kek"

        let created = try KeyEncryptionKey.generateFile(at: path)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), created.base64 + "\n")
        XCTAssertEqual(try KeyEncryptionKey.load(environment: ["LEDGER_KEK_FILE": path])?.idHex, created.idHex)

        XCTAssertThrowsError(try KeyEncryptionKey.generateFile(at: path)) {
            XCTAssertEqual($0 as? KeyEncryptionKeyError, .fileExists(path: path))
        }
        XCTAssertEqual(try KeyEncryptionKey.load(environment: ["LEDGER_KEK_FILE": path])?.idHex, created.idHex, "left as it was")
        XCTAssertThrowsError(try KeyEncryptionKey.generateFile(at: directory + "/missing/kek")) { error in
            XCTAssertEqual(error as? KeyEncryptionKeyError,
                           .cannotCreateFile(path: directory + "/missing/kek", reason: "No such file or directory"))
        }

        func failure(_ path: String) -> String {
            do {
                _ = try KeyEncryptionKey.load(environment: ["LEDGER_KEK_FILE": path])
                return "loaded"
            } catch {
                return "\(error)"
            }
        }
        XCTAssertEqual(failure(directory + "/absent"), "LEDGER_KEK_FILE=\(directory)/absent cannot be read: No such file or directory")
        XCTAssertTrue(failure(directory).hasPrefix("LEDGER_KEK_FILE=\(directory) cannot be read"), failure(directory))
        try "short\n".write(toFile: directory + "/bad", atomically: true, encoding: .utf8)
        XCTAssertTrue(failure(directory + "/bad").hasPrefix("LEDGER_KEK_FILE=\(directory)/bad "), failure(directory + "/bad"))
        try Data(repeating: 0x41, count: 10_000).write(to: URL(fileURLWithPath: directory + "/huge"))
        XCTAssertEqual(failure(directory + "/huge"), "LEDGER_KEK_FILE=\(directory)/huge cannot be read: larger than 4096 bytes, not a key file")
        try Data([0xff, 0xfe, 0x00]).write(to: URL(fileURLWithPath: directory + "/binary"))
        XCTAssertEqual(failure(directory + "/binary"), KeyEncryptionKeyError.notBase64(source: "LEDGER_KEK_FILE=\(directory)/binary").description)
    }
}
