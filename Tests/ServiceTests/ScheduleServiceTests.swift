import FleetBus
import FleetContracts
import FleetCore
import FleetMessaging
import FleetRuntime
import FleetTestSupport
import Foundation
import Testing

/// Schedules across the bus, with two scheduler replicas running (the shared stack starts two),
/// so every fire here also checks that an instant fires once.
@Suite("schedules over the bus")
struct ScheduleServiceTests {
    static func date(_ v: JSONValue?) -> Date? { v?.stringValue.flatMap { try? Date($0, strategy: .iso8601) } }

    static func hosts(_ s: ServiceStack.Handle, _ tag: String, _ n: Int) async {
        _ = await s.bus.call(
            Route.hostsUpsert, ["hosts": .array((0..<n).map { ["id": .string("\(tag)-\($0)"), "tags": [.string(tag)], "approval_status": "approved"] })])
    }

    static func create(_ s: ServiceStack.Handle, _ body: [String: JSONValue]) async throws -> JSONValue {
        var o: [String: JSONValue] = ["name": "test", "operation_type": "reboot"]
        for (k, v) in body { o[k] = v }
        let r = await s.bus.call(Route.schedulesCreate, .object(o))
        #expect(r.status == 201, "\(r)")
        return try #require(r.body)
    }

    static func runs(_ s: ServiceStack.Handle, _ id: JSONValue) async -> [JSONValue] {
        await s.bus.call(Route.schedulesRuns, ["id": id]).body?["runs"]?.arrayValue ?? []
    }

