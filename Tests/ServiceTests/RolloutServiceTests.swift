import FleetContracts
import FleetCore
import FleetMessaging
import FleetRuntime
import FleetTestSupport
import Foundation
import Testing

/// Rolling deployments across the bus: the real controller, dispatcher and selector, and a
/// simulated fleet whose failures and latencies are fixed in advance.
@Suite("rolling deployments over the bus")
struct RolloutServiceTests {
    /// A simulated fleet of `n` hosts `<prefix>-0..` with the given extra flags; waits until registered.
    static func fleet(_ s: ServiceStack.Handle, _ n: Int, _ flags: [String] = []) async throws -> (String, ServiceProcess) {
        let prefix = unique("ro")
        let agent = try ServiceProcess("fleet-agent", arguments: ["--simulate", String(n), "--prefix", prefix] + flags)
        let registered = await TestEnvironment.eventually(timeout: .seconds(30)) {
            await s.bus.call(Route.selectorResolve, ["tags": [.string(prefix)]]).body?["count"] == .int(Int64(n))
        }
        #expect(registered)
        return (prefix, agent)
    }

    static func create(_ s: ServiceStack.Handle, _ prefix: String, _ settings: [String: JSONValue]) async throws -> JSONValue {
        var body: [String: JSONValue] = [
            "operation_type": "run_script", "selector": ["tags": [.string(prefix)]],
            "parameters": ["content": "true", "timeout_seconds": 30],
        ]
        for (k, v) in settings { body[k] = v }
        let r = await s.bus.call(Route.rollingCreate, .object(body))
        #expect(r.status == 201, "\(r)")
        return try #require(r.body)
    }

    static func waitFor(_ s: ServiceStack.Handle, _ id: JSONValue, timeout: Duration = .seconds(30), _ done: @escaping @Sendable (JSONValue) -> Bool) async
        -> JSONValue?
    {
        var last: JSONValue?
        _ = await TestEnvironment.eventually(timeout: timeout) {
            last = await s.bus.call(Route.rollingGet, ["id": id]).body
            return last.map(done) ?? false
        }
        return last
    }

    static func hostReasons(_ s: ServiceStack.Handle, _ op: JSONValue) async -> [String: String] {
        let rows = await s.bus.call(Route.bulkHosts, ["id": op, "limit": 1000]).body?["hosts"]?.arrayValue ?? []
        return Dictionary(
            uniqueKeysWithValues: rows.compactMap { row in
                row["host_id"]?.stringValue.map { ($0, [row["status"]?.stringValue, row["reason"]?.stringValue].compactMap { $0 }.joined(separator: ":")) }
            })
    }

    @Test func batchesGoOutInOrderAfterTheDelay() async throws {
        let s = try await ServiceStack.shared.handle()
        let (prefix, agent) = try await Self.fleet(s, 5, ["--latency-ms", "100"])
        defer { agent.stop() }
        let events = try await EventRecorder(s.connection, pattern: "#")
        defer { events.stop() }
        let created = try await Self.create(s, prefix, ["batch_size": 2, "batch_delay_seconds": 1])
        let id = try #require(created["id"]?.stringValue)
        #expect(created["plan"]?["total"] == 5 && created["plan"]?["batches"] == [2, 2, 1] && created["plan"]?["failure_budget"] == 0)
        #expect(created["plan"]?["estimated_duration_seconds"] == 2, "two delays of 1 s")
        #expect(created["total_batches"] == 3)
        let op = try #require(created["bulk_operation_id"])
        let final = await Self.waitFor(s, .string(id)) { $0["status"] == "succeeded" }
        #expect(final?["status"] == "succeeded", "\(String(describing: final))")
        #expect(final?["progress"]?["succeeded"] == 5)
        // One start per batch, in order; each after the hosts of the batch before it ended, plus the delay.
        let batches = events.received(EventRoute.rollingBatch(id))
        #expect(batches.map { $0["batch"] } == [1, 2, 3])
        // The finished event follows the record's final status: it may still be on its way.
        _ = await TestEnvironment.eventually(timeout: .seconds(10)) { !events.received(EventRoute.rollingFinished(id)).isEmpty }
        #expect(events.received(EventRoute.rollingFinished(id)).map { $0["status"] } == ["succeeded"])
        let opID = op.stringValue ?? ""
        var ended: [String: Date] = [:]
        for (body, at) in events.stamps(EventRoute.bulkHost(opID)) { ended[body["host_id"]?.stringValue ?? ""] = at }
        let starts = events.stamps(EventRoute.rollingBatch(id)).map(\.1)
        let order = (0..<5).map { "\(prefix)-\($0)" }.sorted()
        #expect(ended.count == 5 && starts.count == 3)
        for (k, start) in starts.enumerated() where k > 0 {
            let previous = order[(2 * (k - 1))..<min(2 * k, 5)].compactMap { ended[$0] }.max() ?? .distantFuture
            let gap = start.timeIntervalSince(previous)
            // Never before the delay; the upper bound only has to hold on a loaded machine (the
            // controller's timer and its reading of events run late there, never early).
            #expect(gap >= 1.0 && gap < 6.0, "batch \(k + 1) started \(gap) s after the last result of batch \(k)")
        }
    }

