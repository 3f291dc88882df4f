import Foundation

/// The sub-objects of Stripe's `identity.verification_report`: one per kind of check it reports on.
public enum StripeReportCheck: String, Sendable, CaseIterable {
    case document, selfie
    case idNumber = "id_number"
    case email, phone

    /// The sub-objects a ledger check fills. AML screening and background checks have no place in Stripe's report.
    public static func of(_ check: CheckType) -> [StripeReportCheck] {
        switch check {
        case .identityVerification: return [.document, .selfie]
        case .document: return [.document]
        case .selfie: return [.selfie]
        case .idNumber: return [.idNumber]
        case .email: return [.email]
        case .phone: return [.phone]
        case .amlScreening, .backgroundCheck: return []
        }
    }

    /// Stripe's code for a failure of this check that no row of the table names more precisely.
    public var otherError: StripeErrorCode {
        switch self {
        case .document: return .documentUnverifiedOther
        case .selfie: return .selfieUnverifiedOther
        case .idNumber: return .idNumberUnverifiedOther
        case .email: return .emailUnverifiedOther
        case .phone: return .phoneUnverifiedOther
        }
    }
}

/// Every `error.code` Stripe's verification report defines, with a reason that may be shown to the user.
public enum StripeErrorCode: String, Sendable, CaseIterable {
    case documentExpired = "document_expired"
    case documentTypeNotSupported = "document_type_not_supported"
    case documentUnverifiedOther = "document_unverified_other"
    case selfieDocumentMissingPhoto = "selfie_document_missing_photo"
    case selfieFaceMismatch = "selfie_face_mismatch"
    case selfieManipulated = "selfie_manipulated"
    case selfieUnverifiedOther = "selfie_unverified_other"
    case idNumberInsufficientDocumentData = "id_number_insufficient_document_data"
    case idNumberMismatch = "id_number_mismatch"
    case idNumberUnverifiedOther = "id_number_unverified_other"
    case emailUnverifiedOther = "email_unverified_other"
    case emailVerificationDeclined = "email_verification_declined"
    case phoneUnverifiedOther = "phone_unverified_other"
    case phoneVerificationDeclined = "phone_verification_declined"

    public var check: StripeReportCheck {
        switch self {
        case .documentExpired, .documentTypeNotSupported, .documentUnverifiedOther: return .document
        case .selfieDocumentMissingPhoto, .selfieFaceMismatch, .selfieManipulated, .selfieUnverifiedOther: return .selfie
        case .idNumberInsufficientDocumentData, .idNumberMismatch, .idNumberUnverifiedOther: return .idNumber
        case .emailUnverifiedOther, .emailVerificationDeclined: return .email
        case .phoneUnverifiedOther, .phoneVerificationDeclined: return .phone
        }
    }

    public var reason: String {
        switch self {
        case .documentExpired: return "The provided identity document has expired."
        case .documentTypeNotSupported: return "The provided identity document is not one of the accepted types."
        case .documentUnverifiedOther: return "The provided identity document could not be verified."
        case .selfieDocumentMissingPhoto: return "The provided identity document has no photo to compare with the selfie."
        case .selfieFaceMismatch: return "The selfie does not match the photo on the identity document."
        case .selfieManipulated: return "The selfie was manipulated or is not of a live person."
        case .selfieUnverifiedOther: return "The selfie could not be verified."
        case .idNumberInsufficientDocumentData: return "The identity document did not give enough data to check the ID number."
        case .idNumberMismatch: return "The ID number does not match the name and date of birth."
        case .idNumberUnverifiedOther: return "The ID number could not be verified."
        case .emailUnverifiedOther: return "The email address could not be verified."
        case .emailVerificationDeclined: return "The user declined to verify the email address."
        case .phoneUnverifiedOther: return "The phone number could not be verified."
        case .phoneVerificationDeclined: return "The user declined to verify the phone number."
        }
    }
}

/// One report as the list and retrieve endpoints need it: the filterable fields beside the object itself.
public struct StripeReport: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case document
        case idNumber = "id_number"
        case verificationFlow = "verification_flow"
    }

    public var id: String
    public var created: Date
    public var type: Kind
    public var verificationSession: String
    public var clientReferenceID: String?
    public var livemode: Bool
    public var object: JSONValue
}

