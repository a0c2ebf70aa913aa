import FleetContracts
import FleetCore
import FleetMessaging
import FleetRuntime
import FleetStore
import FleetTestSupport
import Foundation
import Testing

@Suite("a real agent")
struct DryRunAgentTests {
    /// Starts a real (not dry-run) agent for a new host, approved, with its state in a temp folder.
    private func realAgent(_ s: ServiceStack.Handle) async throws -> (String, ServiceProcess, String) {
        let host = unique("real")
        let state = FileManager.default.temporaryDirectory.appendingPathComponent(host).path
        let agent = try ServiceProcess("fleet-agent", arguments: ["--host-id", host, "--state-dir", state])
        #expect(await TestEnvironment.eventually(timeout: .seconds(30)) { await s.bus.call(Route.hostsGet, ["id": .string(host)]).status == 200 })
        guard case .object(var h)? = await s.bus.call(Route.hostsGet, ["id": .string(host)]).body else { throw StackScriptError(action: "no host", status: -1) }
        h["approval_status"] = "approved"
        _ = await s.bus.call(Route.hostsUpsert, .object(h))
        return (host, agent, state)
    }

    private func runAndWait(_ s: ServiceStack.Handle, _ host: String, _ type: String, _ parameters: JSONValue) async throws -> (String, JSONValue?) {
        let r = await s.bus.call(
            Route.bulkCreate, ["operation_type": .string(type), "selector": ["explicit_host_ids": [.string(host)]], "parameters": parameters])
        let op = try #require(r.body?["id"]?.stringValue)
        _ = await TestEnvironment.eventually(timeout: .seconds(30)) {
            let status = await s.bus.call(Route.bulkGet, ["id": .string(op)]).body?["status"]?.stringValue
            return status == "succeeded" || status == "failed"
        }
        let status = await s.bus.call(Route.bulkGet, ["id": .string(op)]).body?["status"]?.stringValue ?? "?"
        let result = try await s.redis.send("HGET", RedisKeys.bulkResults(op), host).string.flatMap { JSONCoding.decode(Array($0.utf8)) }
        return (status, result)
    }

