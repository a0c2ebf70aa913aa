import Foundation
import Testing

@testable import FleetCore

/// A rollout with a maintenance window: batches start only while it is open, it pauses
/// (`window_closed`) when it closes and goes on at the next opening with its progress kept. The
/// window's view is what the controller reads at each look; times are injected, nothing sleeps.
@Suite("rollouts inside a maintenance window")
struct RolloutWindowTests {
    let plan = RolloutPlan(total: 10, batchSize: .count(4), failureThresholdPct: 20)  // [4, 4, 2], F = 2
    let none = RolloutState.Observation(failed: 0, batchDone: false)
    let done = RolloutState.Observation(failed: 0, batchDone: true)

    @Test func createdOutsideItWaitsForTheOpening() {
        let s0 = RolloutState(createdAtMs: 1_000)
        let (s1, e1) = s0.advance(nowMs: 1_000, none, plan: plan, delayMs: 0, window: .closed(opensAtMs: 50_000))
        #expect(e1.isEmpty && s1.status == .paused && s1.pausedReason == RolloutState.windowClosed && s1.batch == -1)
        #expect(s1.wakeAtMs(nowMs: 1_000, recheckMs: 5_000) == 50_000, "wakes at the opening")
        let (s2, e2) = s1.advance(nowMs: 50_000, none, plan: plan, delayMs: 0, window: .open)
        #expect(e2 == [.dispatch(batch: 0), .batchStarted(0)] && s2.status == .running && s2.pausedReason == nil)
    }

    @Test func closingPausesBetweenBatchesAndTheDelayLeftRunsAtTheNextOpening() {
        let running = sent(RolloutState(createdAtMs: 0).advance(nowMs: 0, none, plan: plan, delayMs: 0, window: .open).0)
        let delaying = running.advance(nowMs: 1_000, done, plan: plan, delayMs: 10_000, window: .open).0
        #expect(delaying.phase == .delay && delaying.nextAtMs == 11_000)
        // Closes 4 s into the 10 s delay: paused with 6 s of it kept.
        let (paused, e) = delaying.advance(nowMs: 5_000, done, plan: plan, delayMs: 10_000, window: .closed(opensAtMs: 100_000))
        #expect(e.isEmpty && paused.status == .paused && paused.pausedReason == "window_closed" && paused.remainingMs == 6_000)
        #expect(paused.advance(nowMs: 99_999, done, plan: plan, delayMs: 10_000, window: .closed(opensAtMs: 100_000)).1.isEmpty)
        let (reopened, e2) = paused.advance(nowMs: 100_000, done, plan: plan, delayMs: 10_000, window: .open)
        #expect(e2.isEmpty && reopened.status == .running && reopened.nextAtMs == 106_000, "the delay's remainder runs again")
        #expect(reopened.advance(nowMs: 106_000, done, plan: plan, delayMs: 10_000, window: .open).1 == [.dispatch(batch: 1), .batchStarted(1)])
    }

    @Test func aBatchInFlightFinishesButTheNextWaitsAndTheBudgetStillHalts() {
        let inFlight = sent(RolloutState(createdAtMs: 0).advance(nowMs: 0, none, plan: plan, delayMs: 0, window: .open).0)
        let (paused, e) = inFlight.advance(nowMs: 1_000, none, plan: plan, delayMs: 0, window: .closed(opensAtMs: 9_000))
        #expect(e.isEmpty && paused.status == .paused && paused.phase == .batch && paused.dispatched, "its hosts are out; none is recalled")
        // Done while closed: nothing starts.
        #expect(paused.advance(nowMs: 2_000, done, plan: plan, delayMs: 0, window: .closed(opensAtMs: 9_000)).1.isEmpty)
        // Failures past the budget halt it even while paused.
        let (halted, h) = paused.advance(nowMs: 2_000, .init(failed: 3, batchDone: true), plan: plan, delayMs: 0, window: .closed(opensAtMs: 9_000))
        #expect(h == [.skipQueued(.halted), .finished(.failed)] && halted.status == .failed)
        // Reopened: the done batch is seen, and the next one starts (no delay).
        let (on, e2) = paused.advance(nowMs: 9_000, done, plan: plan, delayMs: 0, window: .open)
        #expect(e2 == [.dispatch(batch: 1), .batchStarted(1)] && on.status == .running)
    }

    @Test func operatorsPauseAndResumeStayTheirs() throws {
        let delaying = sent(RolloutState(createdAtMs: 0).advance(nowMs: 0, none, plan: plan, delayMs: 0).0)
            .advance(nowMs: 1_000, done, plan: plan, delayMs: 10_000).0
        let (byOperator, _) = try delaying.apply(.pause, nowMs: 2_000, plan: plan, delayMs: 10_000)
        let (still, e) = byOperator.advance(nowMs: 50_000, done, plan: plan, delayMs: 10_000, window: .open)
        #expect(e.isEmpty && still.status == .paused && still.pausedReason == nil, "an open window does not resume an operator's pause")
        #expect(still.wakeAtMs(nowMs: 50_000, recheckMs: 5_000) == nil)
        let byWindow = delaying.advance(nowMs: 2_000, done, plan: plan, delayMs: 10_000, window: .closed(opensAtMs: nil)).0
        #expect(byWindow.wakeAtMs(nowMs: 2_000, recheckMs: 5_000) == 62_000, "a window that never opens: looked at again each minute")
        #expect(throws: ConflictError.self) { try byWindow.apply(.pause, nowMs: 3_000, plan: plan, delayMs: 10_000) }
        let (resumed, _) = try byWindow.apply(.resume, nowMs: 3_000, plan: plan, delayMs: 10_000)
        #expect(resumed.pausedReason == nil && resumed.status == .running)
        #expect(
            resumed.advance(nowMs: 3_001, done, plan: plan, delayMs: 10_000, window: .closed(opensAtMs: 90_000)).0.pausedReason == "window_closed",
            "still closed: paused again at the next look")
    }

    @Test func aStateWrittenBeforeWindowsDecodes() throws {
        let old = #"{"status":"running","batch":0,"phase":"batch","dispatched":true,"closed":true}"#
        let s = try JSONDecoder().decode(RolloutState.self, from: Data(old.utf8))
        #expect(s.pausedReason == nil && s.status == .running)
    }
}
