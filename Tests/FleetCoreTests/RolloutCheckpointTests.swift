import PropertyBased
import Testing

@testable import FleetCore

/// What happens between batches: the canary's soak, HTTP gates, an operator's promote, the
/// external halt, the failure policy and the ending statuses.
@Suite("rollout checkpoints")
struct RolloutCheckpointTests {
    let none = RolloutState.Observation(failed: 0, batchDone: false)
    let done = RolloutState.Observation(failed: 0, batchDone: true)

    /// A rollout of `plan` with its first batch out and done, looked at at `now`.
    func canaryDone(_ plan: RolloutPlan, now: Int64 = 1_000) -> (RolloutState, [RolloutState.Effect]) {
        let first = sent(RolloutState(createdAtMs: 0).advance(nowMs: 0, none, plan: plan, delayMs: 500).0)
        return first.advance(nowMs: now, done, plan: plan, delayMs: 500)
    }

    @Test func aCanarySoaksThenRunsItsGatesThenWaitsForAPromote() throws {
        let gate = RolloutGate(kind: .http, url: "http://127.0.0.1:1/", timeoutSeconds: 2, after: .canary)
        let plan = RolloutPlan(
            total: 5, batchSize: .count(2), failureThresholdPct: 0, canary: CanarySettings(hosts: .count(1), soakSeconds: 60, promotion: .manual),
            gates: [gate], delaySeconds: 0)
        let (soaking, e0) = canaryDone(plan)
        #expect(e0.isEmpty && soaking.status == .soaking && soaking.phase == .soak && soaking.nextAtMs == 61_000)
        #expect(soaking.wakeAtMs(nowMs: 1_000, recheckMs: 5_000) == 61_000)
        #expect(soaking.advance(nowMs: 60_999, done, plan: plan, delayMs: 500) == (soaking, []), "the soak is respected")
        // A failure during the soak (a canary host's late report, say) still halts it.
        #expect(soaking.advance(nowMs: 2_000, .init(failed: 1, batchDone: true), plan: plan, delayMs: 500).0.status == .failed)

        let (gating, e1) = soaking.advance(nowMs: 61_000, done, plan: plan, delayMs: 500)
        #expect(e1 == [.runGates(afterBatch: 0)] && gating.phase == .gates && gating.status == .running)
        #expect(gating.nextAtMs == Int64(68_000), "a gate run lost with its controller is run again after its timeouts and a margin")
        #expect(gating.advance(nowMs: 62_000, done, plan: plan, delayMs: 500).1.isEmpty, "no second run while one may be running")
        #expect(gating.advance(nowMs: 68_000, done, plan: plan, delayMs: 500).1 == [.runGates(afterBatch: 0)])

        let waiting = try #require(gating.gatesPassed(afterBatch: 0, nowMs: 62_000, plan: plan, delayMs: 500))
        #expect(waiting.status == .awaitingApproval && waiting.phase == .approval)
        #expect(gating.gatesPassed(afterBatch: 1, nowMs: 62_000, plan: plan, delayMs: 500) == nil, "an outcome for another batch is stale")
        #expect(waiting.gatesPassed(afterBatch: 0, nowMs: 62_000, plan: plan, delayMs: 500) == nil, "written once")
        #expect(waiting.advance(nowMs: 999_000, done, plan: plan, delayMs: 500).1.isEmpty, "it waits for an operator, however long")
        #expect(throws: ConflictError.self) { try waiting.apply(.pause, nowMs: 62_000, plan: plan, delayMs: 500) }

        let (promoted, _) = try waiting.apply(.promote, nowMs: 70_000, plan: plan, delayMs: 500)
        #expect(promoted.status == .running && promoted.phase == .delay && promoted.nextAtMs == 70_500)
        #expect(promoted.advance(nowMs: 70_500, done, plan: plan, delayMs: 500).1 == [.dispatch(batch: 1), .batchStarted(1)])
        #expect(throws: ConflictError.self) { try promoted.apply(.promote, nowMs: 70_000, plan: plan, delayMs: 500) }
    }