/// Seed 001: Stripe Identity's verification reports, wire-compatible. A report is written once its results are
/// in: one per attempt that completed (its capture checks' results for that attempt), and one per result of a
/// check without capture (ID number, email, phone). Nothing in a report changes after it exists, so a list
/// read at any moment is a prefix of every later one.
public enum StripeReportView {
    /// Our response codes in Stripe's words. A row names the codes (primary-document codes: a secondary
    /// variant reads as its primary), the report sub-object it speaks for, and Stripe's code; a failure whose
    /// codes match no row gets that sub-object's `*_unverified_other`. For a check that fills both `document`
    /// and `selfie` (identity_verification), the selfie rows also say which codes are the selfie's fault.
    public static let errorTable: [(codes: ClosedRange<Int>, check: StripeReportCheck, error: StripeErrorCode)] = [
        (62101...62101, .document, .documentExpired),
        (62102...62102, .document, .documentTypeNotSupported),
        (62104...62104, .document, .documentTypeNotSupported),
        (62304...62304, .selfie, .selfieFaceMismatch),
        (62321...62321, .selfie, .selfieFaceMismatch),
        (62305...62307, .selfie, .selfieManipulated),
        (62405...62405, .selfie, .selfieUnverifiedOther),
        (61401...61414, .selfie, .selfieUnverifiedOther),
        (61911...61911, .selfie, .selfieUnverifiedOther),
        (61112...61112, .idNumber, .idNumberInsufficientDocumentData),
        (61301...61315, .idNumber, .idNumberInsufficientDocumentData),
        (62401...62401, .idNumber, .idNumberMismatch),
        (63001...63001, .email, .emailVerificationDeclined),
        (63001...63001, .phone, .phoneVerificationDeclined),
    ]

    /// Stripe's code for one of our response codes, reported on `check`.
    public static func error(for code: Int, on check: StripeReportCheck) -> StripeErrorCode {
        let primary = ResponseCode.primaryCode(code)
        return errorTable.first { $0.check == check && $0.codes.contains(primary) }?.error ?? check.otherError
    }

    static func isSelfieFault(_ code: Int) -> Bool {
        let primary = ResponseCode.primaryCode(code)
        return errorTable.contains { $0.check == .selfie && $0.codes.contains(primary) }
    }

    // MARK: ids

    /// The service's `ver_…` becomes `vs_…`, so a session id leads back to its verification without a lookup.
    public static func sessionID(verificationID: String) -> String { "vs_" + suffix(verificationID) }

    public static func verificationID(sessionID: String) -> String? {
        guard sessionID.hasPrefix("vs_"), sessionID.count > 3 else { return nil }
        return "ver_" + sessionID.dropFirst(3)
    }

    /// `vr_<verification>_<key>`: the key is `a<n>` for the n-th attempt, `n`/`e`/`p` and an ordinal for the n-th
    /// result of the ID number, email or phone check.
    public static func reportID(verificationID: String, key: String) -> String { "vr_" + suffix(verificationID) + "_" + key }

    /// The verification a report id belongs to, and the report's key.
    public static func parseReportID(_ id: String) -> (verificationID: String, key: String)? {
        guard id.hasPrefix("vr_"), let separator = id.lastIndex(of: "_"), separator > id.index(id.startIndex, offsetBy: 2) else { return nil }
        let base = id[id.index(id.startIndex, offsetBy: 3)..<separator], key = id[id.index(after: separator)...]
        guard !base.isEmpty, !key.isEmpty else { return nil }
        return ("ver_" + base, String(key))
    }

    static func suffix(_ verificationID: String) -> Substring {
        verificationID.hasPrefix("ver_") ? verificationID.dropFirst(4) : Substring(verificationID)
    }

    // MARK: reports

    /// Results after which a report can be written; the others (in progress, under review) are not yet Stripe's
    /// verified or unverified.
    static let decisive: Set<CheckStatus> = [.approved, .declined, .retryRequired, .inconclusive, .refused]