    @Test func runsAHarmlessScriptAndDeploysAFileInATempFolder() async throws {
        let s = try await ServiceStack.shared.handle()
        let (host, agent, _) = try await realAgent(s)
        defer { agent.stop() }
        let (ok, okResult) = try await runAndWait(
            s, host, "run_script", ["content": "echo out-${who}; echo err >&2; pwd", "parameter_values": ["who": "fleet"]])
        #expect(ok == "succeeded")
        #expect(okResult?["stdout"]?.stringValue?.hasPrefix("out-fleet\n") == true, "\(String(describing: okResult))")
        #expect(okResult?["stderr"] == "err\n")
        #expect(okResult?["stdout"]?.stringValue?.contains("fleet-agent-") == true, "runs in its own temp folder")
        let (bad, badResult) = try await runAndWait(s, host, "run_script", ["content": "exit 3"])
        #expect(bad == "failed")
        #expect(badResult?["exit_code"] == 3)
        let (slow, slowResult) = try await runAndWait(s, host, "run_script", ["content": "sleep 30", "timeout_seconds": 1])
        #expect(slow == "failed")
        #expect(slowResult == nil || slowResult?["reason"] == "timed_out")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(unique("deploy"))
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let target = dir.appendingPathComponent("app.conf").path
        let (wrote, _) = try await runAndWait(s, host, "deploy_file", ["path": .string(target), "content": "a=1\n", "mode": "0600"])
        #expect(wrote == "succeeded")
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "a=1\n")
        let mode = (try FileManager.default.attributesOfItem(atPath: target)[.posixPermissions] as? NSNumber)?.intValue
        #expect(mode == 0o600)
    }

    /// A file too large to travel in every host's command (over 64 KiB of parameters) is stored
    /// once; the command carries its SHA-256 and size, and the agent fetches it in 1 MiB chunks.
    @Test func aLargeFileIsFetchedByReferenceAndWrittenExactly() async throws {
        let s = try await ServiceStack.shared.handle()
        let (host, agent, _) = try await realAgent(s)
        defer { agent.stop() }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(unique("large"))
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let target = dir.appendingPathComponent("blob.bin").path
        var generator = SystemRandomNumberGenerator()
        let content = (0..<(2_500_000)).map { _ in UInt8.random(in: 0...255, using: &generator) }  // three chunks once base64'd
        let parameters: JSONValue = ["path": .string(target), "content": .string(Data(content).base64EncodedString()), "encoding": "base64"]
        let r = await s.bus.call(
            Route.bulkCreate, ["operation_type": "deploy_file", "selector": ["explicit_host_ids": [.string(host)]], "parameters": parameters])
        let op = try #require(r.body?["id"]?.stringValue, "\(r)")
        let stored = try await s.redis.send("STRLEN", RedisKeys.bulkParameters(op)).int ?? 0
        #expect(stored > 3_300_000, "the parameters are stored once: \(stored) bytes")
        // Written with a day's expiry (a create that died before its record leaves none for good),
        // then kept with the operation: no expiry while it runs, the retention once it finished.
        let ttl = try await s.redis.send("TTL", RedisKeys.bulkParameters(op)).int ?? -2
        #expect(ttl == -1 || ttl > 86_400, "ttl \(ttl)")
        let shown = try #require(r.body)
        #expect(shown["parameters_ref"]?["size"] == .int(stored), "\(String(describing: shown["parameters_ref"]))")
        #expect(shown["parameters"]?["content"] == nil && shown["parameters"]?["path"] == .string(target), "the record leaves the content out")
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(60)) {
                await s.bus.call(Route.bulkGet, ["id": .string(op)]).body?["status"] == "succeeded"
            })
        #expect(FileManager.default.contents(atPath: target).map(Array.init) == content, "written byte for byte")

        // Chunks are bounded, and a chunk of what is not stored is a 404.
        let tooLong = await s.bus.call(Route.bulkParameters, ParametersChunkRequest(opID: op, hostID: nil, offset: 0, length: 2 << 20).json)
        #expect(tooLong.status == 422 && tooLong.errorFields == ["length"])
        let none = await s.bus.call(Route.bulkParameters, ParametersChunkRequest(opID: "op-none", hostID: nil, offset: 0, length: 10).json)
        #expect(none.status == 404)
    }

    @Test func reportsTheArgvItWouldRunAndKeepsTheOperatorsApproval() async throws {
        let s = try await ServiceStack.shared.handle()
        let host = unique("dry")
        let state = FileManager.default.temporaryDirectory.appendingPathComponent(host).path
        let agent = try ServiceProcess("fleet-agent", arguments: ["--host-id", host, "--dry-run", "--state-dir", state])
        defer { agent.stop() }
        #expect(await TestEnvironment.eventually(timeout: .seconds(30)) { await s.bus.call(Route.hostsGet, ["id": .string(host)]).status == 200 })
        let registered = try #require(await s.bus.call(Route.hostsGet, ["id": .string(host)]).body)
        #expect(registered["platform"] == "Linux")
        #expect(registered["approval_status"] == nil, "an agent does not approve itself")
        // The operator approves it.
        guard case .object(var approved) = registered else { return }
        approved["approval_status"] = "approved"
        approved["fqdn"] = "set-by-the-operator"  // a detected fact: the agent's next report replaces it
        #expect(await s.bus.call(Route.hostsUpsert, .object(approved)).status == 200)

        let packages = await s.bus.call(
            Route.bulkCreate,
            [
                "operation_type": "install_package", "selector": ["explicit_host_ids": [.string(host)]],
                "parameters": ["packages": ["nginx"], "manager": "apt"],
            ])
        let op = try #require(packages.body?["id"]?.stringValue)
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(30)) {
                await s.bus.call(Route.bulkGet, ["id": .string(op)]).body?["status"] == "succeeded"
            })
        let result = try await s.redis.send("HGET", RedisKeys.bulkResults(op), host).string.flatMap { JSONCoding.decode(Array($0.utf8)) }
        #expect(result?["stdout"]?.stringValue?.contains("apt-get install -y -- nginx") == true, "\(String(describing: result))")

        // A shell this platform does not have is skipped `unsupported`, not failed.
        let cmd = await s.bus.call(
            Route.bulkCreate,
            [
                "operation_type": "run_script", "selector": ["explicit_host_ids": [.string(host)]],
                "parameters": ["content": "dir", "shell": "cmd"],
            ])
        let op2 = try #require(cmd.body?["id"])
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(30)) {
                await s.bus.call(Route.bulkGet, ["id": op2]).body?["progress"]?["skipped"] == 1
            })
        #expect(await s.bus.call(Route.bulkHosts, ["id": op2]).body?["hosts"]?.arrayValue?.first?["reason"] == "unsupported")

        // A restart does not reset the approval.
        await agent.terminate()
        let again = try ServiceProcess("fleet-agent", arguments: ["--host-id", host, "--dry-run", "--state-dir", state])
        defer { again.stop() }
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(30)) {
                await s.bus.call(Route.hostsGet, ["id": .string(host)]).body?["fqdn"] == registered["fqdn"]
            }, "the restarted agent reported its facts again")
        #expect(await s.bus.call(Route.hostsGet, ["id": .string(host)]).body?["approval_status"] == "approved")
    }

    /// Every operation type, end to end through a real agent in dry run: created, claimed, its
    /// argv built for this platform and reported, the host succeeded.
    @Test func everyTypeEndToEndInDryRun() async throws {
        let s = try await ServiceStack.shared.handle()
        let host = unique("types")
        let state = FileManager.default.temporaryDirectory.appendingPathComponent(host).path
        let agent = try ServiceProcess("fleet-agent", arguments: ["--host-id", host, "--dry-run", "--state-dir", state])
        defer { agent.stop() }
        #expect(await TestEnvironment.eventually(timeout: .seconds(30)) { await s.bus.call(Route.hostsGet, ["id": .string(host)]).status == 200 })
        guard case .object(var h)? = await s.bus.call(Route.hostsGet, ["id": .string(host)]).body else { return }
        h["approval_status"] = "approved"
        _ = await s.bus.call(Route.hostsUpsert, .object(h))
        let cases: [(String, JSONValue, String)] = [
            ("run_script", ["content": "echo hi", "shell": "sh"], "sh <script>"),
            ("deploy_file", ["path": "/etc/fleet/app.conf", "content": "a=1", "mode": "0644"], "write /etc/fleet/app.conf (3 bytes)"),
            ("service_control", ["action": "restart", "services": ["nginx"]], "systemctl restart -- nginx"),
            ("install_package", ["packages": ["curl"], "manager": "apt"], "apt-get install -y -- curl"),
            ("remove_package", ["packages": ["curl"], "manager": "apt"], "apt-get remove -y -- curl"),
            ("reboot", ["delay_seconds": 5], "after 5 s: shutdown -r now"),
            ("shutdown", ["delay_seconds": 0], "after 0 s: shutdown -h now"),
            ("apply_deployment_plan", ["plan": ["packages": ["jq"], "commands": [["true"]], "manager": "apt"]], "apt-get install -y -- jq\ntrue"),
        ]
        for (type, parameters, expected) in cases {
            let (status, result) = try await runAndWait(s, host, type, parameters)
            #expect(status == "succeeded", "\(type)")
            let out = result?["stdout"]?.stringValue ?? ""
            #expect(out.hasPrefix("dry run, nothing changed; would run:\n") && out.contains(expected), "\(type): \(out)")
        }
    }

    /// The journal: a command this agent already ran (recorded before a crash, say) is reported
    /// from the journal when it comes again, not run a second time.
    @Test func aCommandAlreadyInTheJournalIsReportedNotRunAgain() async throws {
        let s = try await ServiceStack.shared.handle()
        let host = unique("journal")
        let marker = FileManager.default.temporaryDirectory.appendingPathComponent(unique("ran")).path
        _ = await s.bus.call(Route.hostsUpsert, ["id": .string(host), "approval_status": "approved", "platform": "Linux"])
        let created = await s.bus.call(
            Route.bulkCreate,
            [
                "operation_type": "run_script", "selector": ["explicit_host_ids": [.string(host)]],
                "parameters": ["content": .string("touch \(marker)")], "dispatch": false,
            ])
        let op = try #require(created.body?["id"]?.stringValue)
        let state = FileManager.default.temporaryDirectory.appendingPathComponent(host).path
        try FileManager.default.createDirectory(atPath: state + "/" + host, withIntermediateDirectories: true)
        let entry: JSONValue = [
            "key": .string("\(op)/\(host)/1"),
            "result": ["op_id": .string(op), "host_id": .string(host), "status": "succeeded", "exit_code": 0, "stdout": "from the journal"],
        ]
        try Data(JSONCoding.encode(entry) + [10]).write(to: URL(fileURLWithPath: state + "/" + host + "/journal.jsonl"))
        let agent = try ServiceProcess("fleet-agent", arguments: ["--host-id", host, "--state-dir", state])
        defer { agent.stop() }
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(30)) {
                await s.bus.call(Route.hostsGet, ["id": .string(host)]).body?["agent_version"] != nil
            }, "the agent registered")
        #expect(await s.bus.call(Route.bulkDispatch, ["id": .string(op), "host_ids": [.string(host)]]).hostIDsDispatched == [host])
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(30)) {
                await s.bus.call(Route.bulkGet, ["id": .string(op)]).body?["status"] == "succeeded"
            })
        let result = try await s.redis.send("HGET", RedisKeys.bulkResults(op), host).string.flatMap { JSONCoding.decode(Array($0.utf8)) }
        #expect(result?["stdout"] == "from the journal")
        #expect(!FileManager.default.fileExists(atPath: marker), "the script did not run again")
    }
}

extension BusReply {
    var hostIDsDispatched: [String] { body?["dispatched"]?.arrayValue?.compactMap(\.stringValue) ?? [] }
}
