import FleetCore
import FleetTestSupport
import Foundation
import Testing

@testable import AgentService

@Suite("agent step executor")
struct StepExecutorTests {
    // What these bound is the kill, not the machine's speed: a step left to run would take two
    // minutes, a killed one about a second. Half a minute tells the two apart however loaded the
    // machine is, and the exit status says it was SIGKILL, not a normal end.
    @Test func killsAStepAtItsTimeout() async {
        let clock = ContinuousClock()
        var outcome = StepExecutor.Outcome()
        let elapsed = await clock.measure { outcome = await StepExecutor().exec(["sleep", "120"], timeout: .seconds(1)) }
        #expect(outcome.timedOut)
        #expect(outcome.exitCode == 128 + SIGKILL)
        #expect(elapsed < .seconds(30), "took \(elapsed)")
    }

    @Test func killsAScriptAndWhatItStartedAtItsTimeout() async throws {
        let pidFile = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-child-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: pidFile) }
        let clock = ContinuousClock()
        var outcome = StepExecutor.Outcome()
        let elapsed = await clock.measure {
            outcome = await StepExecutor().script(.bash, "sleep 120 & echo $! > \(pidFile); wait", timeout: .seconds(1))
        }
        #expect(outcome.timedOut)
        #expect(elapsed < .seconds(30), "took \(elapsed)")
        // The script's own child went with it: the whole process group is killed.
        let child = try #require(pid_t((try String(contentsOfFile: pidFile, encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(await TestEnvironment.eventually(timeout: .seconds(30)) { kill(child, 0) != 0 }, "pid \(child) outlived its script")
    }

    @Test func keepsHeadAndTailOfLongOutput() {
        let long = [UInt8](repeating: 65, count: 200_000)
        let (kept, truncated) = StepExecutor.headAndTail(long)
        #expect(truncated)
        #expect(kept.count < 140_000)
        #expect(StepExecutor.headAndTail([1, 2, 3]) == ([1, 2, 3], false))
    }
}