    /// Every report of the verification, oldest first.
    public static func reports(verificationID: String, state: VerificationState) -> [StripeReport] {
        guard let invitation = state.invitation else { return [] }
        let session = sessionID(verificationID: verificationID)
        var reports: [StripeReport] = []
        func add(key: String, created: Date, results: [(CheckType, CheckResult)]) {
            let checks = results.flatMap { check, result in StripeReportCheck.of(check).map { ($0, result, check) } }
            guard !checks.isEmpty else { return }
            let filled = Set(checks.map(\.0))
            let kind: StripeReport.Kind = filled.contains(.document) || filled.contains(.selfie) ? .document
                : filled.contains(.idNumber) ? .idNumber : .verificationFlow
            let id = reportID(verificationID: verificationID, key: key)
            func part(_ check: StripeReportCheck) -> JSONValue {
                guard let (_, result, source) = checks.first(where: { $0.0 == check }) else { return .null }
                return subObject(check, result: result, source: source, invitation: invitation)
            }
            let options: JSONValue
            switch kind {
            case .document: options = ["document": ["require_matching_selfie": .bool(filled.contains(.selfie))]]
            case .idNumber: options = ["id_number": .object([])]
            case .verificationFlow: options = .object([])
            }
            let object: JSONValue = .object([
                ("id", .string(id)),
                ("object", "identity.verification_report"),
                ("client_reference_id", ViewJSON.text(invitation.clientReferenceID)),
                ("created", .int(ViewJSON.unixSeconds(created))),
                ("document", part(.document)),
                ("email", part(.email)),
                ("id_number", part(.idNumber)),
                ("livemode", .bool(invitation.livemode)),
                ("options", options),
                ("phone", part(.phone)),
                ("selfie", part(.selfie)),
                ("type", .string(kind.rawValue)),
                ("verification_flow", kind == .verificationFlow ? ViewJSON.text(invitation.packageID) : .null),
                ("verification_session", .string(session)),
            ])
            reports.append(StripeReport(id: id, created: created, type: kind, verificationSession: session,
                                        clientReferenceID: invitation.clientReferenceID, livemode: invitation.livemode, object: object))
        }

        let captureChecks = state.checks.map(\.type).filter(\.needsCapture)
        for (index, attempt) in state.attempts.enumerated() where [.completed, .checksInconclusive].contains(attempt.status) {
            let earlier = Set(state.attempts[..<index].map(\.id))
            var results: [(CheckType, CheckResult)] = []
            var created = attempt.updatedAt
            var complete = true
            // What a report holds is fixed once it exists: the checks settled before the attempt began stay out,
            // and each check's first decisive result for the attempt is the one shown.
            for check in captureChecks {
                let finalBefore = state.results.contains {
                    $0.result.check == check && $0.result.status.isFinal && $0.recordedAt <= attempt.createdAt
                        && $0.attemptID.map(earlier.contains) == true
                }
                if finalBefore { continue }
                if let recorded = state.results.first(where: {
                    $0.result.check == check && $0.attemptID == attempt.id && decisive.contains($0.result.status)
                }) {
                    results.append((check, recorded.result))
                    created = max(created, recorded.recordedAt)
                } else if attempt.status == .checksInconclusive {
                    results.append((check, CheckResult(check: check, status: .inconclusive, responseCodes: [ResponseCode(code: 71901)])))
                } else {
                    complete = false
                }
            }
            if complete { add(key: "a\(index + 1)", created: created, results: results) }
        }

        var ordinals: [CheckType: Int] = [:]
        for recorded in state.results where !recorded.result.check.needsCapture && decisive.contains(recorded.result.status) {
            let check = recorded.result.check
            guard let letter = keyLetter(check) else { continue }
            let ordinal = ordinals[check, default: 0] + 1
            ordinals[check] = ordinal
            add(key: "\(letter)\(ordinal)", created: recorded.recordedAt, results: [(check, recorded.result)])
        }
        // Attempts' reports come first above; ties in time keep that order.
        return reports.enumerated().sorted { ($0.element.created, $0.offset) < ($1.element.created, $1.offset) }.map(\.element)
    }