    /// Halts exactly when failed > F = floor(pct * N / 100), checked on every result.
    @Test(
        arguments: [
            // (N, batch size, pct, failing host indexes, expected failed, expected status)
            (6, 2, 0.0, [3], 1, "failed"),
            (10, 5, 10.0, [1, 3, 7], 2, "failed"),
            (8, 2, 25.0, [0, 1], 2, "partial"),
            (4, 1, 100.0, [0, 1, 2, 3], 4, "failed"),  // ran to the end, but no host succeeded
        ] as [(Int, Int, Double, [Int], Int, String)])
    func haltsAtExactlyTheBudget(n: Int, batch: Int, pct: Double, failing: [Int], failed: Int, status: String) async throws {
        let halts = failed > Int(pct * Double(n) / 100)
        let s = try await ServiceStack.shared.handle()
        let prefixHolder = unique("ro")
        let failHosts = failing.map { "\(prefixHolder)-\($0)" }.joined(separator: ",")
        let agent = try ServiceProcess("fleet-agent", arguments: ["--simulate", String(n), "--prefix", prefixHolder, "--fail-hosts", failHosts])
        defer { agent.stop() }
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(30)) {
                await s.bus.call(Route.selectorResolve, ["tags": [.string(prefixHolder)]]).body?["count"] == .int(Int64(n))
            })
        let events = try await EventRecorder(s.connection, pattern: "rolling.#")
        defer { events.stop() }
        let created = try await Self.create(s, prefixHolder, ["batch_size": .int(Int64(batch)), "failure_threshold_pct": .double(pct)])
        let id = try #require(created["id"])
        let final = await Self.waitFor(s, id) {
            $0["status"]?.stringValue.flatMap(RolloutStatus.init(rawValue:))?.isTerminal == true && $0["progress"]?["queued"] == 0
                && $0["progress"]?["running"] == 0
        }
        #expect(final?["status"] == .string(status), "\(String(describing: final))")
        #expect(final?["progress"]?["failed"] == .int(Int64(failed)))
        let rid = id.stringValue ?? ""
        #expect(await TestEnvironment.eventually(timeout: .seconds(30)) { events.received(EventRoute.rollingFinished(rid)).count == 1 })
        #expect(events.received(EventRoute.rollingHalted(rid)).count == (halts ? 1 : 0))
        if halts {
            #expect(events.received(EventRoute.rollingHalted(rid)).first?["failed"] == .int(Int64(failed)))
            #expect(final?["halted_reason"]?.stringValue?.contains("failure budget") == true)
            let reasons = await Self.hostReasons(s, try #require(created["bulk_operation_id"]))
            // Sorted ids: <p>-0, <p>-1, <p>-10.., so batch membership follows that order.
            let halted = reasons.values.filter { $0 == "skipped:halted" }.count
            let ran = reasons.values.filter { $0.hasPrefix("succeeded") || $0.hasPrefix("failed") }.count
            #expect(halted + ran == n && halted > 0, "\(reasons)")
        }
    }

    @Test func pauseDuringABatchAndDuringADelayThenResume() async throws {
        let s = try await ServiceStack.shared.handle()
        let (prefix, agent) = try await Self.fleet(s, 4, ["--latency-ms", "700"])
        defer { agent.stop() }
        let events = try await EventRecorder(s.connection, pattern: "rolling.#")
        defer { events.stop() }
        // An 8 s delay: a loaded machine (a fresh clone's CI, every suite at once) can take seconds
        // to carry the pause below to the controller, and the delay must outlast that.
        let created = try await Self.create(s, prefix, ["batch_size": 2, "batch_delay_seconds": 8])
        let id = try #require(created["id"])
        let rid = id.stringValue ?? ""
        // Paused while batch 1 runs: its hosts finish, batch 2 does not start.
        let paused = await s.bus.call(Route.rollingPause, ["id": id])
        #expect(paused.body?["status"] == "paused")
        #expect(await s.bus.call(Route.rollingPause, ["id": id]).status == 409)
        var held: JSONValue?
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(30)) {
                held = await s.bus.call(Route.rollingProgress, ["id": id]).body
                return held?["succeeded"] == 2
            })
        // Longer than the 8 s delay: a rollout that ignored the pause would have sent batch 2 by now.
        try await Task.sleep(for: .seconds(9))
        held = await s.bus.call(Route.rollingProgress, ["id": id]).body
        #expect(held?["succeeded"] == 2 && held?["queued"] == 2 && held?["current_batch"] == 1, "\(String(describing: held))")
        // Resumed: the delay runs from now; paused again within it, the rest of it is kept.
        #expect(await s.bus.call(Route.rollingResume, ["id": id]).body?["status"] == "running")
        try await Task.sleep(for: .milliseconds(500))
        let waiting = await s.bus.call(Route.rollingPause, ["id": id]).body
        #expect(waiting?["next_batch_at"] == .null && waiting?["current_batch"] == 1, "\(String(describing: waiting))")
        let state = try await s.redis.send("HGET", RedisKeys.rollingRecord(rid), "state").string ?? ""
        let remainingMs = Int64(JSONCoding.decode(Array(state.utf8))?["remainingMs"]?.intValue ?? -1)
        #expect((1..<8000).contains(remainingMs), "part of the 8 s delay left (about 7.5 s unless the machine is busy): \(state)")
        try await Task.sleep(for: .milliseconds(Int(remainingMs) + 1000))
        #expect(await s.bus.call(Route.rollingProgress, ["id": id]).body?["current_batch"] == 1, "nothing starts while paused")
        // Resumed again: batch 2 is due the kept remainder after the controller took the resume,
        // by the controller's own clock (which reads between the two stamps taken around the call),
        // and starts no earlier than that.
        let before = Date()
        let resumed = await s.bus.call(Route.rollingResume, ["id": id])
        let after = Date()
        #expect(resumed.status == 200)
        let due = try #require((resumed.body?["next_batch_at"]?.stringValue).flatMap(parseTimestamp), "\(resumed)")
        let kept = Double(remainingMs) / 1000
        #expect(
            due >= before.addingTimeInterval(kept - 0.002) && due <= after.addingTimeInterval(kept + 0.002),
            "due \(due.timeIntervalSince(before)) s after the resume was sent; kept \(kept) s")
        #expect(await TestEnvironment.eventually(timeout: .seconds(30)) { events.stamps(EventRoute.rollingBatch(rid)).count == 2 })
        if let started = events.stamps(EventRoute.rollingBatch(rid)).last?.1 {
            #expect(started >= due.addingTimeInterval(-0.002), "batch 2 started \(due.timeIntervalSince(started)) s before it was due")
        }
        let final = await Self.waitFor(s, id) { $0["status"] == "succeeded" }
        #expect(final?["progress"]?["succeeded"] == 4)
    }

    @Test func cancelSkipsWhatIsQueuedAndOtherTransitionsAre409() async throws {
        let s = try await ServiceStack.shared.handle()
        let (prefix, agent) = try await Self.fleet(s, 6, ["--latency-ms", "300"])
        defer { agent.stop() }
        let created = try await Self.create(s, prefix, ["batch_size": 2, "batch_delay_seconds": 30])
        let id = try #require(created["id"])
        #expect(await s.bus.call(Route.rollingResume, ["id": id]).status == 409, "resume only from paused")
        let cancelled = await s.bus.call(Route.rollingCancel, ["id": id])
        #expect(cancelled.body?["status"] == "cancelled")
        for route in [Route.rollingCancel, Route.rollingPause, Route.rollingResume] {
            let r = await s.bus.call(route, ["id": id])
            #expect(r.status == 409 && r.error?.error == "invalid_transition", "\(route)")
        }
        let final = await Self.waitFor(s, id) { $0["progress"]?["running"] == 0 && $0["progress"]?["queued"] == 0 }
        #expect(final?["progress"]?["skipped"] == 4, "batches 2 and 3 never ran")
        let reasons = await Self.hostReasons(s, try #require(created["bulk_operation_id"]))
        #expect(reasons.values.filter { $0 == "skipped:cancelled" }.count == 4)
        #expect(await s.bus.call(Route.rollingGet, ["id": "ro-missing"]).status == 404)
        let listed = await s.bus.call(Route.rollingList, [:]).body?["deployments"]?.arrayValue ?? []
        #expect(listed.contains { $0["id"] == id })
    }

    @Test func idempotencyKeyReturnsTheOriginalAndRefusesAnotherBody() async throws {
        let s = try await ServiceStack.shared.handle()
        let tag = unique("roidem")
        _ = await s.bus.call(
            Route.hostsUpsert, ["hosts": .array((0..<2).map { ["id": .string("\(tag)-\($0)"), "tags": [.string(tag)], "approval_status": "approved"] })])
        let key = unique("key-")
        let body: JSONValue = [
            "operation_type": "reboot", "selector": ["tags": [.string(tag)]], "batch_size": 1, "batch_delay_seconds": 60,
            "failure_threshold_pct": 100,
        ]
        let first = await s.bus.call(Route.rollingCreate, body, messageID: key)
        let again = await s.bus.call(Route.rollingCreate, body, messageID: key)
        #expect(first.status == 201 && again.status == 200)
        #expect(again.body?["id"] == first.body?["id"])
        guard case .object(var other) = body else { return }
        other["batch_size"] = 2
        let conflict = await s.bus.call(Route.rollingCreate, .object(other), messageID: key)
        #expect(conflict.status == 409 && conflict.error?.error == "idempotency_conflict")
        _ = await s.bus.call(Route.rollingCancel, ["id": first.body?["id"] ?? .null])
    }

    @Test func badRequestsNameTheField() async throws {
        let s = try await ServiceStack.shared.handle()
        let cases: [(JSONValue, String)] = [
            (["operation_type": "reboot", "selector": ["tags": ["x"]], "batch_size": 0], "batch_size"),
            (["operation_type": "reboot", "selector": ["tags": ["x"]], "batch_size": "150%"], "batch_size"),
            (["operation_type": "reboot", "selector": ["tags": ["x"]], "batch_size": 1, "batch_delay_seconds": -1], "batch_delay_seconds"),
            (["operation_type": "reboot", "selector": ["tags": ["x"]], "batch_size": 1, "failure_threshold_pct": 101], "failure_threshold_pct"),
            (["operation_type": "reboot", "selector": ["tags": ["x"]], "batches": [1, "x"]], "batches[1]"),
            (["operation_type": "reboot", "selector": ["tags": ["x"]], "batch_size": 1, "dispatch": true], "dispatch"),
            (["selector": ["tags": ["x"]], "batch_size": 1], "operation_type"),
        ]
        for (body, field) in cases {
            let r = await s.bus.call(Route.rollingCreate, body)
            #expect(r.status == 422 && r.errorFields.contains(field), "\(field): \(r)")
        }
        let none = await s.bus.call(Route.rollingCreate, ["operation_type": "reboot", "selector": ["tags": [.string(unique("none"))]], "batch_size": 1])
        #expect(none.status == 422 && none.error?.error == "no_targets")
    }
}
