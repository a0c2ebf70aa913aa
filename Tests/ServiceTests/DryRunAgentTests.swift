import FleetContracts
import FleetCore
import FleetRuntime
import FleetStore
import FleetTestSupport
import Foundation
import Testing

@Suite("a real agent in dry run")
struct DryRunAgentTests {
    @Test func reportsTheArgvItWouldRunAndKeepsTheOperatorsApproval() async throws {
        let s = try await ServiceStack.shared.handle()
        let host = unique("dry")
        let agent = try ServiceProcess("fleet-agent", arguments: ["--host-id", host, "--dry-run"])
        defer { agent.terminate() }
        #expect(await TestEnvironment.eventually(timeout: .seconds(30)) { await s.bus.call(Route.hostsGet, ["id": .string(host)]).status == 200 })
        let registered = try #require(await s.bus.call(Route.hostsGet, ["id": .string(host)]).body)
        #expect(registered["platform"] == "Linux")
        #expect(registered["approval_status"] == nil, "an agent does not approve itself")
        // The operator approves it.
        guard case .object(var approved) = registered else { return }
        approved["approval_status"] = "approved"
        #expect(await s.bus.call(Route.hostsUpsert, .object(approved)).status == 200)

        let packages = await s.bus.call(Route.bulkCreate, ["operation_type": "install_package", "selector": ["explicit_host_ids": [.string(host)]],
                                                           "parameters": ["packages": ["nginx"], "manager": "apt"]])
        let op = try #require(packages.body?["id"]?.stringValue)
        #expect(await TestEnvironment.eventually(timeout: .seconds(20)) {
            await s.bus.call(Route.bulkGet, ["id": .string(op)]).body?["status"] == "succeeded"
        })
        let result = try await s.redis.send("HGET", RedisKeys.bulkResults(op), host).string.flatMap { JSONCoding.decode(Array($0.utf8)) }
        #expect(result?["stdout"]?.stringValue?.contains("apt-get install -y -- nginx") == true, "\(String(describing: result))")

        // A shell this platform does not have is skipped `unsupported`, not failed.
        let cmd = await s.bus.call(Route.bulkCreate, ["operation_type": "run_script", "selector": ["explicit_host_ids": [.string(host)]],
                                                      "parameters": ["content": "dir", "shell": "cmd"]])
        let op2 = try #require(cmd.body?["id"])
        #expect(await TestEnvironment.eventually(timeout: .seconds(20)) {
            await s.bus.call(Route.bulkGet, ["id": op2]).body?["progress"]?["skipped"] == 1
        })
        #expect(await s.bus.call(Route.bulkHosts, ["id": op2]).body?["hosts"]?.arrayValue?.first?["reason"] == "unsupported")

        // A restart does not reset the approval.
        agent.terminate()
        let again = try ServiceProcess("fleet-agent", arguments: ["--host-id", host, "--dry-run"])
        defer { again.terminate() }
        try await Task.sleep(for: .seconds(2))
        #expect(await s.bus.call(Route.hostsGet, ["id": .string(host)]).body?["approval_status"] == "approved")
    }
}
