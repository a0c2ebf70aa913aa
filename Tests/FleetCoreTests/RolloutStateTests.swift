import PropertyBased
import Testing

@testable import FleetCore

@Suite("rollout state machine")
struct RolloutStateTests {
    let plan = RolloutPlan(total: 10, batchSize: .count(4), failureThresholdPct: 20)  // [4, 4, 2], F = 2
    let none = RolloutState.Observation(failed: 0, batchDone: false)
    let done = RolloutState.Observation(failed: 0, batchDone: true)

    @Test func firstBatchAtOnceThenEachAfterTheLastIsDoneAndTheDelayPassed() {
        let s0 = RolloutState(createdAtMs: 1_000)
        #expect(s0.status == .queued)
        let (s1, e1) = s0.advance(nowMs: 1_000, none, plan: plan, delayMs: 500)
        #expect(e1 == [.dispatch(batch: 0), .batchStarted(0)])
        #expect(s1.status == .running && s1.batch == 0 && s1.phase == .batch && !s1.dispatched)
        // Until the dispatch is known to have completed, looking again sends it again (idempotent).
        #expect(s1.advance(nowMs: 1_100, none, plan: plan, delayMs: 500).1 == [.dispatch(batch: 0)])
        let s2 = sent(s1)
        #expect(s2.advance(nowMs: 1_200, none, plan: plan, delayMs: 500) == (s2, []), "batch 0 still running")
        let (s3, e3) = s2.advance(nowMs: 2_000, done, plan: plan, delayMs: 500)
        #expect(e3 == [] && s3.phase == .delay && s3.nextAtMs == 2_500)
        #expect(s3.wakeAtMs(nowMs: 2_000, recheckMs: 5_000) == 2_500)
        #expect(s3.advance(nowMs: 2_499, done, plan: plan, delayMs: 500).1 == [], "the delay is respected")
        let (s4, e4) = s3.advance(nowMs: 2_500, done, plan: plan, delayMs: 500)
        #expect(e4 == [.dispatch(batch: 1), .batchStarted(1)])
        let (s5, e5) = sent(s4).advance(nowMs: 3_000, done, plan: plan, delayMs: 0)
        #expect(e5 == [.dispatch(batch: 2), .batchStarted(2)], "zero delay: the next batch at once")
        let (s6, e6) = sent(s5).advance(nowMs: 3_100, done, plan: plan, delayMs: 0)
        #expect(e6 == [.finished(.succeeded)] && s6.status == .succeeded && s6.closed)
        #expect(s6.wakeAtMs(nowMs: 3_100, recheckMs: 5_000) == nil)
    }

    @Test(arguments: [0, 1, 2, 3])
    func haltsTheMomentFailuresExceedTheBudgetEvenMidBatch(failed: Int) {
        let running = sent(RolloutState(createdAtMs: 0).advance(nowMs: 0, none, plan: plan, delayMs: 0).0)
        let (s, e) = running.advance(nowMs: 10, .init(failed: failed, batchDone: false), plan: plan, delayMs: 0)
        if failed > plan.failureBudget {
            #expect(e == [.skipQueued(.halted), .finished(.failed)])
            #expect(s.status == .failed && !s.closed && s.haltedReason?.contains("budget of 2") == true)
            // Until the operation is told, looking again owes the skip again.
            #expect(s.advance(nowMs: 20, none, plan: plan, delayMs: 0).1 == [.skipQueued(.halted)])
            #expect(s.wakeAtMs(nowMs: 20, recheckMs: 5_000) == 1_020)
        } else {
            #expect(e.isEmpty && s.status == .running)
        }
    }

    @Test func pauseKeepsTheRemainingDelayAndResumeStartsIt() throws {
        let waiting = sent(RolloutState(createdAtMs: 0).advance(nowMs: 0, none, plan: plan, delayMs: 0).0)
            .advance(nowMs: 1_000, done, plan: plan, delayMs: 10_000).0
        #expect(waiting.nextAtMs == 11_000)
        let (paused, _) = try waiting.apply(.pause, nowMs: 4_000, plan: plan, delayMs: 0)
        #expect(paused.status == .paused && paused.remainingMs == 7_000 && paused.nextAtMs == nil)
        #expect(paused.advance(nowMs: 20_000, done, plan: plan, delayMs: 10_000).1 == [], "no batch starts while paused")
        #expect(paused.wakeAtMs(nowMs: 20_000, recheckMs: 5_000) == nil)
        let (resumed, _) = try paused.apply(.resume, nowMs: 30_000, plan: plan, delayMs: 0)
        #expect(resumed.status == .running && resumed.nextAtMs == 37_000)
        #expect(resumed.advance(nowMs: 36_999, done, plan: plan, delayMs: 10_000).1 == [])
        #expect(resumed.advance(nowMs: 37_000, done, plan: plan, delayMs: 10_000).1 == [.dispatch(batch: 1), .batchStarted(1)])
    }

