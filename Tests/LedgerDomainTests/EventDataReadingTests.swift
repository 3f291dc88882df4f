import Foundation
@testable import LedgerDomain
import XCTest

/// The invite's and the result's data read straight from their JSON values (`Invitation(json:)`,
/// `CheckResult(json:)`) give what their Codable conformances give, or nothing (and the conformances read it): over
/// written events and over every member of them missing, null, mistyped, given twice or a non-integral number.
final class EventDataReadingTests: XCTestCase {
    let invitations = [
        Invitation(entityID: "cus_1", entityType: .business, verificationType: .kyb, clientReferenceID: "ref", packageID: "pkg",
                   checks: [.identityVerification, .amlScreening], provider: "onfido",
                   applicant: Applicant(firstName: "Ada", lastName: "Lovelace \"Countess\"", email: "ada@example.com", address: "1 Road\n"),
                   metadata: ["b": "2", "a": "1", "é": "✓"], postbackURL: "https://example.com/hook", postbackEvents: ["ORDER_COMPLETED"],
                   expiresAt: Date(timeIntervalSince1970: 1_790_000_000.123), livemode: true, validFor: 86_400),
        Invitation(entityID: "cus_2", checks: [.phone], expiresAt: Date(timeIntervalSince1970: 1_790_000_000)),
    ]
    let results = [
        CheckResult(check: .identityVerification, status: .declined, responseCodes: [ResponseCode(code: 62301), ResponseCode(code: 99001)],
                    signals: Signals(documentAuthenticity: .fail, faceMatch: .pass, liveness: .pending, aml: .match),
                    extractedData: ExtractedData(firstName: "Ada", lastName: "L", dateOfBirth: "1815-12-10", address: "1 Road",
                                                 document: .init(type: "passport", number: "X1", issuingCountry: "GB", issueDate: "2020-01-01",
                                                                 expiryDate: "2030-01-01")),
                    riskLabels: ["pep"], providerReference: "prov_1",
                    raw: ["z": [1, "two", nil, ["y": true, "b": false]], "a": ["k": -3]], attemptID: "att_1"),
        CheckResult(check: .email, status: .approved),
        CheckResult(check: .document, status: .approved, responseCodes: [ResponseCode(code: 10000, summary: nil)],
                    extractedData: ExtractedData(document: .init(number: "N")), raw: [:]),
    ]

    func testWrittenEventsAreReadDirectlyToWhatTheirCodableConformancesRead() throws {
        for invitation in invitations {
            let direct = try XCTUnwrap(Invitation(json: invitation.json), "a written invite is read directly")
            XCTAssertEqual(direct, invitation)
            XCTAssertEqual(direct, Coding.decode(Invitation.self, invitation.json))
        }
        for result in results {
            let direct = try XCTUnwrap(CheckResult(json: result.json), "a written result is read directly")
            let codable = try XCTUnwrap(Coding.decode(CheckResult.self, result.json))
            XCTAssertEqual(direct, codable)
            XCTAssertEqual(direct.raw?.jsonString, codable.raw?.jsonString, "raw's members in the conformance's order (sorted)")
            XCTAssertEqual(direct.responseCodes.map(\.summary), codable.responseCodes.map(\.summary))
        }
    }

    func testEveryAlteredMemberIsReadAsTheConformancesReadItOrLeftToThem() {
        let replacements: [JSONValue] = [.null, .int(7), .double(1.5), .double(2), .string("x"), .string("approved"), .bool(true),
                                         .array([]), .array([.string("phone")]), .object([]), .object([("code", .double(3.0))])]
        func variants(_ json: JSONValue) -> [JSONValue] {
            guard case let .object(members) = json else { return [] }
            var all: [JSONValue] = []
            for (index, member) in members.enumerated() {
                var without = members
                without.remove(at: index)
                all.append(.object(without))
                all.append(.object(members + [member]))
                for replacement in replacements {
                    var replaced = members
                    replaced[index].1 = replacement
                    all.append(.object(replaced))
                }
                for nested in variants(member.1) {
                    var replaced = members
                    replaced[index].1 = nested
                    all.append(.object(replaced))
                }
                if case let .array(items) = member.1, let first = items.first {
                    for nested in variants(first) + replacements {
                        var replaced = members
                        replaced[index].1 = .array([nested] + items.dropFirst())
                        all.append(.object(replaced))
                    }
                }
            }
            return all
        }
        var readDirectly = 0, leftToTheConformances = 0
        for json in invitations.flatMap({ variants($0.json) }) {
            let direct = Invitation(json: json)
            if let direct { XCTAssertEqual(direct, Coding.decode(Invitation.self, json), json.jsonString); readDirectly += 1 } else { leftToTheConformances += 1 }
        }
        for json in results.flatMap({ variants($0.json) }) {
            let direct = CheckResult(json: json)
            if let direct {
                let codable = Coding.decode(CheckResult.self, json)
                XCTAssertEqual(direct, codable, json.jsonString)
                XCTAssertEqual(direct.raw?.jsonString, codable?.raw?.jsonString, json.jsonString)
                XCTAssertEqual(direct.responseCodes.map(\.summary), codable?.responseCodes.map(\.summary), json.jsonString)
                readDirectly += 1
            } else {
                leftToTheConformances += 1
            }
        }
        XCTAssertGreaterThan(readDirectly, 100)
        XCTAssertGreaterThan(leftToTheConformances, 100)
    }
}