    @Test func aFailedGateHaltsWithItsDetail() throws {
        let gate = RolloutGate(kind: .http, url: "http://127.0.0.1:1/", timeoutSeconds: 1, after: .everyBatch)
        let plan = RolloutPlan(total: 4, batchSize: .count(2), failureThresholdPct: 100, gates: [gate])
        let (gating, effects) = canaryDone(plan)
        #expect(effects == [.runGates(afterBatch: 0)])
        let (halted, e) = try #require(gating.gateFailed(afterBatch: 0, "GET http://127.0.0.1:1/ answered 503"))
        #expect(e == [.skipQueued(.halted), .finished(.failed)])
        #expect(halted.status == .failed && halted.haltCode == .gateFailed && halted.haltedReason == "gate_failed: GET http://127.0.0.1:1/ answered 503")
        #expect(halted.gateFailed(afterBatch: 0, "again") == nil)
    }

    @Test func gatesPassedWhilePausedMoveOnButStartNothingUntilResumed() throws {
        let gate = RolloutGate(kind: .http, url: "http://127.0.0.1:1/", timeoutSeconds: 1, after: .everyBatch)
        let plan = RolloutPlan(total: 4, batchSize: .count(2), failureThresholdPct: 100, gates: [gate])
        let (gating, _) = canaryDone(plan)
        let (paused, _) = try gating.apply(.pause, nowMs: 1_100, plan: plan, delayMs: 500)
        let passed = try #require(paused.gatesPassed(afterBatch: 0, nowMs: 1_200, plan: plan, delayMs: 500))
        #expect(passed.status == .paused && passed.phase == .delay && passed.remainingMs == 500 && passed.nextAtMs == nil)
        #expect(passed.advance(nowMs: 9_000, done, plan: plan, delayMs: 500).1.isEmpty)
        let (resumed, _) = try passed.apply(.resume, nowMs: 10_000, plan: plan, delayMs: 500)
        #expect(resumed.status == .running && resumed.nextAtMs == 10_500)
    }

    @Test func pausingASoakKeepsWhatIsLeftOfIt() throws {
        let plan = RolloutPlan(total: 4, batchSize: .count(2), failureThresholdPct: 0, canary: CanarySettings(hosts: .count(1), soakSeconds: 10))
        let (soaking, _) = canaryDone(plan)
        let (paused, _) = try soaking.apply(.pause, nowMs: 4_000, plan: plan, delayMs: 0)
        #expect(paused.remainingMs == 7_000)
        let (resumed, _) = try paused.apply(.resume, nowMs: 20_000, plan: plan, delayMs: 0)
        #expect(resumed.status == .soaking && resumed.nextAtMs == 27_000)
    }

    @Test func anApprovalGateAfterEveryBatchWaitsEachTime() throws {
        let plan = RolloutPlan(total: 3, batchSize: .count(1), failureThresholdPct: 0, gates: [RolloutGate(kind: .approval, after: .everyBatch)])
        var (s, _) = canaryDone(plan)
        for k in 0..<2 {
            #expect(s.status == .awaitingApproval, "after batch \(k)")
            (s, _) = try s.apply(.promote, nowMs: 2_000, plan: plan, delayMs: 0)
            let (next, e) = s.advance(nowMs: 2_000, done, plan: plan, delayMs: 0)
            #expect(e == [.dispatch(batch: k + 1), .batchStarted(k + 1)])
            (s, _) = sent(next).advance(nowMs: 3_000, done, plan: plan, delayMs: 0)
        }
        #expect(s.status == .succeeded, "none after the last batch")
    }