    @Test func pauseDuringABatchLetsItFinishAndAFailureStillHalts() throws {
        let running = sent(RolloutState(createdAtMs: 0).advance(nowMs: 0, none, plan: plan, delayMs: 0).0)
        let (paused, _) = try running.apply(.pause, nowMs: 5, plan: plan, delayMs: 0)
        #expect(paused.advance(nowMs: 10, done, plan: plan, delayMs: 0).1 == [], "batch done, but no next batch while paused")
        #expect(paused.advance(nowMs: 10, .init(failed: 3, batchDone: false), plan: plan, delayMs: 0).0.status == .failed)
        let (resumed, _) = try paused.apply(.resume, nowMs: 20, plan: plan, delayMs: 0)
        #expect(resumed.advance(nowMs: 20, done, plan: plan, delayMs: 0).1 == [.dispatch(batch: 1), .batchStarted(1)])
    }

    @Test func cancelSkipsQueuedAndEveryOtherTransitionIs409() throws {
        let s0 = RolloutState(createdAtMs: 0)
        let (cancelled, effects) = try s0.apply(.cancel, nowMs: 0, plan: plan, delayMs: 0)
        #expect(effects == [.skipQueued(.cancelled), .finished(.cancelled)])
        #expect(cancelled.status == .cancelled)
        #expect(cancelled.advance(nowMs: 1, done, plan: plan, delayMs: 0).1 == [.skipQueued(.cancelled)])
        for action in RolloutAction.allCases {
            #expect(throws: ConflictError.self) { try cancelled.apply(action, nowMs: 1, plan: plan, delayMs: 0) }
        }
        #expect(throws: ConflictError.self) { try s0.apply(.resume, nowMs: 0, plan: plan, delayMs: 0) }
        let (paused, _) = try s0.apply(.pause, nowMs: 0, plan: plan, delayMs: 0)
        #expect(throws: ConflictError.self) { try paused.apply(.pause, nowMs: 0, plan: plan, delayMs: 0) }
        #expect(try paused.apply(.resume, nowMs: 0, plan: plan, delayMs: 0).0.status == .queued, "resumed before any batch: queued again")
    }

    @Test func anEmptyRolloutSucceedsAtOnce() {
        let empty = RolloutPlan(total: 0, batchSize: .count(1), failureThresholdPct: 0)
        #expect(RolloutState(createdAtMs: 0).advance(nowMs: 0, none, plan: empty, delayMs: 0).1 == [.finished(.succeeded)])
    }

    /// Driven to the end by random looks, failures arriving one by one: batches go out in order,
    /// each once; a batch never starts before the last is done and the delay passed; the rollout
    /// halts exactly when failed first exceeds F, and otherwise succeeds after the last batch.
    @Test func drivenToTheEndItKeepsEveryRule() async {
        await propertyCheck(count: 300, input: Gen.int(in: 1...40), Gen.int(in: 0...100), Gen.int(in: 0...2000).array(of: 1...200)) { n, pct, seeds in
            let plan = RolloutPlan(total: n, batchSize: .count(max(1, n / 4)), failureThresholdPct: Double(pct))
            var s = RolloutState(createdAtMs: 0)
            var now: Int64 = 0, failed = 0, finishedHosts = 0
            var started: [Int] = [], lastDoneAt: Int64 = 0
            for seed in seeds where !s.status.isTerminal {
                now += Int64(seed % 300)
                let batchEnd = s.batch >= 0 ? plan.range(ofBatch: s.batch).upperBound : 0
                if s.phase == .batch, s.dispatched, finishedHosts < batchEnd {
                    finishedHosts += 1
                    if seed % 7 == 0 { failed += 1 }
                    if finishedHosts == batchEnd { lastDoneAt = now }
                }
                let (next, effects) = s.advance(
                    nowMs: now, .init(failed: failed, batchDone: s.batch >= 0 && finishedHosts == batchEnd),
                    plan: plan, delayMs: 250)
                for case .batchStarted(let k) in effects {
                    #expect(k == started.count, "in order, once each")
                    #expect(k == 0 || now >= lastDoneAt + 250, "after the delay")
                    started.append(k)
                }
                // Failures arrive one per look, so the halt comes exactly at F + 1, at that look.
                #expect((next.status == .failed) == (failed == plan.failureBudget + 1), "failed \(failed), F \(plan.failureBudget)")
                s = next
                if s.phase == .batch, !s.dispatched { s.dispatched = true }
            }
            if s.status == .failed { #expect(plan.shouldHalt(failed: failed)) }
            if s.status == .succeeded || s.status == .partial {
                #expect(started.count == plan.batches.count && !plan.shouldHalt(failed: failed))
                #expect((s.status == .partial) == (failed > 0), "partial exactly when some host failed within the budget")
            }
        }
    }
}