    @Test func everyMinuteFiresOnceOnTimeAndANewlyTaggedHostJoins() async throws {
        let s = try await ServiceStack.shared.handle()
        let tag = unique("cron")
        await Self.hosts(s, tag, 1)
        let events = try await EventRecorder(s.connection, pattern: "schedule.#")
        defer { events.stop() }
        let created = try await Self.create(s, ["selector": ["tags": [.string(tag)]], "cron": "* * * * *"])
        let id = try #require(created["id"])
        defer { Task { _ = await s.bus.call(Route.schedulesDelete, ["id": id]) } }
        let due = try #require(Self.date(created["next_run"]))
        #expect(due > Date() && due.timeIntervalSinceNow <= 60, "the next minute, never at creation")
        #expect(created["last_run"] == .null && created["last_status"] == .null)
        // Tagged after the schedule was made: the selector resolves at the fire, so it is included.
        await Self.hosts(s, tag, 2)
        var schedule: JSONValue?
        let fired = await TestEnvironment.eventually(timeout: .seconds(80)) {
            schedule = await s.bus.call(Route.schedulesGet, ["id": id]).body
            return schedule?["last_status"] == "failed"  // no agent serves these hosts: undeliverable
        }
        #expect(fired, "\(String(describing: schedule))")
        #expect(Self.date(schedule?["last_run"]) == due)
        let runs = await Self.runs(s, id)
        #expect(runs.count == 1, "two replicas, one run: \(runs)")
        let op = try #require(schedule?["last_operation_id"])
        #expect(runs.first?["operation_id"] == op && runs.first?["status"] == "failed")
        #expect(await s.bus.call(Route.bulkGet, ["id": op]).body?["total"] == 2, "the host tagged a moment ago joined")
        let stamps = events.stamps(EventRoute.scheduleFired(id.stringValue ?? ""))
        #expect(stamps.count == 1)
        // The clock ticks every 100 ms (about 0.1 s late when idle); the bound leaves room for a loaded
        // machine and still tells an on-time fire from one a tick of minutes would give.
        if let at = stamps.first?.1 { #expect(at.timeIntervalSince(due) < 5.0, "fired \(at.timeIntervalSince(due)) s after its instant") }
        #expect(Self.date(schedule?["next_run"]).map { $0 > due } == true)
    }

    @Test func aDisabledScheduleDoesNotFireButShowsItsNextRun() async throws {
        let s = try await ServiceStack.shared.handle()
        let created = try await Self.create(s, ["selector": ["tags": [.string(unique("off"))]], "cron": "* * * * *", "enabled": false])
        let id = try #require(created["id"])
        defer { Task { _ = await s.bus.call(Route.schedulesDelete, ["id": id]) } }
        let due = try #require(Self.date(created["next_run"]))
        try await Task.sleep(for: .seconds(due.timeIntervalSinceNow + 3))
        #expect(await Self.runs(s, id).isEmpty)
        #expect(await s.bus.call(Route.schedulesGet, ["id": id]).body?["last_run"] == .null)
    }

    /// A create delivered twice (its `message_id` the same: a redelivery after a crash, or a
    /// client's retry with its Idempotency-Key) makes one schedule; the key with another body is a
    /// 409; two creates with their own message ids make two.
    @Test func theSameCreateTwiceMakesOneSchedule() async throws {
        let s = try await ServiceStack.shared.handle()
        let body: JSONValue = [
            "name": "once", "operation_type": "reboot", "selector": ["tags": [.string(unique("once"))]], "cron": "0 3 * * *", "enabled": false,
        ]
        let key = unique("sched-key-")
        let first = await s.bus.call(Route.schedulesCreate, body, messageID: key)
        let again = await s.bus.call(Route.schedulesCreate, body, messageID: key)
        #expect(first.status == 201 && again.status == 200, "\(first.status) \(again.status)")
        #expect(first.body?["id"] != nil && again.body?["id"] == first.body?["id"])
        guard case .object(var other) = body else { return }
        other["cron"] = "0 4 * * *"
        let conflict = await s.bus.call(Route.schedulesCreate, .object(other), messageID: key)
        #expect(conflict.status == 409 && conflict.error?.error == "idempotency_conflict")
        let a = await s.bus.call(Route.schedulesCreate, body), b = await s.bus.call(Route.schedulesCreate, body)
        #expect(a.status == 201 && b.status == 201 && a.body?["id"] != b.body?["id"])
        for reply in [first, a, b] { _ = await s.bus.call(Route.schedulesDelete, ["id": reply.body?["id"] ?? .null]) }
    }

    @Test func updateReplacesTheDefinitionAndNextRun() async throws {
        let s = try await ServiceStack.shared.handle()
        let created = try await Self.create(s, ["selector": ["tags": ["x"]], "cron": "0 3 * * *"])
        let id = try #require(created["id"])
        let utc3 = try CronSchedule(cron: "0 3 * * *").nextFire(after: Date())
        #expect(Self.date(created["next_run"]) == utc3)
        let updated = await s.bus.call(
            Route.schedulesUpdate,
            [
                "id": id, "name": "later", "operation_type": "reboot", "selector": ["tags": ["x"]],
                "cron": "30 4 * * 1-5", "timezone": "Europe/Berlin",
            ])
        #expect(updated.status == 200 && updated.body?["name"] == "later")
        let berlin = try CronSchedule(cron: "30 4 * * 1-5", timeZone: "Europe/Berlin").nextFire(after: Date())
        #expect(Self.date(updated.body?["next_run"]) == berlin)
        let bad = await s.bus.call(Route.schedulesUpdate, ["id": id, "name": "x", "operation_type": "reboot", "selector": ["tags": ["x"]], "cron": "* * *"])
        #expect(bad.status == 422 && bad.errorFields == ["cron"])
        #expect(await s.bus.call(Route.schedulesDelete, ["id": id]).body?["deleted"] == true)
        #expect(await s.bus.call(Route.schedulesGet, ["id": id]).status == 404)
        #expect(await s.bus.call(Route.schedulesRun, ["id": id]).status == 404)
    }

    @Test func badDefinitionsAre422NamingTheField() async throws {
        let s = try await ServiceStack.shared.handle()
        let cases: [(JSONValue, String)] = [
            (["name": "a", "operation_type": "reboot", "selector": ["tags": ["x"]], "cron": "*/0 * * * *"], "cron.minute"),
            (["name": "a", "operation_type": "reboot", "selector": ["tags": ["x"]], "cron": "0 25 * * *"], "cron.hour"),
            (["name": "a", "operation_type": "reboot", "selector": ["tags": ["x"]], "cron": "@fortnightly"], "cron"),
            (["name": "a", "operation_type": "reboot", "selector": ["tags": ["x"]], "cron": "0 3 * * *", "timezone": "Nowhere/City"], "timezone"),
            (["operation_type": "reboot", "selector": ["tags": ["x"]], "cron": "0 3 * * *"], "name"),
            (["name": "a", "operation_type": "reboot", "cron": "0 3 * * *"], "selector"),
            // One id grammar: a `|` would break the pending-run encoding `<id>|<fire ms>`.
            (["id": "nightly|1", "name": "a", "operation_type": "reboot", "selector": ["tags": ["x"]], "cron": "0 3 * * *"], "id"),
            (["id": 7, "name": "a", "operation_type": "reboot", "selector": ["tags": ["x"]], "cron": "0 3 * * *"], "id"),
        ]
        for (body, field) in cases {
            let r = await s.bus.call(Route.schedulesCreate, body)
            #expect(r.status == 422 && r.errorFields.contains(field), "\(field): \(r)")
        }
    }

    /// The instants passed while no scheduler ran (rewound here: the schedule looks as if it had
    /// waited since 2024) collapse into one run, or are skipped.
    @Test(arguments: ["fire_once", "skip"])
    func missedFiresAfterDowntime(policy: String) async throws {
        let s = try await ServiceStack.shared.handle()
        let created = try await Self.create(s, ["selector": ["tags": [.string(unique("none"))]], "cron": "0 0 1 1 *", "misfire_policy": .string(policy)])
        let id = try #require(created["id"]?.stringValue)
        defer { Task { _ = await s.bus.call(Route.schedulesDelete, ["id": .string(id)]) } }
        let longAgo = String(Int64(try Date("2024-01-01T00:00:00Z", strategy: .iso8601).timeIntervalSince1970 * 1000))
        _ = try await s.redis.send("HSET", RedisKeys.scheduleRecord(id), "next_run", longAgo)
        _ = try await s.redis.send("ZADD", RedisKeys.schedulesDue, longAgo, id)
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(30)) {
                Self.date(await s.bus.call(Route.schedulesGet, ["id": .string(id)]).body?["next_run"]).map { $0 > Date() } == true
            })
        var runs = await Self.runs(s, .string(id))
        if policy == "fire_once" {  // the claim moved next_run; the run settles a moment later
            _ = await TestEnvironment.eventually(timeout: .seconds(30)) {
                runs = await Self.runs(s, .string(id))
                return runs.first?["status"] != "pending"
            }
        }
        let lastJanuary = CronSchedule.lastFire(cron: "0 0 1 1 *", before: Date())
        if policy == "fire_once" {
            #expect(runs.count == 1)
            #expect(Self.date(runs.first?["fire_at"]) == lastJanuary, "the latest missed instant")
            #expect((runs.first?["missed"]?.intValue ?? 0) >= 2)
            #expect(runs.first?["status"] == "skipped", "the selector resolved to nothing")
        } else {
            #expect(runs.isEmpty)
        }
    }

    /// forbid: while the previous run's operation is going, a fire is recorded skipped; allow: it runs.
    @Test(arguments: ["forbid", "allow"])
    func overlapPolicy(policy: String) async throws {
        let s = try await ServiceStack.shared.handle()
        let tag = unique("overlap")
        await Self.hosts(s, tag, 2)
        let agent = try await TestAgent.bind(["\(tag)-0", "\(tag)-1"])  // holds commands: the operation stays open
        defer { Task { await agent.close() } }
        let created = try await Self.create(s, ["selector": ["tags": [.string(tag)]], "cron": "0 0 1 1 *", "overlap_policy": .string(policy)])
        let id = try #require(created["id"])
        defer { Task { _ = await s.bus.call(Route.schedulesDelete, ["id": id]) } }
        let first = await s.bus.call(Route.schedulesRun, ["id": id])
        #expect(first.status == 201 && first.body?["status"] == "running" && first.body?["trigger"] == "manual", "\(first)")
        let second = await s.bus.call(Route.schedulesRun, ["id": id])
        if policy == "forbid" {
            #expect(second.body?["status"] == "skipped" && second.body?["reason"]?.stringValue?.hasPrefix("overlap") == true, "\(second)")
        } else {
            #expect(second.body?["status"] == "running" && second.body?["operation_id"] != first.body?["operation_id"])
        }
        for run in await Self.runs(s, id) { if let op = run["operation_id"], op != .null { _ = await s.bus.call(Route.bulkCancel, ["id": op]) } }
        // The cancelled operation's finish reaches the run, and the schedule's last_status.
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(30)) {
                await s.bus.call(Route.schedulesGet, ["id": id]).body?["last_status"] == (policy == "forbid" ? "skipped" : "cancelled")
            })
    }

    @Test func aRollingScheduleStartsARollout() async throws {
        let s = try await ServiceStack.shared.handle()
        let tag = unique("rollsched")
        await Self.hosts(s, tag, 3)
        let created = try await Self.create(
            s,
            [
                "selector": ["tags": [.string(tag)]], "cron": "0 0 1 1 *",
                "rolling": ["batch_size": 1, "failure_threshold_pct": 100],
            ])
        let id = try #require(created["id"])
        defer { Task { _ = await s.bus.call(Route.schedulesDelete, ["id": id]) } }
        let run = await s.bus.call(Route.schedulesRun, ["id": id])
        #expect(run.body?["kind"] == "rolling")
        let rollout = try #require(run.body?["operation_id"])
        #expect(await s.bus.call(Route.rollingGet, ["id": rollout]).body?["plan"]?["batches"] == [1, 1, 1])
        // No agent: each host fails undeliverable, within a 100 % budget, so the rollout runs to
        // its end; no host succeeded, so it ended `failed`, and so did the run.
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(30)) {
                await s.bus.call(Route.schedulesGet, ["id": id]).body?["last_status"] == "failed"
            })
        #expect(await s.bus.call(Route.rollingGet, ["id": rollout]).body?["halt_code"] == .null, "not halted: ran to the end")
    }
}

extension CronSchedule {
    /// The latest fire at or before `before` within the last two years (for expectations).
    static func lastFire(cron: String, before: Date) -> Date? {
        guard let s = try? CronSchedule(cron: cron) else { return nil }
        return s.fires(after: before.addingTimeInterval(-2 * 366 * 86_400), through: before).last
    }
}