    @Test func anExternalHaltStopsItAsTheBudgetDoes() throws {
        let plan = RolloutPlan(total: 4, batchSize: .count(2), failureThresholdPct: 100)
        let running = sent(RolloutState(createdAtMs: 0).advance(nowMs: 0, none, plan: plan, delayMs: 0).0)
        let (halted, effects) = try running.halt(reason: "halted: error rate alarm")
        #expect(effects == [.skipQueued(.halted), .finished(.failed)])
        #expect(halted.status == .failed && halted.haltCode == .external && halted.haltedReason == "halted: error rate alarm" && !halted.closed)
        #expect(throws: ConflictError.self) { try halted.halt(reason: "again") }
        let (waiting, _) = try RolloutState(createdAtMs: 0).apply(.pause, nowMs: 0, plan: plan, delayMs: 0)
        #expect(try waiting.halt(reason: "x").0.status == .failed, "a paused rollout halts too")
    }

    /// Offline hosts left out of the budget do not halt it; the unreached budget then does.
    @Test func undeliverableLeftOutIsJudgedByTheUnreachedBudget() {
        let policy = FailurePolicy(counted: [.exitCode, .timedOut, .lost, .agentError], maxUnreachedPct: 20)
        let plan = RolloutPlan(total: 10, batchSize: .count(10), failureThresholdPct: 0, policy: policy)  // F = 0, unreached <= 2
        let running = sent(RolloutState(createdAtMs: 0).advance(nowMs: 0, none, plan: plan, delayMs: 0).0)
        func seen(_ undeliverable: Int, exitCode: Int = 0) -> RolloutState.Observation {
            let failed = undeliverable + exitCode
            return .init(
                counters: ProgressCounters(total: 10, queued: 0, running: 10 - failed, succeeded: 0, failed: failed, skipped: 0),
                reasons: [.undeliverable: undeliverable, .exitCode: exitCode], batchDone: false)
        }
        #expect(running.advance(nowMs: 1, seen(2), plan: plan, delayMs: 0).0.status == .running, "2 offline: within both budgets")
        let (halted, _) = running.advance(nowMs: 1, seen(3), plan: plan, delayMs: 0)
        #expect(halted.status == .failed && halted.haltCode == .unreachedBudget)
        let (budget, _) = running.advance(nowMs: 1, seen(0, exitCode: 1), plan: plan, delayMs: 0)
        #expect(budget.haltCode == .failureBudget && budget.haltedReason?.contains("budget of 0") == true)
    }

    @Test(arguments: [
        // total, succeeded, failed, skipped, of which not_approved, ending
        (5, 5, 0, 0, 0, RolloutStatus.succeeded), (5, 3, 0, 2, 2, .succeeded), (5, 0, 0, 5, 5, .succeeded), (5, 4, 1, 0, 0, .partial),
        (5, 4, 0, 1, 0, .partial), (5, 0, 5, 0, 0, .failed), (5, 0, 3, 2, 2, .failed), (0, 0, 0, 0, 0, .succeeded),
    ])
    func theEndingStatusSaysWhatHappened(total: Int, succeeded: Int, failed: Int, skipped: Int, notApproved: Int, ending: RolloutStatus) {
        let c = ProgressCounters(total: total, queued: 0, running: 0, succeeded: succeeded, failed: failed, skipped: skipped)
        #expect(RolloutState.ending(c, reasons: [.notApproved: notApproved]) == ending)
    }

