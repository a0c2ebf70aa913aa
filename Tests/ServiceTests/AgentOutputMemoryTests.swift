import FleetTestSupport
import Foundation
import Synchronization
import Testing

@testable import AgentService

/// A command that prints 200 MB: the agent reads its output as it comes and keeps head and tail,
/// so its memory does not grow with the output. Run alone (scripts/test.sh): a resident-size
/// figure is only this test's when nothing else allocates beside it.
@Suite("agent output memory")
struct AgentOutputMemoryTests {
    @Test func twoHundredMegabytesOfOutputGrowTheAgentByLessThan60MB() async throws {
        let before = residentBytes()
        let peak = Mutex(before)
        let sampling = Task.detached {
            while !Task.isCancelled {
                let now = residentBytes()
                peak.withLock { $0 = max($0, now) }
                try? await Task.sleep(for: .milliseconds(10))
            }
        }
        let outcome = await StepExecutor().exec(["sh", "-c", "echo HEAD; head -c 200000000 /dev/zero; echo TAIL"], timeout: .seconds(120))
        sampling.cancel()
        _ = await sampling.value
        let growth = peak.withLock { $0 } - before
        print("agent output memory: 200 MB printed, resident size grew by \(growth / 1_048_576) MiB (peak over the start)")
        #expect(outcome.exitCode == 0)
        #expect(outcome.truncated)
        #expect(outcome.stdout.starts(with: Array("HEAD\n".utf8)))
        #expect(outcome.stdout.suffix(5) == Array("TAIL\n".utf8)[...])
        #expect(outcome.stdout.count <= 2 * StepExecutor.keep + HeadTailBuffer.marker.count)
        #expect(growth < 60 << 20)
    }
}

/// VmRSS of this process, in bytes.
private func residentBytes() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
        let kb = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
    else { return 0 }
    return kb * 1024
}
