import FleetContracts
import FleetCore
import FleetMessaging
import FleetRuntime
import FleetTestSupport
import FleetctlKit
import Foundation
import Testing

/// fleetctl, the real binary, against a real gateway process in front of the test stack.
@Suite("fleetctl against a running gateway", .serialized)
struct FleetctlTests {
    /// One gateway for the suite, on a port of its own, and an operate token.
    actor Gateway {
        static let shared = Gateway()
        /// The one start, shared: an actor method that awaits lets a second caller in before the
        /// first has recorded its gateway, and each would start one of its own.
        private var starting: Task<(ServiceProcess, String, String), Error>?

        func start() async throws -> (url: String, token: String) {
            let task = starting ?? Task { try await Self.launch() }
            starting = task
            do {
                let (_, url, token) = try await task.value
                return (url, token)
            } catch {
                starting = nil  // the next caller tries again
                throw error
            }
        }

        private static func launch() async throws -> (ServiceProcess, String, String) {
            _ = try await ServiceStack.shared.handle()
            let port = TestEnvironment.freePort()
            let process = try ServiceProcess("fleet-gateway", environment: ["FLEET_GATEWAY_PORT": String(port)])
            let token = try await CommandRun.run("fleet-gateway", ["create-token", "--scope", "admin", "--name", "fleetctl-test"])
                .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let url = "http://127.0.0.1:\(port)"
            // The token from a file (never from the command line): the readiness probe uses --token-file.
            let tokenFile = FileManager.default.temporaryDirectory.appendingPathComponent("fleetctl-token-\(port)").path
            FileManager.default.createFile(atPath: tokenFile, contents: Data((token + "\n").utf8), attributes: [.posixPermissions: 0o600])
            let up = await TestEnvironment.eventually(timeout: .seconds(30)) {
                (try? await CommandRun.run(
                    "fleetctl", ["hosts", "list", "--limit", "1", "--url", url, "--token-file", tokenFile], environment: ["FLEET_TOKEN": ""]
                )
                .status) == 0
            }
            guard up else {
                process.stop()
                throw StackScriptError(action: "the test gateway did not come up", status: -1)
            }
            return (process, url, token)
        }

        /// The gateway's process (its log), once started.
        func process() async throws -> ServiceProcess {
            _ = try await start()
            return try await starting!.value.0
        }
    }

    func fleetctl(_ arguments: [String], token: String? = nil) async throws -> CommandRun {
        let (url, adminToken) = try await Gateway.shared.start()
        return try await CommandRun.run("fleetctl", arguments, environment: ["FLEET_URL": url, "FLEET_TOKEN": token ?? adminToken], timeout: .seconds(90))
    }

    @Test func bothCommandLinesPrintTheRelease() async throws {
        for tool in ["fleetctl", "fleet-gateway"] {
            let run = try await CommandRun.run(tool, ["--version"])
            #expect(run.status == 0)
            #expect(run.stdout == FleetVersion.current + "\n", "\(tool)")
        }
    }

    @Test func hostsSelectAndGroups() async throws {
        let tag = unique("ctl")
        let added = try await fleetctl(["hosts", "add", "--body", "{\"hosts\": [{\"id\": \"\(tag)-1\", \"tags\": [\"\(tag)\"], \"platform\": \"Linux\"}]}"])
        #expect(added.status == 0, "\(added.stderr)")
        #expect(try await fleetctl(["hosts", "put", "\(tag)-2", "--body", "{\"tags\": [\"\(tag)\"], \"platform\": \"FreeBSD\"}"]).status == 0)
        let got = try await fleetctl(["hosts", "get", "\(tag)-2"])
        #expect(got.stdout.contains("platform") && got.stdout.contains("FreeBSD"), "\(got.stdout)")
        let selected = try await fleetctl(["select", "--tags", tag, "--platforms", "linux"])
        #expect(selected.stdout == "\(tag)-1\n" && selected.stderr.contains("1 hosts"), "\(selected)")
        let json = try await fleetctl(["select", "--tags", tag, "--json"])
        #expect(JSONCoding.decode(Array(json.stdout.utf8))?["count"] == 2)
        let group = try await fleetctl([
            "groups", "create", "--body",
            "{\"id\": \"\(tag)-g\", \"name\": \"bsd\", \"criteria\": [{\"field\": \"platform\", \"op\": \"equals\", \"value\": \"FreeBSD\"}]}",
        ])
        #expect(group.status == 0, "\(group.stderr)")
        #expect(try await fleetctl(["groups", "hosts", "\(tag)-g"]).stdout.contains("\(tag)-2"))
        #expect(try await fleetctl(["groups", "list"]).stdout.contains("\(tag)-g"))
        #expect(try await fleetctl(["groups", "delete", "\(tag)-g"]).status == 0)
        let list = try await fleetctl(["hosts", "list", "--limit", "1000"])
        #expect(list.stdout.hasPrefix("ID") && list.stdout.contains("\(tag)-1"), "a table with a header")
        #expect(try await fleetctl(["hosts", "delete", "\(tag)-1"]).status == 0)
        #expect(try await fleetctl(["hosts", "get", "\(tag)-1"]).status == 1)
    }

