import Foundation
import PropertyBased
import Testing

@testable import FleetCore

@Suite("rollout planning")
struct RolloutTests {
    @Test(
        arguments: [
            (10, BatchSize.count(3), nil, [3, 3, 3, 1]), (10, .percent(25), nil, [2, 2, 2, 2, 2]), (3, .percent(10), nil, [1, 1, 1]),
            (0, .count(5), nil, []), (100, .count(1), [.count(1), .count(5), .percent(25)], [1, 5, 25, 25, 25, 19]),
            (4, .count(1), [.count(10)], [4]), (7, .count(7), nil, [7]),
        ] as [(Int, BatchSize, [BatchSize]?, [Int])])
    func batchSizes(total: Int, size: BatchSize, ramp: [BatchSize]?, expected: [Int]) {
        #expect(RolloutPlan(total: total, batchSize: size, ramp: ramp, failureThresholdPct: 0).batches == expected)
    }

    /// Halt exactly when failed > F = floor(pct * N / 100): 0 % at the first failure, 100 % never.
    @Test(arguments: [(10, 0.0, 0), (10, 10.0, 1), (10, 25.0, 2), (47, 5.0, 2), (3, 50.0, 1), (10, 100.0, 10), (0, 50.0, 0), (200, 0.5, 1)])
    func failureBudget(total: Int, pct: Double, budget: Int) {
        let plan = RolloutPlan(total: total, batchSize: .count(1), failureThresholdPct: pct)
        #expect(plan.failureBudget == budget)
        #expect(!plan.shouldHalt(failed: budget))
        #expect(plan.shouldHalt(failed: budget + 1))
        if pct == 100 { #expect((0...total).allSatisfy { !plan.shouldHalt(failed: $0) }, "100 % never halts") }
        if pct == 0, total > 0 { #expect(plan.shouldHalt(failed: 1), "0 % halts at the first failure") }
    }

    @Test func batchesPartitionTheHostsInOrder() async {
        let size = Gen.oneOf(
            Gen.int(in: 1...50).map { BatchSize.count($0) }.eraseToAnySequence(),
            Gen.int(in: 1...100).map { BatchSize.percent(Double($0)) }.eraseToAnySequence())
        await propertyCheck(count: 300, input: Gen.int(in: 0...500), size, size.array(of: 0...4)) { total, batch, ramp in
            let plan = RolloutPlan(total: total, batchSize: batch, ramp: ramp.isEmpty ? nil : ramp, failureThresholdPct: 10)
            #expect(plan.batches.reduce(0, +) == total)
            #expect(plan.batches.allSatisfy { $0 >= 1 })
            var next = 0
            for k in plan.batches.indices {
                let r = plan.range(ofBatch: k)
                #expect(r.lowerBound == next)
                next = r.upperBound
            }
            #expect(next == total)
        }
    }

    @Test func operatorActionsFromEachStatus() throws {
        let expected: [String: String] = [
            "pause/queued": "paused", "pause/running": "paused", "pause/soaking": "paused", "resume/paused": "running",
            "promote/awaiting_approval": "running",
            "cancel/queued": "cancelled", "cancel/running": "cancelled", "cancel/paused": "cancelled", "cancel/soaking": "cancelled",
            "cancel/awaiting_approval": "cancelled",
        ]
        for action in RolloutAction.allCases {
            for status in RolloutStatus.allCases {
                let key = "\(action.rawValue)/\(status.rawValue)"
                if let to = expected[key] {
                    #expect(try action.apply(to: status).rawValue == to, "\(key)")
                } else {
                    #expect(throws: ConflictError.self, "\(key) should be a 409") { try action.apply(to: status) }
                }
            }
        }
    }

    /// The stricter of the two budgets wins; either alone sets it; neither: 0.
    @Test(arguments: [
        (100, 10.0 as Double?, 3 as Int?, 3), (100, 2.0, 3, 2), (100, nil, 3, 3), (100, 10.0, nil, 10), (100, nil, nil, 0), (10, 100.0, 0, 0),
    ])
    func theStricterBudgetWins(total: Int, pct: Double?, max: Int?, budget: Int) {
        #expect(RolloutPlan(total: total, batchSize: .count(1), failureThresholdPct: pct, maxFailures: max).failureBudget == budget)
    }

    @Test func aCanaryIsTheFirstBatchAndTheSizesApplyAfterIt() {
        let canary = CanarySettings(hosts: .count(1), soakSeconds: 60, promotion: .manual)
        let plan = RolloutPlan(total: 10, batchSize: .count(4), failureThresholdPct: 0, canary: canary, delaySeconds: 30)
        #expect(plan.batches == [1, 4, 4, 1])
        #expect(plan.estimatedDurationSeconds == 3 * 30 + 60)
        #expect(plan.soaks(afterBatch: 0) && !plan.soaks(afterBatch: 1))
        #expect(plan.needsApproval(afterBatch: 0) && !plan.needsApproval(afterBatch: 1))
        let percent = RolloutPlan(total: 200, batchSize: .percent(25), failureThresholdPct: 0, canary: CanarySettings(hosts: .percent(5)))
        #expect(percent.batches == [10, 50, 50, 50, 40], "a percentage is of all N, for the canary and after it")
        let everything = RolloutPlan(total: 3, batchSize: .count(1), failureThresholdPct: 0, canary: CanarySettings(hosts: .count(5), soakSeconds: 60))
        #expect(
            everything.batches == [3] && everything.estimatedDurationSeconds == 0 && !everything.soaks(afterBatch: 0),
            "a canary of every host: nothing to soak for")
    }

    @Test func gatesApplyAfterTheCanaryOrEveryBatchButNeverAfterTheLast() {
        let http = RolloutGate(kind: .http, url: "http://127.0.0.1:1/ok", timeoutSeconds: 2, after: .everyBatch)
        let canaryOnly = RolloutGate(kind: .http, url: "http://127.0.0.1:1/canary", timeoutSeconds: 3, after: .canary)
        let approval = RolloutGate(kind: .approval, after: .everyBatch)
        let plan = RolloutPlan(
            total: 3, batchSize: .count(1), failureThresholdPct: 0, canary: CanarySettings(hosts: .count(1)), gates: [http, canaryOnly, approval])
        #expect(plan.httpGates(afterBatch: 0) == [http, canaryOnly])
        #expect(plan.httpGates(afterBatch: 1) == [http])
        #expect(plan.httpGates(afterBatch: 2).isEmpty)
        #expect(plan.gateRunMs(afterBatch: 0) == 10_000)
        #expect(plan.needsApproval(afterBatch: 1) && !plan.needsApproval(afterBatch: 2))
    }

    @Test func aGateIsAllowedOnlyOnTheListedHosts() {
        let gate = RolloutGate(kind: .http, url: "https://Alerts.Example:8443/ok", after: .everyBatch)
        #expect(gate.isAllowed(by: nil), "no list: any host")
        #expect(gate.isAllowed(by: ["alerts.example"]))
        #expect(!gate.isAllowed(by: ["127.0.0.1"]))
        #expect(!RolloutGate(kind: .http, url: nil, after: .everyBatch).isAllowed(by: ["alerts.example"]))
        #expect(RolloutGate(kind: .approval, after: .everyBatch).isAllowed(by: ["alerts.example"]), "an approval gate makes no request")
    }

    @Test func theFailurePolicyCountsOnlyItsReasons() throws {
        let policy = try FailurePolicy(json: ["count": ["exit_code", "timed_out"], "max_unreached_pct": 10], path: "failure_policy")
        #expect(policy.counted == [.exitCode, .timedOut])
        // 5 failed: 2 exit_code, 3 undeliverable; the undeliverable ones do not count.
        #expect(policy.counted(failed: 5, reasons: [.exitCode: 2, .undeliverable: 3]) == 2)
        #expect(FailurePolicy.everyFailure.counted(failed: 5, reasons: [.exitCode: 2, .undeliverable: 3]) == 5)
        let plan = RolloutPlan(total: 50, batchSize: .count(5), failureThresholdPct: 0, policy: policy)
        #expect(plan.unreachedBudget == 5 && !plan.tooManyUnreached(5) && plan.tooManyUnreached(6))
        #expect(!RolloutPlan(total: 50, batchSize: .count(5), failureThresholdPct: 0).tooManyUnreached(50), "no unreached budget by default")
    }

    /// Stored plans decode, those written before the policy fields too (every failure counted).
    @Test func aPlanRoundTripsAndAnOldOneDecodes() throws {
        let plan = RolloutPlan(
            total: 10, batchSize: .count(3), failureThresholdPct: 20, maxFailures: 1,
            policy: FailurePolicy(counted: [.exitCode], maxUnreachedPct: 50), canary: CanarySettings(hosts: .count(1), soakSeconds: 5),
            gates: [RolloutGate(kind: .approval, after: .canary)], delaySeconds: 7)
        #expect(try JSONDecoder().decode(RolloutPlan.self, from: JSONEncoder().encode(plan)) == plan)
        let old = try JSONDecoder().decode(RolloutPlan.self, from: Data(#"{"total":4,"batches":[1,2,1],"failure_budget":1}"#.utf8))
        #expect(old.batches == [1, 2, 1] && old.failureBudget == 1 && old.policy == .everyFailure && old.canary == nil && old.gates.isEmpty)
    }

    @Test func settingsValidateEachField() throws {
        let ok = try RolloutSettings(json: ["batch_size": "10%", "batches": [1, "50%"], "batch_delay_seconds": 30, "failure_threshold_pct": 12.5])
        #expect(ok.batchSize == .percent(10))
        #expect(ok.plan(total: 10).batches == [1, 5, 4])
        #expect(ok.plan(total: 10).failureBudget == 1)
        let bad: [([String: JSONValue], String)] = [
            ([:], "batch_size"), (["batch_size": 0], "batch_size"), (["batch_size": "0%"], "batch_size"), (["batch_size": "x%"], "batch_size"),
            (["batch_size": 1, "batches": []], "batches"), (["batch_size": 1, "batches": [2, -1]], "batches[1]"),
            (["batch_size": 1, "batch_delay_seconds": -1], "batch_delay_seconds"), (["batch_size": 1, "failure_threshold_pct": 101], "failure_threshold_pct"),
            (["batch_size": 1, "max_failures": -1], "max_failures"), (["batch_size": 1, "max_failures": 1.5], "max_failures"),
            (["batch_size": 1, "failure_policy": ["count": ["halted"]]], "failure_policy.count[0]"),
            (["batch_size": 1, "failure_policy": ["count": ["lost", "lost"]]], "failure_policy.count"),
            (["batch_size": 1, "failure_policy": ["max_unreached_pct": 120]], "failure_policy.max_unreached_pct"),
            (["batch_size": 1, "failure_policy": ["counts": []]], "failure_policy.counts"),
            (["batch_size": 1, "canary": ["soak_seconds": 5]], "canary.hosts"), (["batch_size": 1, "canary": ["hosts": 0]], "canary.hosts"),
            (["batch_size": 1, "canary": ["hosts": 1, "soak_seconds": 86_401]], "canary.soak_seconds"),
            (["batch_size": 1, "canary": ["hosts": 1, "promotion": "later"]], "canary.promotion"),
            (["batch_size": 1, "gates": [["type": "http", "after": "every_batch"]]], "gates[0].url"),
            (["batch_size": 1, "gates": [["type": "http", "url": "ftp://x/", "after": "every_batch"]]], "gates[0].url"),
            (["batch_size": 1, "gates": [["type": "http", "url": "http://u:p@x/", "after": "every_batch"]]], "gates[0].url"),
            (["batch_size": 1, "gates": [["type": "http", "url": "http://x/", "timeout_seconds": 61, "after": "every_batch"]]], "gates[0].timeout_seconds"),
            (["batch_size": 1, "gates": [["type": "http", "url": "http://x/", "after": "canary"]]], "gates[0].after"),
            (["batch_size": 1, "gates": [["type": "approval", "url": "http://x/", "after": "every_batch"]]], "gates[0].url"),
            (["batch_size": 1, "gates": [["type": "sms", "after": "every_batch"]]], "gates[0].type"),
            (["batch_size": 1, "gates": [["type": "approval"]]], "gates[0].after"),
        ]
        for (json, field) in bad {
            do {
                _ = try RolloutSettings(json: json)
                Issue.record("expected an error at \(field)")
            } catch {
                #expect(error.errors.contains { $0.field == field }, "\(error)")
            }
        }
    }
}
