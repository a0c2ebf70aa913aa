import FleetContracts
import FleetCore
import FleetMessaging
import FleetRuntime
import FleetStore
import FleetTestSupport
import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Issue 15 across the real controller, dispatcher, selector and gateway: the absolute budget,
/// the failure policy and the unreached budget, the canary with its soak and promote, HTTP gates
/// against a server on 127.0.0.1, and the external halt.
@Suite("safer rollouts over the bus and HTTP", .serialized)
struct RolloutSafetyTests {
    typealias R = RolloutServiceTests

    /// A simulated fleet of `n` hosts, `failing` of them failing, plus `offline` registered
    /// approved hosts no agent serves; every host is tagged with the returned prefix.
    static func fleet(_ s: ServiceStack.Handle, _ n: Int, failing: [Int] = [], offline: Int = 0) async throws -> (String, ServiceProcess) {
        let prefix = unique("rs")
        var arguments = ["--simulate", String(n), "--prefix", prefix]
        if !failing.isEmpty { arguments += ["--fail-hosts", failing.map { "\(prefix)-\($0)" }.joined(separator: ",")] }
        let agent = try ServiceProcess("fleet-agent", arguments: arguments)
        if offline > 0 {
            let hosts: [JSONValue] = (0..<offline).map { ["id": .string("\(prefix)-off-\($0)"), "tags": [.string(prefix)], "approval_status": "approved"] }
            #expect(await s.bus.call(Route.hostsUpsert, ["hosts": .array(hosts)]).status == 200)
        }
        let registered = await TestEnvironment.eventually(timeout: .seconds(30)) {
            await s.bus.call(Route.selectorResolve, ["tags": [.string(prefix)]]).body?["count"] == .int(Int64(n + offline))
        }
        #expect(registered)
        return (prefix, agent)
    }

    static func ended(_ s: ServiceStack.Handle, _ id: JSONValue) async -> JSONValue? {
        await R.waitFor(s, id) {
            $0["status"]?.stringValue.flatMap(RolloutStatus.init(rawValue:))?.isTerminal == true && $0["progress"]?["queued"] == 0
                && $0["progress"]?["running"] == 0
        }
    }

    /// One call to the suite's gateway; the status and the JSON body.
    static func http(_ method: String, _ path: String, _ body: JSONValue? = nil, key: String? = nil) async throws -> (Int, JSONValue?) {
        let (url, token) = try await FleetctlTests.Gateway.shared.start()
        var request = URLRequest(url: URL(string: url + "/api/v1/fleet" + path)!, timeoutInterval: 30)
        request.httpMethod = method
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        if let key { request.setValue(key, forHTTPHeaderField: "Idempotency-Key") }
        if let body {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(JSONCoding.encode(body))
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, JSONCoding.decode(Array(data)))
    }

    static func httpGet(_ id: String) async -> JSONValue? { try? await http("GET", "/rolling/\(id)").1 }

