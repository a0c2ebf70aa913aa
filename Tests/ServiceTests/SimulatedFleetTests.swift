import FleetContracts
import FleetCore
import FleetRuntime
import FleetTestSupport
import Testing

@Suite("a simulated fleet end to end")
struct SimulatedFleetTests {
    @Test func fiveThousandSimulatedHostsInOneOperation() async throws {
        let s = try await ServiceStack.shared.handle()
        let prefix = unique("sim")
        let agent = try ServiceProcess("fleet-agent", arguments: ["--simulate", "5000", "--prefix", prefix, "--fail-every", "100", "--silent-every", "1000"])
        defer { agent.terminate() }
        let registered = await TestEnvironment.eventually(timeout: .seconds(60)) {
            await s.bus.call(Route.selectorResolve, ["tags": [.string(prefix)]]).body?["count"] == 5000
        }
        #expect(registered, "the simulator registered its hosts")
        let created = await s.bus.call(Route.bulkCreate, ["operation_type": "run_script", "selector": ["tags": [.string(prefix)]],
                                                          "parameters": ["content": "echo hi", "timeout_seconds": 2]])
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
