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
            "pause/queued": "paused", "pause/running": "paused", "resume/paused": "running",
            "cancel/queued": "cancelled", "cancel/running": "cancelled", "cancel/paused": "cancelled",
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

    @Test func settingsValidateEachField() throws {
        let ok = try RolloutSettings(json: ["batch_size": "10%", "batches": [1, "50%"], "batch_delay_seconds": 30, "failure_threshold_pct": 12.5])
        #expect(ok.batchSize == .percent(10))
        #expect(ok.plan(total: 10).batches == [1, 5, 4])
        #expect(ok.plan(total: 10).failureBudget == 1)
        let bad: [([String: JSONValue], String)] = [
            ([:], "batch_size"), (["batch_size": 0], "batch_size"), (["batch_size": "0%"], "batch_size"), (["batch_size": "x%"], "batch_size"),
            (["batch_size": 1, "batches": []], "batches"), (["batch_size": 1, "batches": [2, -1]], "batches[1]"),
            (["batch_size": 1, "batch_delay_seconds": -1], "batch_delay_seconds"), (["batch_size": 1, "failure_threshold_pct": 101], "failure_threshold_pct"),
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