    @Test func maxFailuresIsTheStricterBudgetAndTheHaltSaysWhich() async throws {
        let s = try await ServiceStack.shared.handle()
        let (prefix, agent) = try await Self.fleet(s, 6, failing: [0, 1])
        defer { agent.stop() }
        let created = try await R.create(s, prefix, ["batch_size": 2, "failure_threshold_pct": 100, "max_failures": 1])
        #expect(created["plan"]?["failure_budget"] == 1 && created["progress"]?["failure_budget"] == 1, "the budget in force is shown")
        #expect(created["max_failures"] == 1 && created["failure_threshold_pct"] == 100)
        let final = await Self.ended(s, try #require(created["id"]))
        #expect(final?["status"] == "failed" && final?["halt_code"] == "failure_budget", "\(String(describing: final))")
        #expect(final?["progress"]?["failed"] == 2 && final?["progress"]?["skipped"] == 4)
    }

    @Test(
        arguments: [
            // (failing of 4 at 100 %, status): failures within the budget are `partial`; none succeeding is `failed`.
            ([1], "partial"), ([0, 1, 2, 3], "failed"), ([], "succeeded"),
        ] as [([Int], String)])
    func theEndingStatusSaysWhatHappened(failing: [Int], status: String) async throws {
        let s = try await ServiceStack.shared.handle()
        let (prefix, agent) = try await Self.fleet(s, 4, failing: failing)
        defer { agent.stop() }
        let events = try await EventRecorder(s.connection, pattern: "rolling.#")
        defer { events.stop() }
        let created = try await R.create(s, prefix, ["batch_size": 2, "failure_threshold_pct": 100])
        let id = try #require(created["id"])
        let final = await Self.ended(s, id)
        #expect(final?["status"] == .string(status), "\(String(describing: final))")
        #expect(final?["halt_code"] == .null && final?["halted_reason"] == .null, "it ran to the end: no halt")
        let rid = id.stringValue ?? ""
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(15)) {
                events.received(EventRoute.rollingFinished(rid)).map { $0["status"] } == [.string(status)]
            })
        #expect(events.received(EventRoute.rollingHalted(rid)).isEmpty)
        // fleetctl's exit code follows: 0 only for succeeded.
        let get = try await CommandRun.run(
            "fleetctl", ["rolling", "watch", rid, "--timeout", "10"],
            environment: ["FLEET_URL": try await FleetctlTests.Gateway.shared.start().url, "FLEET_TOKEN": try await FleetctlTests.Gateway.shared.start().token])
        #expect(get.status == (status == "succeeded" ? 0 : 2), "\(get.stdout) \(get.stderr)")
    }

    /// Offline hosts do not halt a rollout whose policy leaves `undeliverable` out, and end it
    /// `partial`; the unreached budget halts it once more hosts than it allows were never reached.
    @Test(arguments: [nil, 20.0] as [Double?])
    func offlineHostsLeftOutOfTheBudgetAreJudgedByTheUnreachedBudget(maxUnreachedPct: Double?) async throws {
        let s = try await ServiceStack.shared.handle()
        let (prefix, agent) = try await Self.fleet(s, 4, offline: 2)
        defer { agent.stop() }
        var policy: [String: JSONValue] = ["count": ["exit_code", "timed_out", "lost", "agent_error"]]
        if let maxUnreachedPct { policy["max_unreached_pct"] = .double(maxUnreachedPct) }
        let created = try await R.create(
            s, prefix, ["batch_size": 6, "failure_threshold_pct": 0, "failure_policy": .object(policy), "delivery_timeout_seconds": 1])
        #expect(created["plan"]?["counted_reasons"] == ["exit_code", "timed_out", "lost", "agent_error"])
        #expect(created["plan"]?["unreached_budget"] == (maxUnreachedPct == nil ? .null : 1))
        let final = await Self.ended(s, try #require(created["id"]))
        #expect(final?["progress"]?["unreached"] == 2 && final?["progress"]?["failed_counted"] == 0, "\(String(describing: final))")
        if maxUnreachedPct == nil {
            #expect(final?["status"] == "partial" && final?["halt_code"] == .null)
            #expect(final?["progress"]?["succeeded"] == 4)
        } else {
            #expect(final?["status"] == "failed" && final?["halt_code"] == "unreached_budget")
            #expect(final?["halted_reason"]?.stringValue?.contains("never reached") == true)
        }
    }

    /// The canary soaks, its gate is asked (without the caller's token), and with manual
    /// promotion nothing more goes out until `POST /rolling/{id}/promote`.
    @Test func aCanarySoaksPassesItsGateAndWaitsForAPromoteOverHTTP() async throws {
        let s = try await ServiceStack.shared.handle()
        let gates = try await GateServer()
        defer { gates.stop() }
        let (prefix, agent) = try await Self.fleet(s, 5)
        defer { agent.stop() }
        let (status, created) = try await Self.http(
            "POST", "/rolling",
            [
                "operation_type": "run_script", "selector": ["tags": [.string(prefix)]], "parameters": ["content": "true"], "batch_size": 2,
                "canary": ["hosts": 1, "soak_seconds": 4, "promotion": "manual"],
                "gates": [["type": "http", "url": .string(gates.base + "/ok"), "timeout_seconds": 5, "after": "canary"]],
            ])
        #expect(status == 201, "\(String(describing: created))")
        let id = try #require(created?["id"]?.stringValue)
        #expect(created?["plan"]?["batches"] == [1, 2, 2] && created?["plan"]?["estimated_duration_seconds"] == 4)
        // The soak lasts 4 s: long enough to be seen on a loaded machine.
        #expect(await TestEnvironment.eventually(timeout: .seconds(20)) { await Self.httpGet(id)?["status"] == "soaking" }, "soaking after the canary")
        #expect(gates.received().isEmpty, "no gate during the soak")
        let waiting = await R.waitFor(s, .string(id)) { $0["status"] == "awaiting_approval" }
        #expect(waiting?["status"] == "awaiting_approval", "\(String(describing: waiting))")
        #expect(gates.received() == [GateServer.Hit(path: "/ok", carriedCredentials: false)], "asked once, with no credentials")
        try await Task.sleep(for: .seconds(1))
        #expect(await Self.httpGet(id)?["progress"]?["succeeded"] == 1, "nothing past the canary before the promote")
        #expect(try await Self.http("POST", "/rolling/\(id)/pause").0 == 409, "awaiting approval is not paused")

        let (promoted, body) = try await Self.http("POST", "/rolling/\(id)/promote")
        // Zero-latency hosts may have finished the rest by the time the answer is written.
        #expect(promoted == 200 && ["running", "succeeded"].contains(body?["status"]), "\(String(describing: body))")
        let final = await Self.ended(s, .string(id))
        #expect(final?["status"] == "succeeded" && final?["progress"]?["succeeded"] == 5)
        #expect(try await Self.http("POST", "/rolling/\(id)/promote").0 == 409)
    }

    /// A gate that answers 503, or not within its timeout, or with a redirect (never followed: it
    /// could lead off the allowed hosts), halts the rollout (`gate_failed`).
    @Test(arguments: ["/fail", "/slow", "/redirect"])
    func aFailingGateHaltsTheRollout(path: String) async throws {
        let s = try await ServiceStack.shared.handle()
        let gates = try await GateServer()
        defer { gates.stop() }
        let (prefix, agent) = try await Self.fleet(s, 3)
        defer { agent.stop() }
        let created = try await R.create(
            s, prefix, ["batch_size": 1, "gates": [["type": "http", "url": .string(gates.base + path), "timeout_seconds": 1, "after": "every_batch"]]])
        let final = await Self.ended(s, try #require(created["id"]))
        #expect(final?["status"] == "failed" && final?["halt_code"] == "gate_failed", "\(String(describing: final))")
        let reason = final?["halted_reason"]?.stringValue ?? ""
        let expected = ["/fail": "answered 503", "/redirect": "answered 302", "/slow": "failed"][path]!
        #expect(reason.hasPrefix("gate_failed: GET \(gates.base)\(path)") && reason.contains(expected), "\(reason)")
        if path == "/redirect" { #expect(!gates.received().contains { $0.path == "/ok" }, "the redirect was not followed") }
        #expect(final?["progress"]?["succeeded"] == 1 && final?["progress"]?["skipped"] == 2, "only the first batch ran")
    }

    /// `POST /rolling/{id}/halt` halts as the budget does, with the reason recorded.
    @Test func anExternalHaltOverHTTP() async throws {
        let s = try await ServiceStack.shared.handle()
        let (prefix, agent) = try await Self.fleet(s, 4)
        defer { agent.stop() }
        let created = try await R.create(s, prefix, ["batch_size": 1, "batch_delay_seconds": 60])
        let id = try #require(created["id"]?.stringValue)
        _ = await R.waitFor(s, .string(id)) { $0["progress"]?["succeeded"] == 1 }
        let (missing, refusal) = try await Self.http("POST", "/rolling/\(id)/halt", [:])
        #expect(missing == 422 && refusal?["details"]?.arrayValue?.contains { $0["field"] == "reason" } == true, "\(String(describing: refusal))")
        let (status, halted) = try await Self.http("POST", "/rolling/\(id)/halt", ["reason": "error-rate alarm"])
        #expect(status == 200 && halted?["status"] == "failed" && halted?["halt_code"] == "external", "\(String(describing: halted))")
        #expect(halted?["halted_reason"] == "halted: error-rate alarm")
        let final = await Self.ended(s, .string(id))
        #expect(final?["progress"]?["skipped"] == 3)
        #expect(try await Self.http("POST", "/rolling/\(id)/halt", ["reason": "again"]).0 == 409)
    }
}

/// `"dry_run": true`: the plan, and nothing created or sent.
@Suite("plan previews over the bus and HTTP", .serialized)
struct PlanPreviewServiceTests {
    @Test func aDryRunAnswersThePlanAndCreatesNothing() async throws {
        let s = try await ServiceStack.shared.handle()
        let tag = unique("preview")
        let hosts: [JSONValue] = (0..<5).map { i in
            ["id": .string("\(tag)-\(i)"), "tags": [.string(tag)], "approval_status": i == 2 ? "pending" : "approved"]
        }
        #expect(await s.bus.call(Route.hostsUpsert, ["hosts": .array(hosts)]).status == 200)
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(10)) { await s.bus.call(Route.selectorResolve, ["tags": [.string(tag)]]).body?["count"] == 5 })
        /// Operations and rollouts over this test's hosts (other tests create theirs meanwhile).
        func created() async -> Int {
            let bulk = await s.bus.call(Route.bulkList, ["limit": 500]).body?["operations"]?.arrayValue ?? []
            let rolling = await s.bus.call(Route.rollingList, ["limit": 500]).body?["deployments"]?.arrayValue ?? []
            return (bulk + rolling).filter { $0["selector"]?["tags"] == [.string(tag)] }.count
        }
        let (status, plan) = try await RolloutSafetyTests.http(
            "POST", "/rolling",
            [
                "operation_type": "reboot", "selector": ["tags": [.string(tag)]], "batch_size": 2, "batch_delay_seconds": 60, "max_failures": 1,
                "canary": ["hosts": 1, "soak_seconds": 600], "dry_run": true,
            ])
        #expect(status == 200, "\(String(describing: plan))")
        #expect(
            plan?["batches"]?.arrayValue?.map { $0["host_ids"] } == [
                [.string("\(tag)-0")], [.string("\(tag)-1"), .string("\(tag)-2")], [.string("\(tag)-3"), .string("\(tag)-4")],
            ])
        #expect(plan?["ineligible"] == [["host_id": .string("\(tag)-2"), "reason": "not_approved"]])
        #expect(plan?["total"] == 5 && plan?["failure_budget"] == 1 && plan?["estimated_duration_seconds"] == 720 && plan?["dry_run"] == true)
        let bulk = await s.bus.call(Route.bulkCreate, ["operation_type": "reboot", "selector": ["tags": [.string(tag)]], "dry_run": true])
        #expect(bulk.status == 200 && bulk.body?["batches"]?.arrayValue?.first?["size"] == 4 && bulk.body?["failure_budget"] == .null, "\(bulk)")
        let none = await s.bus.call(
            Route.rollingCreate, ["operation_type": "reboot", "selector": ["tags": [.string("no-such-tag-\(tag)")]], "batch_size": 1, "dry_run": true])
        #expect(none.status == 422 && none.error?.error == "no_targets", "the dry run answers the 422 the create would")
        #expect(await created() == 0, "nothing was created")
        // fleetctl prints it as a table.
        let (url, token) = try await FleetctlTests.Gateway.shared.start()
        let table = try await CommandRun.run(
            "fleetctl", ["rolling", "plan", "--type", "reboot", "--tags", tag, "--batch-size", "2", "--canary", "1"],
            environment: ["FLEET_URL": url, "FLEET_TOKEN": token])
        #expect(
            table.status == 0 && table.stdout.contains("BATCH  SIZE  HOSTS") && table.stdout.contains("skipped \(tag)-2: not_approved"),
            "\(table.stdout) \(table.stderr)")
    }
}

