import AgentService
import FleetContracts
import FleetCore
import FleetMessaging
import FleetRuntime
import FleetTestSupport
import Testing

@Suite("a simulated fleet end to end")
struct SimulatedFleetTests {
    @Test func fiveThousandSimulatedHostsInOneOperation() async throws {
        let s = try await ServiceStack.shared.handle()
        let prefix = unique("sim")
        let agent = try ServiceProcess("fleet-agent", arguments: ["--simulate", "5000", "--prefix", prefix, "--fail-every", "100", "--silent-every", "1000"])
        defer { agent.stop() }
        let registered = await TestEnvironment.eventually(timeout: .seconds(60)) {
            await s.bus.call(Route.selectorResolve, ["tags": [.string(prefix)]]).body?["count"] == 5000
        }
        #expect(registered, "the simulator registered its hosts")
        let created = await s.bus.call(
            Route.bulkCreate,
            [
                "operation_type": "run_script", "selector": ["tags": [.string(prefix)]],
                "parameters": ["content": "echo hi", "timeout_seconds": 2],
            ])
        #expect(created.status == 201)
        let op = try #require(created.body?["id"])
        var final: JSONValue?
        let finished = await TestEnvironment.eventually(timeout: .seconds(120)) {
            final = await s.bus.call(Route.bulkGet, ["id": op]).body
            return final?["status"] == "partial"
        }
        #expect(finished, "\(String(describing: final?["progress"]))")
        // Hosts k % 100 == 99 fail; of those, k % 1000 == 999 never report and time out.
        #expect(final?["progress"]?["succeeded"] == 4950)
        #expect(final?["progress"]?["failed"] == 50)
        let timedOut = await s.bus.call(Route.bulkHosts, ["id": op, "status": "failed", "limit": 100]).body?["hosts"]?.arrayValue?
            .filter { $0["reason"] == "timed_out" }.count
        #expect(timedOut == 5)
    }
}

@Suite("simulated fleet settings")
struct SimulatedFleetSettingsTests {
    @Test func everyListAndRateChooseTheHostsTheySay() {
        var s = SimulatedFleet.Settings(prefix: "p", count: 1000, failEvery: 10, silentEvery: 500)
        s.failHosts = ["p-3"]
        s.silentHosts = ["p-4"]
        #expect((0..<1000).filter { s.fails($0, id: "p-\($0)") } == [3] + stride(from: 9, to: 1000, by: 10).map { $0 })
        #expect((0..<1000).filter { s.silent($0, id: "p-\($0)") } == [4, 499, 999])
        s.failEvery = nil
        s.failHosts = []
        s.failRate = 0.2
        let picked = (0..<1000).filter { s.fails($0, id: "p-\($0)") }
        #expect((150...250).contains(picked.count), "about a fifth: \(picked.count)")
        #expect(picked == (0..<1000).filter { s.fails($0, id: "p-\($0)") }, "the same seed picks the same hosts")
        s.seed = 2
        #expect(picked != (0..<1000).filter { s.fails($0, id: "p-\($0)") }, "another seed picks others")
    }

    @Test func latencyIsBasePlusSeededJitterAndSlowHostsTakeLonger() {
        var s = SimulatedFleet.Settings(prefix: "p", count: 100, latency: .milliseconds(10))
        #expect(s.latency(5, id: "p-5") == .milliseconds(10))
        s.latencyJitter = .milliseconds(20)
        let drawn = (0..<100).map { s.latency($0, id: "p-\($0)") }
        #expect(drawn.allSatisfy { $0 >= .milliseconds(10) && $0 <= .milliseconds(30) })
        #expect(Set(drawn).count > 50, "spread, not constant")
        s.slowEvery = 50
        s.slowHosts = ["p-7"]
        s.slowLatency = .seconds(3)
        #expect((0..<100).filter { s.latency($0, id: "p-\($0)") == .seconds(3) } == [7, 49, 99])
    }
}
