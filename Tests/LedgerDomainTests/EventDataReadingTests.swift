import Foundation
@testable import LedgerDomain
import XCTest

/// The invite's and the result's data are read straight from their JSON values (`Invitation(json:)`,
/// `CheckResult(json:)`), not through JSONDecoder: both readings must agree on every value, readable or not.
final class EventDataReadingTests: XCTestCase {
    let expires = Date(timeIntervalSince1970: 1_790_086_400.123)

    func testInvitationsReadAsTheirCodableReadsThem() throws {
        let full = Invitation(entityID: "cus_1", entityType: .business, verificationType: .kyb, clientReferenceID: "ref", packageID: "pkg",
                              checks: [.identityVerification, .email], provider: "sandbox",
                              applicant: Applicant(firstName: "Ada", lastName: "Lovelace", email: "ada@example.com", address: "1 Street"),
                              metadata: ["b": "2", "a": "1"], postbackURL: "https://hooks.example/p", postbackEvents: ["x", "y"],
                              expiresAt: expires, livemode: true, validFor: 86_400)
        let bare = Invitation(entityID: "cus_2", checks: [], expiresAt: expires)
        var values = [full.json, bare.json]
        let member = try XCTUnwrap(full.json.objectValue)
        // Each member left out, made null, and given a value of another type or an unknown choice.
        for (key, _) in member {
            values.append(.object(member.filter { $0.0 != key }))
            for replacement: JSONValue in [.null, .int(7), .string("unknown"), .array([.null]), .object([("first_name", .int(1))])] {
                values.append(.object(member.map { $0.0 == key ? ($0.0, replacement) : $0 }))
            }
        }
        values += [.object(member + [("unknown_member", .string("ignored"))]), .array([]), .string("invitation"), .null,
                   .object(member.map { $0.0 == "valid_for" ? ($0.0, .double(86_400)) : $0 }),
                   .object(member.map { $0.0 == "metadata" ? ($0.0, .object([("a", .null)])) : $0 })]
        for value in values {
            XCTAssertEqual(Invitation(json: value), Coding.decode(Invitation.self, value), value.jsonString)
        }
        XCTAssertEqual(Invitation(json: full.json), full)
    }

    func testCheckResultsReadAsTheirCodableReadsThem() throws {
        let full = CheckResult(check: .identityVerification, status: .approved,
                               responseCodes: [ResponseCode(code: 10000), ResponseCode(code: 99999, summary: "custom")],
                               signals: Signals(documentAuthenticity: .pass, faceMatch: .fail, liveness: .pass, aml: AMLOutcome.allCases.first),
                               extractedData: ExtractedData(firstName: "Ada", lastName: "Lovelace", dateOfBirth: "1990-12-10", address: "1 Street",
                                                            document: .init(type: "passport", number: "P1", issuingCountry: "GB",
                                                                            issueDate: "2020-01-01", expiryDate: "2030-01-01")),
                               riskLabels: ["r"], providerReference: "prov_1",
                               raw: .object([("z", .int(1)), ("a", .array([.double(1.5), .bool(true), .null, .string("s")]))]), attemptID: "att_1")
        let bare = CheckResult(check: .email, status: .declined)
        var values = [full.json, bare.json]
        let member = try XCTUnwrap(full.json.objectValue)
        for (key, _) in member {
            values.append(.object(member.filter { $0.0 != key }))
            for replacement: JSONValue in [.null, .int(7), .string("unknown"), .array([.object([("code", .string("1"))])]),
                                           .object([("number", .int(1))]), .object([("aml", .string("unknown"))])] {
                values.append(.object(member.map { $0.0 == key ? ($0.0, replacement) : $0 }))
            }
        }
        values += [.object(member + [("unknown_member", .string("ignored"))]), .array([]), .null,
                   .object(member.map { $0.0 == "response_codes" ? ($0.0, .array([.object([("code", .int(10000))])])) : $0 }),
                   .object(member.map { $0.0 == "response_codes" ? ($0.0, .array([.object([("code", .double(1.5))])])) : $0 }),
                   .object(member.map { $0.0 == "raw" ? ($0.0, .string("text")) : $0 })]
        for value in values {
            XCTAssertEqual(CheckResult(json: value), Coding.decode(CheckResult.self, value), value.jsonString)
        }
        XCTAssertEqual(CheckResult(json: full.json)?.raw, .object([("a", .array([.double(1.5), .bool(true), .null, .string("s")])), ("z", .int(1))]),
                       "a raw payload's members sorted, as JSONValue's Codable reads them")
    }
}
