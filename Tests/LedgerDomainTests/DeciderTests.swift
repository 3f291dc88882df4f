import Foundation
import LedgerDomain
import XCTest

/// The Decider helpers on a decider small enough to follow by hand, then on the verification decider.
final class DeciderTests: XCTestCase {
    /// A counter that refuses to go below zero; each event records when it happened.
    enum Counter: Decider {
        enum Command { case add(Int), take(Int) }
        enum Event: Equatable { case added(Int), taken(Int) }
        struct State: Equatable { var value = 0; var changedAt: [Date] = [] }
        struct Refused: Error, Equatable { let wanted: Int, had: Int }

        static let initialState = State()

        static func decide(_ command: Command, _ state: State, now: Date) throws(Refused) -> [Event] {
            switch command {
            case let .add(amount): return amount == 0 ? [] : [.added(amount)]
            case let .take(amount):
                guard amount <= state.value else { throw Refused(wanted: amount, had: state.value) }
                return [.taken(amount)]
            }
        }

        static func evolve(_ state: State, _ event: Event, at: Date) -> State {
            var next = state
            switch event {
            case let .added(amount): next.value += amount
            case let .taken(amount): next.value -= amount
            }
            next.changedAt.append(at)
            return next
        }
    }

    let t0 = Date(timeIntervalSince1970: 1_000), t1 = Date(timeIntervalSince1970: 2_000)

    func testRunReturnsTheEventsAndTheStateAfterThem() throws {
        let (events, state) = try Counter.run(.add(3), Counter.initialState, now: t0)
        XCTAssertEqual(events, [.added(3)])
        XCTAssertEqual(state, Counter.State(value: 3, changedAt: [t0]))
    }

    func testANoOpLeavesTheStateAsItWas() throws {
        let start = Counter.State(value: 2, changedAt: [t0])
        let (events, state) = try Counter.run(.add(0), start, now: t1)
        XCTAssertEqual(events, [])
        XCTAssertEqual(state, start)
    }

    func testARefusalThrowsTheDecidersOwnError() {
        XCTAssertThrowsError(try Counter.run(.take(1), Counter.initialState, now: t0)) { error in
            XCTAssertEqual(error as? Counter.Refused, Counter.Refused(wanted: 1, had: 0))
        }
    }

    func testRunningSeveralCommandsDecidesEachOnTheStateThePreviousLeft() throws {
        let (events, state) = try Counter.run([.add(2), .take(2), .add(5)], Counter.initialState, now: t0)
        XCTAssertEqual(events, [.added(2), .taken(2), .added(5)])
        XCTAssertEqual(state.value, 5)
        // The second take is allowed only because the first add was folded before it was decided.
        XCTAssertThrowsError(try Counter.run([.add(1), .take(2)], Counter.initialState, now: t0))
    }

    func testFoldGivesEachEventItsOwnTime() {
        let state = Counter.fold([(.added(4), t0), (.taken(1), t1)])
        XCTAssertEqual(state, Counter.State(value: 3, changedAt: [t0, t1]))
        XCTAssertEqual(Counter.fold([(.added(1), t1)], from: state).value, 4)
        XCTAssertEqual(Counter.fold([]), Counter.initialState)
    }

    /// Folding the events a lifecycle produced, each at the time it was recorded, gives the state that
    /// deciding and evolving reached.
    func testTheVerificationDeciderFoldsWhatItRan() {
        var scenario = Scenario()
        var recorded: [(VerificationEvent, Date)] = []
        for command in [VerificationCommand.invite(Scenario.invitation([.identityVerification, .amlScreening])), startAttempt,
                        progress(.captureInProgress), progress(.completed), result(.approved),
                        result(.amlScreening, .approved, aml: .clear)] {
            recorded += scenario.run(command).map { ($0, scenario.now) }
        }
        XCTAssertEqual(scenario.state.overallStatus, .approved)
        XCTAssertEqual(VerificationDecider.fold(recorded), scenario.state)
    }
}
