import FleetContracts
import FleetCore
import FleetMessaging
import FleetTestSupport
import Foundation
import Testing

/// SIGTERM to an agent: it takes no new command, finishes and reports the ones it holds, and
/// reports as `agent_error` what the grace did not let finish; then it exits 0.
@Suite("agent stop")
struct AgentStopTests {
    private func running(_ s: ServiceStack.Handle, _ prefix: String, latencyMs: Int, grace: Int) async throws -> (ServiceProcess, String) {
        let agent = try await s.simulatedFleet(
            prefix, count: 2, arguments: ["--latency-ms", String(latencyMs)], environment: ["FLEET_AGENT_STOP_GRACE_MS": String(grace)])
        let created = await s.bus.call(
            Route.bulkCreate, ["operation_type": "run_script", "selector": ["tags": [.string(prefix)]], "parameters": ["content": "true"]])
        let op = try #require(created.body?["id"]?.stringValue, "\(created)")
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(30)) {
                await s.bus.call(Route.bulkProgress, ["id": .string(op)]).body?["running"] == 2
            }, "both hosts claimed")
        return (agent, op)
    }

    @Test func aStoppedAgentFinishesWhatItHoldsWithinTheGrace() async throws {
        let s = try await ServiceStack.shared.handle()
        let (agent, op) = try await running(s, unique("stop-finish"), latencyMs: 2_500, grace: 30_000)
        let started = ContinuousClock.now
        let status = await agent.terminate()
        #expect(status == 0, "a stop is not a failure")
        #expect(ContinuousClock.now - started < .seconds(20))
        let final = await s.bus.call(Route.bulkGet, ["id": .string(op)]).body
        #expect(final?["status"] == "succeeded", "both results were out before it exited: \(String(describing: final))")
        #expect(agent.log.contains("stopped: every command held was finished and reported"))
    }

    @Test func whatTheGraceDoesNotLetFinishIsReportedAgentError() async throws {
        let s = try await ServiceStack.shared.handle()
        let (agent, op) = try await running(s, unique("stop-report"), latencyMs: 60_000, grace: 500)
        let started = ContinuousClock.now
        let status = await agent.terminate()
        #expect(status == 0 && ContinuousClock.now - started < .seconds(15), "out after the grace, not the 60 s command")
        var hosts: [JSONValue] = []
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(20)) {
                hosts = await s.bus.call(Route.bulkHosts, ["id": .string(op)]).body?["hosts"]?.arrayValue ?? []
                return hosts.count == 2 && hosts.allSatisfy { $0["status"] == "failed" && $0["reason"] == "agent_error" }
            }, "ended at once with a reason, not left running for the lease: \(hosts)")
    }
}
