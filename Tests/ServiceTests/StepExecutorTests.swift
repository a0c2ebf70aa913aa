@testable import AgentService
import FleetCore
import Foundation
import Testing

@Suite("agent step executor")
struct StepExecutorTests {
    @Test func killsAStepAtItsTimeout() async {
        let clock = ContinuousClock()
        var outcome = StepExecutor.Outcome()
        let elapsed = await clock.measure { outcome = await StepExecutor().exec(["sleep", "20"], timeout: .seconds(1)) }
        #expect(outcome.timedOut)
        #expect(elapsed < .seconds(10), "took \(elapsed)")
    }

    @Test func killsAScriptAndWhatItStartedAtItsTimeout() async {
        let clock = ContinuousClock()
        var outcome = StepExecutor.Outcome()
        let elapsed = await clock.measure { outcome = await StepExecutor().script(.bash, "sleep 20", timeout: .seconds(1)) }
        #expect(outcome.timedOut)
        #expect(elapsed < .seconds(10), "took \(elapsed)")
    }

    @Test func keepsHeadAndTailOfLongOutput() {
        let long = [UInt8](repeating: 65, count: 200_000)
        let (kept, truncated) = StepExecutor.headAndTail(long)
        #expect(truncated)
        #expect(kept.count < 140_000)
        #expect(StepExecutor.headAndTail([1, 2, 3]) == ([1, 2, 3], false))
    }
}