/// `POST /bulk/{id}/rerun` and `POST /rolling/{id}/rerun`: exactly the hosts that match, the same
/// type, parameters and policy, and `parent_id`.
@Suite("reruns over HTTP", .serialized)
struct RerunServiceTests {
    @Test func aBulkRerunTakesExactlyTheFailedHosts() async throws {
        let s = try await ServiceStack.shared.handle()
        let (prefix, agent) = try await RolloutSafetyTests.fleet(s, 5, failing: [1, 3])
        defer { agent.stop() }
        let (status, created) = try await RolloutSafetyTests.http(
            "POST", "/bulk", ["operation_type": "run_script", "selector": ["tags": [.string(prefix)]], "parameters": ["content": "exit 0"]])
        #expect(status == 201)
        let op = try #require(created?["id"]?.stringValue)
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(30)) { (try? await RolloutSafetyTests.http("GET", "/bulk/\(op)"))?.1?["status"] == "partial" })
        #expect(try await RolloutSafetyTests.http("POST", "/bulk/\(op)/rerun", ["statuses": ["skipped"]]).1?["error"] == "no_hosts_match")
        let bad = try await RolloutSafetyTests.http("POST", "/bulk/\(op)/rerun", ["statuses": ["succeeded"], "reasons": ["exit_code"]])
        #expect(bad.0 == 422 && bad.1?["details"]?.arrayValue?.first?["field"] == "reasons")
        #expect(try await RolloutSafetyTests.http("POST", "/bulk/op-nope/rerun", ["statuses": ["failed"]]).0 == 404)

        let (url, token) = try await FleetctlTests.Gateway.shared.start()
        let rerun = try await CommandRun.run("fleetctl", ["bulk", "rerun", op, "--failed", "--json"], environment: ["FLEET_URL": url, "FLEET_TOKEN": token])
        #expect(rerun.status == 0, "\(rerun.stderr)")
        let again = JSONCoding.decode(Array(rerun.stdout.utf8))
        #expect(again?["parent_id"] == .string(op) && again?["operation_type"] == "run_script" && again?["parameters"]?["content"] == "exit 0")
        #expect(again?["selector"] == ["explicit_host_ids": [.string("\(prefix)-1"), .string("\(prefix)-3")]] && again?["total"] == 2)
        let usage = try await CommandRun.run("fleetctl", ["bulk", "rerun", op], environment: ["FLEET_URL": url, "FLEET_TOKEN": token])
        #expect(usage.status == 64 && usage.stderr.contains("--failed"), "a rerun names its hosts: \(usage.stderr)")
    }

    @Test func aRolloutRerunKeepsItsPolicyOverTheHostsThatDidNotSucceed() async throws {
        let s = try await ServiceStack.shared.handle()
        let (prefix, agent) = try await RolloutSafetyTests.fleet(s, 6, failing: [0])
        defer { agent.stop() }
        let created = try await RolloutServiceTests.create(s, prefix, ["batch_size": 2, "max_failures": 0, "canary": ["hosts": 1]])
        let id = try #require(created["id"]?.stringValue)
        let final = await RolloutSafetyTests.ended(s, .string(id))
        #expect(final?["status"] == "failed" && final?["progress"]?["skipped"] == 5, "the canary failed: the rest skipped")
        let key = unique("rerun")
        let (status, rerun) = try await RolloutSafetyTests.http("POST", "/rolling/\(id)/rerun", ["statuses": ["skipped"], "reasons": ["halted"]], key: key)
        #expect(status == 201, "\(String(describing: rerun))")
        let repeated = try await RolloutSafetyTests.http("POST", "/rolling/\(id)/rerun", ["statuses": ["skipped"], "reasons": ["halted"]], key: key)
        #expect(repeated.0 == 200 && repeated.1?["id"] == rerun?["id"], "the same Idempotency-Key: the same rerun")
        #expect(rerun?["parent_id"] == .string(id) && rerun?["max_failures"] == 0 && rerun?["canary"]?["hosts"] == 1 && rerun?["batch_size"] == 2)
        #expect(rerun?["plan"]?["total"] == 5 && rerun?["plan"]?["batches"] == [1, 2, 2], "the halted five, cut by the same policy")
        let newID = try #require(rerun?["id"]?.stringValue)
        #expect(await RolloutSafetyTests.ended(s, .string(newID))?["status"] == "succeeded")
    }
}