    @Test func budgetsAndLockFlags() async throws {
        let set = try await fleetctl(["budgets", "set", "shutdown", "1000"])
        #expect(set.status == 0 && set.stdout.contains("max_in_flight") && set.stdout.contains("1000"), "\(set)")
        let listed = try await fleetctl(["budgets", "list"])
        #expect(listed.stdout.hasPrefix("OPERATION_TYPE") && listed.stdout.contains("shutdown"), "\(listed.stdout)")
        #expect(try await fleetctl(["budgets", "delete", "shutdown"]).status == 0)
        #expect(try await fleetctl(["budgets", "set", "format_disk", "5"]).status == 64, "an unknown type is a usage error")
        #expect(try await fleetctl(["bulk", "create", "--type", "reboot", "--tags", "x", "--on-conflict", "later"]).status == 64)
        // The flags reach the request: the operation's record shows them.
        let tag = unique("ctllock")
        #expect(try await fleetctl(["hosts", "put", "\(tag)-1", "--body", "{\"tags\": [\"\(tag)\"]}"]).status == 0)
        let created = try await fleetctl(["bulk", "create", "--type", "reboot", "--tags", tag, "--on-conflict", "skip", "--no-exclusive", "--json"])
        let record = JSONCoding.decode(Array(created.stdout.utf8))
        #expect(record?["on_conflict"] == "skip" && record?["exclusive"] == false, "\(created)")
        let window = unique("ctlwin")
        let windowSet = try await fleetctl(["windows", "set", window, "--cron", "0 2 * * *", "--minutes", "90", "--timezone", "Europe/Berlin"])
        #expect(windowSet.status == 0 && windowSet.stdout.contains("next_opening"), "\(windowSet)")
        #expect(try await fleetctl(["windows", "list"]).stdout.contains(window))
        let outside = try await fleetctl(["rolling", "create", "--type", "reboot", "--tags", tag, "--batch-size", "1", "--window", "\(window)-x"])
        #expect(outside.status == 1 && outside.stderr.contains("window"), "an unknown window is refused, naming the field: \(outside.stderr)")
        #expect(try await fleetctl(["windows", "delete", window]).status == 0)
        // The trail has the budget set at the top, under this suite's token.
        var audit = JSONValue.null
        let audited = await TestEnvironment.eventually(timeout: .seconds(30)) {
            let run = try? await fleetctl(["audit", "--action", "budgets.", "--target", "shutdown", "--actor", "fleetctl-test", "--json"])
            audit = run.flatMap { JSONCoding.decode(Array($0.stdout.utf8)) } ?? .null
            return audit["entries"]?.arrayValue?.contains { $0["action"] == "budgets.set" } == true
        }
        #expect(audited, "\(audit)")
        #expect(try await fleetctl(["audit", "--since", "yesterday"]).status == 1, "a bad instant is refused, naming since")
    }

