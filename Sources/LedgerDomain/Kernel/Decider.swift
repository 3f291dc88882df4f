import Foundation

/// An aggregate's rules as three pure functions (SPEC §3): where a stream starts, what a command makes of
/// a state, and what an event makes of it. Every shell (the engine, the expiry job, replay, tests) decides and
/// folds through `run` and `fold`, so that loop is written once.
public protocol Decider {
    associatedtype Command
    associatedtype Event
    associatedtype State
    associatedtype Failure: Error

    static var initialState: State { get }
    /// The events `command` produces in `state` at `now`; none for a no-op; throws when it is not allowed.
    static func decide(_ command: Command, _ state: State, now: Date) throws(Failure) -> [Event]
    /// The state after `event`, recorded at `at`.
    static func evolve(_ state: State, _ event: Event, at: Date) -> State
}

extension Decider {
    /// The events of `events`, all recorded at `at`, folded onto `state`.
    public static func evolve<Events: Sequence<Event>>(_ state: State, _ events: Events, at: Date) -> State {
        events.reduce(state) { evolve($0, $1, at: at) }
    }

    /// Decides `command` on `state` and folds what it produced: the events, and the state after them.
    public static func run(_ command: Command, _ state: State, now: Date) throws(Failure) -> (events: [Event], state: State) {
        let events = try decide(command, state, now: now)
        return (events, evolve(state, events, at: now))
    }

    /// Runs `commands` one after another, each at `now`, each on the state the previous one left; stops at
    /// the first refusal.
    public static func run<Commands: Sequence<Command>>(_ commands: Commands, _ state: State,
                                                         now: Date) throws(Failure) -> (events: [Event], state: State) {
        var events: [Event] = []
        var state = state
        for command in commands {
            let produced = try run(command, state, now: now)
            events += produced.events
            state = produced.state
        }
        return (events, state)
    }

    /// A stream's state from its events, each with the time it was recorded, starting from `state`.
    public static func fold<Events: Sequence<(Event, Date)>>(_ events: Events, from state: State = initialState) -> State {
        events.reduce(state) { evolve($0, $1.0, at: $1.1) }
    }
}
