import Foundation
import LedgerDomain
import LedgerStorage

/// What a command sets off beyond its read models, written inline in its transaction; a rebuild never runs
/// a reaction.
public protocol Reaction: Sendable {
    func statements(before: StreamState, after: StreamState, causedBy eventID: UUID?, now: Date) -> [PostgresStatement]
}

/// The webhook messages a change queues (`Outbox`).
struct OutboxReaction: Reaction {
    func statements(before: StreamState, after: StreamState, causedBy eventID: UUID?, now: Date) -> [PostgresStatement] {
        Outbox.statements(organizationID: after.organizationID, before: before.state, after: after.verification,
                          documents: after.views, causedBy: eventID, now: now)
    }
}

enum Reactions {
    static let inline: [any Reaction] = [OutboxReaction()]
}