    /// `--wait` follows the operation's event stream instead of polling: a host that takes 4 s
    /// costs a read at the start and one at its result, not one every half second. (A gateway of
    /// its own, so its access log holds only this test's requests.)
    @Test func waitFollowsTheEventStreamAndPollsLittle() async throws {
        let s = try await ServiceStack.shared.handle()
        let port = TestEnvironment.freePort()
        let gateway = try ServiceProcess("fleet-gateway", environment: ["FLEET_GATEWAY_PORT": String(port)])
        defer { gateway.stop() }
        let (_, token) = try await Gateway.shared.start()
        let prefix = unique("ctlsse")
        let agent = try await s.simulatedFleet(prefix, count: 1, arguments: ["--latency-ms", "4000"])
        defer { agent.stop() }
        let url = "http://127.0.0.1:\(port)"
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(30)) {
                (try? await CommandRun.run("fleetctl", ["budgets", "list", "--url", url], environment: ["FLEET_TOKEN": token]).status) == 0
            })
        let waited = try await CommandRun.run(
            "fleetctl", ["bulk", "create", "--type", "reboot", "--tags", prefix, "--wait", "--url", url], environment: ["FLEET_TOKEN": token],
            timeout: .seconds(90))
        #expect(waited.status == 0, "\(waited.stderr)")
        let log = gateway.log
        #expect(log.contains("route=/api/v1/fleet/events"), "it opened the stream")
        let reads = log.components(separatedBy: "\n").filter { $0.contains("method=GET") && $0.contains("route=/api/v1/fleet/bulk/{id} ") }.count
        #expect(reads >= 2 && reads <= 4, "a read at the start and at the result, not eight polls: \(reads)")
    }

    @Test func bulkCreateWaitsWithAProgressBarAndExitsByOutcome() async throws {
        let s = try await ServiceStack.shared.handle()
        let prefix = unique("ctlsim")
        let agent = try ServiceProcess(
            "fleet-agent", arguments: ["--simulate", "20", "--prefix", prefix, "--fail-hosts", "\(prefix)-7", "--latency-ms", "300"])
        defer { agent.stop() }
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(30)) {
                await s.bus.call(Route.selectorResolve, ["tags": [.string(prefix)]]).body?["count"] == 20
            })
        let partial = try await fleetctl([
            "bulk", "create", "--type", "run_script", "--tags", prefix, "--param", "content=uptime", "--param", "timeout_seconds=30", "--wait",
        ])
        #expect(partial.status == 2, "partial exits 2: \(partial.stderr)")
        #expect(partial.stderr.contains("100.0% 20/20  ok 19  failed 1") && partial.stderr.contains("partial"), "\(partial.stderr)")
        #expect(partial.stderr.contains("[#"), "a progress bar")
        let op = partial.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let failed = try await fleetctl(["bulk", "hosts", op, "--status", "failed"])
        #expect(failed.stdout.contains("\(prefix)-7") && failed.stdout.contains("exit_code"), "\(failed.stdout)")
        let ok = try await fleetctl(["bulk", "create", "--type", "reboot", "--hosts", "\(prefix)-1,\(prefix)-2", "--wait"])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(try await fleetctl(["bulk", "get", op]).stdout.contains("partial"))
        #expect(try await fleetctl(["bulk", "progress", op]).stdout.contains("percent_complete  100"))
        let lateCancel = try await fleetctl(["bulk", "cancel", op])
        #expect(lateCancel.status == 1 && lateCancel.stderr.contains("error 409 operation_finished"), "\(lateCancel.stderr)")
        #expect(try await fleetctl(["bulk", "watch", op]).status == 2, "watching a finished partial operation exits 2 at once")
        let listed = try await fleetctl(["bulk", "list", "--json"])
        #expect(JSONCoding.decode(Array(listed.stdout.utf8))?["operations"]?.arrayValue?.contains { $0["id"] == .string(op) } == true)

        let rollout = try await fleetctl(["rolling", "create", "--type", "reboot", "--tags", prefix, "--batch-size", "25%", "--threshold", "10", "--wait"])
        // One failing host within the 10 % budget: it ran to the end, `partial`, exit 2.
        #expect(rollout.status == 2, "\(rollout.stderr)")
        #expect(rollout.stderr.contains("batch 4/4") && rollout.stderr.contains("partial"), "\(rollout.stderr)")
        let halted = try await fleetctl(["rolling", "create", "--type", "reboot", "--tags", prefix, "--batch-size", "10", "--wait"])
        #expect(halted.status == 2, "0 % budget and one failing host: halted, exit 2. \(halted.stderr)")
        let id = halted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let watch = try await fleetctl(["rolling", "watch", id])
        #expect(watch.status == 2 && watch.stderr.contains("failed"))
        #expect(try await fleetctl(["rolling", "resume", id]).stderr.contains("error 409 invalid_transition"))
        #expect(try await fleetctl(["rolling", "get", id]).stdout.contains("halted_reason"))
        #expect(try await fleetctl(["rolling", "progress", id]).stdout.contains("failure_budget"))
        #expect(try await fleetctl(["rolling", "list"]).stdout.contains(id))
        // Pause and cancel on a rollout that waits out a long delay.
        let slow = try await fleetctl([
            "rolling", "create", "--type", "reboot", "--tags", prefix, "--batch-size", "5", "--delay", "600", "--threshold", "100", "--json",
        ])
        let slowID = try #require(JSONCoding.decode(Array(slow.stdout.utf8))?["id"]?.stringValue)
        #expect(try await fleetctl(["rolling", "pause", slowID]).stdout.contains("paused"))
        #expect(try await fleetctl(["rolling", "cancel", slowID]).stdout.contains("cancelled"))

        // A manual canary waits for `promote`; an approval after every batch is halted from the CLI.
        let canary = try await fleetctl([
            "rolling", "create", "--type", "reboot", "--hosts", "\(prefix)-1,\(prefix)-2,\(prefix)-3", "--batch-size", "2", "--canary", "1",
            "--manual-promotion", "--max-failures", "0", "--json",
        ])
        let canaryID = try #require(JSONCoding.decode(Array(canary.stdout.utf8))?["id"]?.stringValue, "\(canary.stderr)")
        #expect(JSONCoding.decode(Array(canary.stdout.utf8))?["plan"]?["batches"] == [1, 2])
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(30)) {
                (try? await fleetctl(["rolling", "get", canaryID]))?.stdout.contains("awaiting_approval") == true
            })
        #expect(try await fleetctl(["rolling", "promote", canaryID]).status == 0)
        #expect(try await fleetctl(["rolling", "watch", canaryID, "--timeout", "60"]).status == 0, "promoted, then succeeded")
        let gated = try await fleetctl([
            "rolling", "create", "--type", "reboot", "--hosts", "\(prefix)-1,\(prefix)-2", "--batch-size", "1", "--approve-each-batch", "--json",
        ])
        let gatedID = try #require(JSONCoding.decode(Array(gated.stdout.utf8))?["id"]?.stringValue, "\(gated.stderr)")
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(30)) {
                (try? await fleetctl(["rolling", "get", gatedID]))?.stdout.contains("awaiting_approval") == true
            })
        let stop = try await fleetctl(["rolling", "halt", gatedID, "--reason", "pager alert"])
        #expect(stop.status == 0 && stop.stdout.contains("halted: pager alert") && stop.stdout.contains("external"), "\(stop.stdout) \(stop.stderr)")
        #expect(try await fleetctl(["rolling", "watch", gatedID, "--timeout", "60"]).status == 2)
    }

    @Test func schedulesEndToEnd() async throws {
        let created = try await fleetctl([
            "schedules", "create", "--name", "nightly", "--cron", "0 3 * * *", "--timezone", "Europe/Berlin",
            "--type", "reboot", "--tags", unique("none"), "--json",
        ])
        #expect(created.status == 0, "\(created.stderr)")
        let id = try #require(JSONCoding.decode(Array(created.stdout.utf8))?["id"]?.stringValue)
        #expect(try await fleetctl(["schedules", "list"]).stdout.contains(id))
        let run = try await fleetctl(["schedules", "run", id])
        #expect(run.stdout.contains("skipped"), "nothing selected: \(run.stdout)")
        #expect(try await fleetctl(["schedules", "runs", id]).stdout.contains("manual"))
        let bad = try await fleetctl([
            "schedules", "update", id, "--body", "{\"name\": \"x\", \"operation_type\": \"reboot\", \"selector\": {\"tags\": [\"x\"]}, \"cron\": \"0 3 * *\"}",
        ])
        #expect(bad.status == 1 && bad.stderr.contains("error 422") && bad.stderr.contains("cron:"), "\(bad.stderr)")
        #expect(try await fleetctl(["schedules", "delete", id]).status == 0)
    }

    /// Prometheus text from the gateway and from a service, with bounded labels.
    @Test func metricsAreScraped() async throws {
        let s = try await ServiceStack.shared.handle()
        let (url, _) = try await Gateway.shared.start()
        let tag = unique("metrics-host")
        #expect(try await fleetctl(["hosts", "put", tag, "--body", "{}"]).status == 0)
        #expect(try await fleetctl(["hosts", "get", tag]).status == 0)
        #expect(try await fleetctl(["hosts", "get", "no-such-\(tag)"]).status == 1)
        // Not approved: skipped `not_approved`.
        let created = await s.bus.call(Route.bulkCreate, ["operation_type": "reboot", "selector": ["explicit_host_ids": [.string(tag)]]])
        #expect(created.status == 201 && created.body?["progress"]?["skipped"] == 1, "\(created)")
        let gateway = try await GatewayClient(baseURL: url, token: nil).text("/metrics")
        #expect(gateway.contains(#"fleet_http_requests_total{method="GET",route="/api/v1/fleet/hosts/{id}",status="200"}"#), "\(gateway.prefix(3000))")
        #expect(gateway.contains(#"route="/api/v1/fleet/hosts/{id}",status="404""#))
        #expect(!gateway.contains(tag), "no ids in labels")
        let dispatcher = try await GatewayClient(baseURL: "http://127.0.0.1:\(s.dispatcherMetricsPort)", token: nil).text("/metrics")
        #expect(dispatcher.contains(#"fleet_bus_commands_total{route="bulk.create",status="201"}"#), "\(dispatcher.prefix(3000))")
        #expect(dispatcher.contains(#"fleet_bus_messages_total{queue="fleet.svc.bulk-dispatcher",outcome="acked"}"#))
        #expect(dispatcher.contains("fleet_bulk_dispatched_total"))
        #expect(dispatcher.contains(#"fleet_bulk_hosts_ended_total{status="skipped",reason="not_approved"}"#))
        #expect(!dispatcher.contains(tag))
    }

    @Test func tokensAreListedAndRevoked() async throws {
        _ = try await Gateway.shared.start()
        let name = unique("ctl-token")
        let token = try await CommandRun.run("fleet-gateway", ["create-token", "--scope", "read", "--name", name]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let listed = try await CommandRun.run("fleet-gateway", ["list-tokens"]).stdout
        #expect(listed.contains("read\t\(name)") && !listed.contains(token), "listed by name, the token itself never shown")
        #expect(try await fleetctl(["hosts", "list", "--limit", "1"], token: token).status == 0)
        let revoked = try await CommandRun.run("fleet-gateway", ["revoke-token", name])
        #expect(revoked.status == 0 && revoked.stdout.contains("revoked 1"))
        let refused = try await fleetctl(["hosts", "list", "--limit", "1"], token: token)
        #expect(refused.status == 1 && refused.stderr.contains("error 401"), "\(refused.stderr)")
        #expect(try await CommandRun.run("fleet-gateway", ["revoke-token", name]).status == 1, "nothing left to revoke")
    }

    @Test func errorsAreHelpful() async throws {
        let missing = try await fleetctl(["bulk", "create", "--type", "run_script", "--tags", "x"])
        #expect(missing.status == 1 && missing.stderr.contains("parameters.content"), "\(missing.stderr)")
        let noToken = try await fleetctl(["hosts", "list"], token: "")
        #expect(noToken.status == 1 && noToken.stderr.contains("error 401") && noToken.stderr.contains("FLEET_TOKEN"), "\(noToken.stderr)")
        let unreachable = try await CommandRun.run("fleetctl", ["hosts", "list", "--url", "http://127.0.0.1:9"])
        #expect(unreachable.status == 1 && unreachable.stderr.contains("cannot reach the gateway"), "\(unreachable.stderr)")
        let badParam = try await fleetctl(["bulk", "create", "--type", "reboot", "--tags", "x", "--param", "novalue"])
        #expect(badParam.status == 1 && badParam.stderr.contains("key=value"))
    }
}