/// Failure domains across the selector and the controller: no batch holds more than
/// `max_per_domain` hosts of one rack, in the preview and in the rollout itself.
@Suite("failure domains over the bus and HTTP")
struct FailureDomainServiceTests {
    @Test func noBatchTakesMoreThanItsShareOfARack() async throws {
        let s = try await ServiceStack.shared.handle()
        let tag = unique("racks")
        let racks = ["r1", "r1", "r1", "r2", "r2", nil, "r3"]
        let hosts: [JSONValue] = racks.enumerated().map { i, rack in
            var h: [String: JSONValue] = ["id": .string("\(tag)-\(i)"), "tags": [.string(tag)], "approval_status": "approved"]
            if let rack { h["facts"] = ["rack": .string(rack)] }
            return .object(h)
        }
        #expect(await s.bus.call(Route.hostsUpsert, ["hosts": .array(hosts)]).status == 200)
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(10)) { await s.bus.call(Route.selectorResolve, ["tags": [.string(tag)]]).body?["count"] == 7 })
        let domains = await s.bus.call(Route.selectorResolve, ["tags": [.string(tag)], "domain_of": "facts.rack"]).body?["domains"]
        #expect(domains?["\(tag)-0"] == "r1" && domains?["\(tag)-5"] == nil, "\(String(describing: domains))")
        let fields: [String: JSONValue] = [
            "operation_type": "reboot", "selector": ["tags": [.string(tag)]], "batch_size": 3, "spread_by": "facts.rack", "max_per_domain": 1,
            "delivery_timeout_seconds": 1, "failure_threshold_pct": 100,
        ]
        let body = JSONValue.object(fields)
        let (status, plan) = try await RolloutSafetyTests.http("POST", "/rolling", .object(fields.merging(["dry_run": true]) { $1 }))
        #expect(status == 200, "\(String(describing: plan))")
        let rackOf = Dictionary(uniqueKeysWithValues: racks.enumerated().map { ("\(tag)-\($0.offset)", $0.element ?? "none") })
        let batches = plan?["batches"]?.arrayValue?.map { $0["host_ids"]?.arrayValue?.compactMap(\.stringValue) ?? [] } ?? []
        #expect(batches.flatMap { $0 }.count == 7)
        for batch in batches { #expect(Set(batch.map { rackOf[$0]! }).count == batch.count, "one host per rack in \(batch)") }
        #expect(batches.first == ["\(tag)-0", "\(tag)-3", "\(tag)-6"], "r1, r2, r3 in turn; the host with no rack in a domain of its own")

        let created = await s.bus.call(Route.rollingCreate, body)
        #expect(created.status == 201, "\(created)")
        #expect(created.body?["plan"]?["batches"] == .array(batches.map { .int(Int64($0.count)) }), "the rollout cuts them as the preview did")
        #expect(created.body?["spread_by"] == "facts.rack" && created.body?["max_per_domain"] == 1 && created.body?["domain_order"] == "interleaved")
        // The controller's own record of the order it takes the hosts in: the preview's.
        let id = try #require(created.body?["id"]?.stringValue)
        let stored = try await s.redis.send("LRANGE", RedisKeys.rollingHosts(id), "0", "-1").array?.compactMap(\.string)
        #expect(stored == batches.flatMap { $0 })
    }
}