    /// The report key's letter for a check without capture that Stripe reports on.
    static func keyLetter(_ check: CheckType) -> String? {
        switch check {
        case .idNumber: return "n"
        case .email: return "e"
        case .phone: return "p"
        case .identityVerification, .document, .selfie, .amlScreening, .backgroundCheck: return nil
        }
    }

    // MARK: sub-objects

    /// Verified, or the error that says why not. A check that fills both the document and the selfie blames each
    /// for its own codes and failed signals; one part is verified only when the other was blamed and its own
    /// signal passed (a failure nothing pins on either part, such as an internal error, fails both).
    public static func outcome(_ check: StripeReportCheck, result: CheckResult, source: CheckType) -> StripeErrorCode? {
        if result.status == .approved { return nil }
        let codes = result.responseCodes.map(\.code).filter { $0 != 10000 }
        let shared = StripeReportCheck.of(source).count > 1
        let own = shared ? codes.filter { isSelfieFault($0) == (check == .selfie) } : codes
        if let code = own.first { return error(for: code, on: check) }
        let signals = result.signals
        let selfieFailed = signals.faceMatch == .fail || signals.liveness == .fail
        switch check {
        case .selfie where signals.faceMatch == .fail: return .selfieFaceMismatch
        case .selfie where signals.liveness == .fail: return .selfieManipulated
        case .document where signals.documentAuthenticity == .fail: return .documentUnverifiedOther
        default: break
        }
        if shared {
            let otherBlamed = own.count < codes.count || (check == .document ? selfieFailed : signals.documentAuthenticity == .fail)
            let passed = check == .document ? signals.documentAuthenticity == .pass : signals.faceMatch == .pass
            if otherBlamed && passed { return nil }
        }
        return check.otherError
    }

    static func subObject(_ check: StripeReportCheck, result: CheckResult, source: CheckType, invitation: Invitation) -> JSONValue {
        let failure = outcome(check, result: result, source: source)
        let status: JSONValue = failure == nil ? "verified" : "unverified"
        let error: JSONValue = failure.map { .object([("code", .string($0.rawValue)), ("reason", .string($0.reason))]) } ?? .null
        let data = result.extractedData
        switch check {
        case .document:
            return .object([
                ("address", data?.address.map { line1 in
                    .object([("city", .null), ("country", .null), ("line1", .string(line1)), ("line2", .null),
                             ("postal_code", .null), ("state", .null)])
                } ?? .null),
                ("dob", date(data?.dateOfBirth)),
                ("error", error),
                ("expiration_date", date(data?.document?.expiryDate)),
                ("files", .array([])),
                ("first_name", ViewJSON.text(data?.firstName)),
                ("issued_date", date(data?.document?.issueDate)),
                ("issuing_country", ViewJSON.text(data?.document?.issuingCountry)),
                ("last_name", ViewJSON.text(data?.lastName)),
                ("status", status),
                ("type", ViewJSON.text(documentType(data?.document?.type))),
            ])
        case .selfie:
            return .object([("document", .null), ("error", error), ("selfie", .null), ("status", status)])
        case .idNumber:
            return .object([
                ("dob", date(data?.dateOfBirth)), ("error", error), ("first_name", ViewJSON.text(data?.firstName)),
                ("id_number_type", .null), ("last_name", ViewJSON.text(data?.lastName)), ("status", status),
            ])
        case .email:
            return .object([("email", ViewJSON.text(invitation.applicant.email)), ("error", error), ("status", status)])
        case .phone:
            return .object([("error", error), ("phone", .null), ("status", status)])
        }
    }

    static func date(_ text: String?) -> JSONValue {
        guard let (day, month, year) = ViewJSON.calendarDate(text) else { return .null }
        return .object([("day", .int(Int64(day))), ("month", .int(Int64(month))), ("year", .int(Int64(year)))])
    }

    /// Stripe names three document types; the names providers use for them are read as those, anything else as
    /// unknown (null).
    public static func documentType(_ type: String?) -> String? {
        switch type?.lowercased() {
        case "passport"?: return "passport"
        case "id_card"?, "national_id"?, "identity_card"?: return "id_card"
        case "driving_license"?, "driving_licence"?, "drivers_license"?, "driver_license"?: return "driving_license"
        default: return nil
        }
    }
}