@Suite("fleetctl rendering")
struct FleetctlRenderingTests {
    @Test func tablesObjectsAndProgress() throws {
        let table = Rendering.table([["id": "a", "n": 1], ["id": "long-id", "n": .null]], columns: ["id", "n"])
        #expect(table == "ID       N\na        1\nlong-id  -")
        #expect(Rendering.object(["b": 2, "a": ["x": 1]]) == "a  {\"x\":1}\nb  2")
        let line = Rendering.progressLine(["total": 10, "succeeded": 4, "failed": 1, "skipped": 0, "running": 2], elapsed: 10, width: 10)
        #expect(line == "[#####.....]  50.0% 5/10  ok 4  failed 1  skipped 0  running 2  ETA 10s")
        #expect(Rendering.exitCode(forStatus: "succeeded") == 0 && Rendering.exitCode(forStatus: "partial") == 2)
    }

    @Test func requestBodiesFromFlags() throws {
        var b = try RequestBuilder(body: "{\"selector\": {\"criteria\": []}, \"parameters\": {\"shell\": \"sh\"}}")
        b.selector(tags: "web, db", platforms: nil, hosts: "h1", groups: nil, all: false)
        try b.parameters(["content=echo hi", "timeout_seconds=30", "parameter_values={\"a\":1}"])
        #expect(
            b.json == [
                "selector": ["criteria": [], "tags": ["web", "db"], "explicit_host_ids": ["h1"]],
                "parameters": ["shell": "sh", "content": "echo hi", "timeout_seconds": 30, "parameter_values": ["a": 1]],
            ])
        #expect(RequestBuilder.size("10%") == "10%" && RequestBuilder.size("3") == 3)
        #expect(throws: RequestBuilder.Failure.self) { try RequestBuilder(body: "[1]") }
    }
}
