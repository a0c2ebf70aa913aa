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

    /// A command sees PATH, HOME and LANG, and nothing else of the agent's environment: not the
    /// broker URL (it holds the agent's password), not any other FLEET_ setting.
    @Test func aCommandSeesOnlyPathHomeAndLang() async throws {
        let parent = ["PATH": "/bin", "HOME": "/root", "FLEET_AMQP_URL": "amqp://agent:s3cret@broker/", "AWS_SECRET_ACCESS_KEY": "x"]
        #expect(StepExecutor.childEnvironment(parent) == ["PATH=/bin", "HOME=/root", "LANG=C.UTF-8"])
        let outcome = await StepExecutor().exec(["env"], timeout: .seconds(10))
        #expect(outcome.exitCode == 0)
        let names = Set(String(decoding: outcome.stdout, as: UTF8.self).split(separator: "\n").compactMap { $0.split(separator: "=").first.map(String.init) })
        #expect(names == ["PATH", "HOME", "LANG"])
        // The test process itself has FLEET_ settings (scripts/test.sh exports them): the check above means something.
        #expect(ProcessInfo.processInfo.environment.keys.contains { $0.hasPrefix("FLEET_") })
    }

    /// A symlink swapped in at a deploy_file target is replaced, never written through; with a
    /// backup asked for, it is refused, and neither the link nor what it points at changes.
    @Test func aSymlinkAtTheTargetIsNotFollowed() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-symlink-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let victim = dir + "/victim", target = dir + "/app.conf"
        try Data("original".utf8).write(to: URL(fileURLWithPath: victim))
        try FileManager.default.createSymbolicLink(atPath: target, withDestinationPath: victim)
        func file(_ backup: Bool) throws -> AgentStep {
            let p = try OperationParameters(type: .deployFile, json: ["path": .string(target), "content": "new", "mode": "0640", "backup": .bool(backup)])
            guard case .deployFile(let f) = p else { throw CancellationError() }
            return .writeFile(f)
        }
        let refused = await StepExecutor().run([try file(true)], timeout: .seconds(10))
        #expect(refused.exitCode == 1)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: target) == victim)
        let written = await StepExecutor().run([try file(false)], timeout: .seconds(10))
        #expect(written.exitCode == 0)
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "original")
        let attributes = try FileManager.default.attributesOfItem(atPath: target)
        #expect(attributes[.type] as? FileAttributeType == .typeRegular)
        #expect((attributes[.posixPermissions] as? Int) == 0o640)
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "new")
    }

    /// The journal is private to the agent's user and keeps a day of work: older entries go at start.
    @Test func theJournalIsPrivateAndCompacted() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-journal-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let start = Date()
        let journal = Journal(directory: dir, now: start)
        journal.record("old", ["status": "succeeded"], now: start)
        journal.record("new", ["status": "failed"], now: start.addingTimeInterval(Journal.retention - 60))
        #expect(journal.fileMode == 0o600)
        #expect(journal.storedEntries == 2)
        let reopened = Journal(directory: dir, now: start.addingTimeInterval(Journal.retention + 1))
        #expect(reopened.result(for: "old") == nil)
        #expect(reopened.result(for: "new") == ["status": "failed"])
        #expect(reopened.storedEntries == 1)
        #expect(reopened.fileMode == 0o600)
    }
}
