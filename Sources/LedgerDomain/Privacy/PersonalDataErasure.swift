extension VerificationState {
    /// The state without the values `PersonalDataPolicy.verification` names (the applicant, each result's extracted
    /// data and raw payload), as its stream folds once the entity's data key is destroyed; nothing else changes (the
    /// `personalDataErased` flag neither: the views render this for the plain part of what they store). A test
    /// checks it against the fold of the same events opened without the key.
    public var personalDataRemoved: VerificationState {
        var erased = self
        erased.invitation?.applicant = Applicant()
        for index in erased.checks.indices { erased.checks[index].extractedData = nil }
        for index in erased.results.indices {
            erased.results[index].result.extractedData = nil
            erased.results[index].result.raw = nil
        }
        return erased
    }
}

/// What a view says about the personal data it leaves out.
public enum PersonalDataMarker {
    public static let member = "personal_data"
    public static let erased = "erased"

    /// `view` with `"personal_data": "erased"` added when the state's personal data was erased; otherwise as it is.
    public static func marking(_ view: JSONValue, _ state: VerificationState) -> JSONValue {
        state.personalDataErased ? markedErased(view) : view
    }

    /// `view` (an object) with `"personal_data": "erased"` added.
    public static func markedErased(_ view: JSONValue) -> JSONValue {
        guard case var .object(members) = view, !members.contains(where: { $0.0 == member }) else { return view }
        members.append((member, .string(erased)))
        return .object(members)
    }
}

extension PersonalDataPolicy {
    /// The personal members of the objects the service renders that leave it whole, by their `object` member: the
    /// verification and the order objects that webhooks carry (`data.object`) and kept idempotent replies hold. Sealed
    /// since personal data is encrypted; objects written before hold them in plain text, and an erasure takes them out.
    public static let renderedObjects = PersonalDataPolicy(pathsByEventType: [
        "verification": [PersonalDataPath(.member("applicant"), .everyMember)],
        "order": [PersonalDataPath(.member("user"), .everyMember), PersonalDataPath(.member("documents"))],
        WebhookObject.validation.rawValue: [PersonalDataPath(.member("decision"), .member("extractedData"))],
    ])

    /// A rendered object in plain text without its personal members, marked erased; nil for an object that has none.
    /// `kind` is what the object is when it does not say so itself (seed 004's validation has no `object` member).
    public static func erased(renderedObject object: JSONValue, kind: String? = nil) -> JSONValue? {
        guard let kind = object["object"]?.stringValue ?? kind, renderedObjects.carriesPersonalData(eventType: kind) else { return nil }
        return PersonalDataMarker.markedErased(renderedObjects.split(eventType: kind, data: object).plain)
    }
}
