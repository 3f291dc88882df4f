import Foundation

/// A verification's history for a reviewer: each event with its time, actor, what it changed in the
/// verification (old → new, path by path of the verification object) and the response codes it brought.
public struct TimelineEntry: Sendable, Equatable {
    public struct Change: Sendable, Equatable {
        /// Where in the verification object, e.g. `checks[0].status`.
        public var path: String
        /// Nil when the value did not exist before (or no longer exists after).
        public var old: String?
        public var new: String?
    }

    public struct Code: Sendable, Equatable {
        public var check: String
        public var code: Int64
        public var summary: String
    }

    public var eventID: UUID
    public var type: String
    public var version: Int64
    public var position: Int64
    public var occurredAt: Date
    public var actor: String
    public var changes: [Change]
    /// Response codes a check has after this event and did not have before it.
    public var newCodes: [Code]
}

public enum Timeline {
    /// Paths that change with every event and say nothing of their own.
    static let ignored: Set<String> = ["version", "updated_at"]

    /// The entries of a stream's events after version `after`, oldest first; the events up to it (which must
    /// lead `events`) are folded only, so that a page of a long stream shows its first change against the state
    /// before it. An event the codec cannot read is shown with no changes.
    public static func entries(id: String, events: [RecordedEvent], after: Int64 = 0) -> [TimelineEntry] {
        let earlier = events.prefix { $0.version <= after }
        var state = earlier.reduce(VerificationDecider.initialState, evolve)
        let start = VerificationView.object(id: id, state: state, version: earlier.last?.version ?? 0)
        var before = flatten(start)
        var codesBefore = codes(start)
        return events.dropFirst(earlier.count).map { recorded in
            state = evolve(state, recorded)
            let view = VerificationView.object(id: id, state: state, version: recorded.version)
            let after = flatten(view)
            let codesAfter = codes(view)
            let paths = (Set(before.keys).union(after.keys)).filter { path in
                !ignored.contains(path) && !ignored.contains(where: { path.hasSuffix("." + $0) }) && before[path] != after[path]
            }
            let changes = paths.sorted { order(after, before, $0) < order(after, before, $1) }
                .map { TimelineEntry.Change(path: $0, old: before[$0]?.text, new: after[$0]?.text) }
            let newCodes = codesAfter.filter { !codesBefore.contains($0) }
            before = after
            codesBefore = codesAfter
            return TimelineEntry(eventID: recorded.id, type: recorded.type, version: recorded.version, position: recorded.position,
                                 occurredAt: recorded.occurredAt, actor: "\(recorded.metadata.actorType.rawValue) \(recorded.metadata.actorID)",
                                 changes: changes, newCodes: newCodes)
        }
    }

    private static func evolve(_ state: VerificationState, _ recorded: RecordedEvent) -> VerificationState {
        guard let event = try? VerificationEvent(type: recorded.type, schemaVersion: recorded.schemaVersion, data: recorded.data) else { return state }
        return VerificationDecider.evolve(state, event, at: recorded.occurredAt)
    }

    /// A value at a path, and where the path first appeared in the object (so changes read in its order).
    struct Leaf: Equatable {
        var text: String
        var index: Int
    }

    private static func order(_ after: [String: Leaf], _ before: [String: Leaf], _ path: String) -> Int {
        after[path]?.index ?? before[path]?.index ?? Int.max
    }

    /// Every scalar of a JSON value by its path; an empty array or object counts as a value of its own.
    static func flatten(_ value: JSONValue) -> [String: Leaf] {
        var leaves: [String: Leaf] = [:]
        func walk(_ value: JSONValue, _ path: String) {
            if let members = value.objectValue, !members.isEmpty {
                for (name, member) in members { walk(member, path.isEmpty ? name : path + "." + name) }
            } else if let items = value.arrayValue, !items.isEmpty {
                for (index, item) in items.enumerated() { walk(item, "\(path)[\(index)]") }
            } else if value != .null {
                leaves[path] = Leaf(text: value.stringValue ?? value.jsonString, index: leaves.count)
            }
        }
        walk(value, "")
        return leaves
    }

    static func codes(_ view: JSONValue) -> [TimelineEntry.Code] {
        (view["checks"]?.arrayValue ?? []).flatMap { check in
            (check["response_codes"]?.arrayValue ?? []).compactMap { code in
                guard let number = code["code"]?.intValue else { return nil }
                return TimelineEntry.Code(check: check["type"]?.stringValue ?? "", code: number, summary: code["summary"]?.stringValue ?? "")
            }
        }
    }
}