    /// Random looks, results, gate outcomes and promotes: batches still go out in order, each
    /// once; no batch after the canary starts before the soak ended, its gates passed and, when
    /// manual, a promote; a halt comes exactly when counted failures first exceed the budget.
    @Test func drivenToTheEndThroughItsCheckpoints() async {
        await propertyCheck(count: 300, input: Gen.int(in: 1...30), Gen.int(in: 0...3), Gen.int(in: 0...2000).array(of: 1...300)) { n, budget, seeds in
            let gates = [RolloutGate(kind: .http, url: "http://127.0.0.1:1/", timeoutSeconds: 1, after: .everyBatch)]
            let canary = CanarySettings(hosts: .count(1), soakSeconds: 1, promotion: .manual)
            let plan = RolloutPlan(
                total: n, batchSize: .count(max(1, n / 3)), failureThresholdPct: nil, maxFailures: budget, canary: canary, gates: gates)
            var s = RolloutState(createdAtMs: 0)
            var now: Int64 = 0, failed = 0, finishedHosts = 0, promoted = 0, gatesPassed = 0
            var started: [Int] = [], canaryDoneAt: Int64?
            for seed in seeds where !s.status.isTerminal {
                now += Int64(seed % 400)
                let batchEnd = s.batch >= 0 ? plan.range(ofBatch: s.batch).upperBound : 0
                if s.phase == .batch, s.dispatched, finishedHosts < batchEnd {
                    finishedHosts += 1
                    if seed % 5 == 0 { failed += 1 }
                    if finishedHosts == batchEnd, s.batch == 0 { canaryDoneAt = now }
                }
                let (next, effects) = s.advance(
                    nowMs: now, .init(failed: failed, batchDone: s.batch >= 0 && finishedHosts == batchEnd), plan: plan, delayMs: 0)
                for case .batchStarted(let k) in effects {
                    #expect(k == started.count, "in order, once each")
                    if k == 1 {
                        #expect(now >= (canaryDoneAt ?? .max) + 1_000, "after the soak")
                        #expect(promoted == 1, "after the promote")
                    }
                    if k >= 1 { #expect(gatesPassed >= k, "after the gates of batch \(k - 1)") }
                    started.append(k)
                }
                #expect((next.status == .failed) == (failed == budget + 1), "failed \(failed), budget \(budget)")
                s = next
                if s.phase == .batch, !s.dispatched { s.dispatched = true }
                if s.phase == .gates, seed % 3 == 0, let passed = s.gatesPassed(afterBatch: s.batch, nowMs: now, plan: plan, delayMs: 0) {
                    s = passed
                    gatesPassed += 1
                }
                if s.status == .awaitingApproval, seed % 2 == 0, let (p, _) = try? s.apply(.promote, nowMs: now, plan: plan, delayMs: 0) {
                    s = p
                    promoted += 1
                }
            }
            if s.status.isTerminal, s.status != .failed { #expect(started.count == plan.batches.count) }
        }
    }
}

@Suite("plan previews")
struct PlanPreviewTests {
    @Test func aRolloutPreviewCutsTheHostsAsTheRolloutWould() {
        let plan = RolloutPlan(
            total: 6, batchSize: .count(2), failureThresholdPct: 50, maxFailures: 2, canary: CanarySettings(hosts: .count(1), soakSeconds: 30),
            delaySeconds: 10)
        let hosts = ["a", "b", "c", "d", "e", "f"]
        let preview = PlanPreview(rollout: plan, hostIDs: hosts, notApproved: ["c"])
        #expect(preview.batches.map(\.hostIDs) == [["a"], ["b", "c"], ["d", "e"], ["f"]])
        #expect(preview.batches.map(\.index) == [0, 1, 2, 3] && preview.batches.map(\.size) == [1, 2, 2, 1])
        #expect(preview.ineligible == [.init(hostID: "c", reason: .notApproved)], "skipped where it stands")
        #expect(preview.failureBudget == 2 && preview.countedReasons == FailurePolicy.failureReasons)
        #expect(preview.estimatedDurationSeconds == 3 * 10 + 30 && preview.total == 6 && preview.dryRun)
    }

    @Test func aBulkPreviewIsOneBatchOfTheHostsItSendsTo() {
        let preview = PlanPreview(bulk: ["a", "b", "c"], notApproved: ["b"])
        #expect(preview.batches == [.init(index: 0, size: 2, hostIDs: ["a", "c"])])
        #expect(preview.failureBudget == nil && preview.total == 3 && preview.ineligible.map(\.hostID) == ["b"])
        #expect(PlanPreview(bulk: [], notApproved: []).batches.isEmpty)
    }
}
