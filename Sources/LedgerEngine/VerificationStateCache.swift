import Foundation
import Synchronization

/// The latest committed state of recently used verifications, so that a command can decide without reading
/// its stream. An entry is only a guess: the command's append expects the cached version, so a stale entry
/// (another instance or the expiry scheduler wrote since) fails that append and the command runs again from
/// the stream (`StaleCachedState`, caught inside `CommandEngine.execute`). Entries are written only after
/// their transaction committed, so a version is never paired with a state that was rolled back.
final class VerificationStateCache: Sendable {
    private struct Key: Hashable {
        let organizationID: UUID
        let id: String
    }

    private struct Storage {
        var entries: [Key: LoadedVerification] = [:]
        /// Insertion order, as a ring: a new key takes the oldest key's slot and evicts it.
        var ring: [Key?]
        var next = 0
    }

    private let storage: Mutex<Storage>
    let capacity: Int

    /// `capacity` 0 keeps nothing: every command reads its stream.
    init(capacity: Int) {
        self.capacity = max(0, capacity)
        storage = Mutex(Storage(ring: Array(repeating: nil, count: max(0, capacity))))
    }

    func get(organizationID: UUID, id: String) -> LoadedVerification? {
        guard capacity > 0 else { return nil }
        return storage.withLock { $0.entries[Key(organizationID: organizationID, id: id)] }
    }

    /// Keeps `loaded` unless a newer version of it is already kept (commits may report out of order).
    func store(organizationID: UUID, _ loaded: LoadedVerification) {
        guard capacity > 0 else { return }
        let key = Key(organizationID: organizationID, id: loaded.id)
        storage.withLock { storage in
            if let kept = storage.entries[key] {
                if kept.version < loaded.version { storage.entries[key] = loaded }
                return
            }
            if let evicted = storage.ring[storage.next] { storage.entries[evicted] = nil }
            storage.ring[storage.next] = key
            storage.next = (storage.next + 1) % capacity
            storage.entries[key] = loaded
        }
    }

    func remove(organizationID: UUID, id: String) {
        guard capacity > 0 else { return }
        _ = storage.withLock { $0.entries.removeValue(forKey: Key(organizationID: organizationID, id: id)) }
    }
}

/// A command decided on a cached state that turned out not to be the stream's latest; it runs once more,
/// from the stream.
struct StaleCachedState: Error {}
