import FleetBus
import FleetContracts
import FleetCore
import FleetMessaging
import FleetRuntime
import FleetTestSupport
import Foundation
import Synchronization
import Testing

/// Host locks and fleet-wide concurrency budgets, across the bus with the real dispatcher: an
/// agent stand-in that holds each command for a while records when each host ran what.
@Suite("fleet-wide coordination: host locks and budgets")
struct CoordinationTests {
    private func hosts(_ s: ServiceStack.Handle, _ tag: String, _ n: Int) async -> [String] {
        let ids = (0..<n).map { "\(tag)-\($0)" }
        let records: [JSONValue] = ids.map { ["id": .string($0), "tags": [.string(tag)], "approval_status": "approved"] }
        _ = await s.bus.call(Route.hostsUpsert, ["hosts": .array(records)])
        return ids
    }

    private func create(_ s: ServiceStack.Handle, _ body: [String: JSONValue]) async throws -> String {
        let r = await s.bus.call(Route.bulkCreate, .object(body))
        #expect(r.status == 201, "\(r)")
        return try #require(r.body?["id"]?.stringValue)
    }

    private func finished(_ s: ServiceStack.Handle, _ op: String, timeout: Duration = .seconds(60)) async -> JSONValue? {
        var last: JSONValue?
        _ = await TestEnvironment.eventually(timeout: timeout) {
            last = await s.bus.call(Route.bulkGet, ["id": .string(op)]).body
            return last?["status"].map { ["succeeded", "failed", "partial", "cancelled"].contains($0.stringValue ?? "") } ?? false
        }
        return last
    }

    private func reasons(_ s: ServiceStack.Handle, _ op: String) async -> [String: String] {
        let rows = await s.bus.call(Route.bulkHosts, ["id": .string(op), "limit": 1000]).body?["hosts"]?.arrayValue ?? []
        var out: [String: String] = [:]
        for row in rows { if let h = row["host_id"]?.stringValue { out[h] = "\(row["status"]?.stringValue ?? ""):\(row["reason"]?.stringValue ?? "")" } }
        return out
    }

    @Test func twoOperationsOnTheSameHostsNeverRunOneHostAtOnce() async throws {
        let s = try await ServiceStack.shared.handle()
        let tag = unique("lock")
        let ids = await hosts(s, tag, 6)
        let agent = try await HoldingAgent.start(s, hosts: ids, hold: .milliseconds(200))
        defer { Task { await agent.close() } }
        // The first holds its hosts until the second's wait has been seen.
        let first = try await create(s, ["operation_type": "run_script", "selector": ["tags": [.string(tag)]], "parameters": ["content": "hold"]])
        #expect(await TestEnvironment.eventually(timeout: .seconds(20)) { agent.runs(started: true).count == 6 })
        let second = try await create(s, ["operation_type": "reboot", "selector": ["tags": [.string(tag)]]])
        let waited = await TestEnvironment.eventually(timeout: .seconds(20)) {
            Set(await reasons(s, second).values) == ["queued:locked"]
        }
        #expect(waited, "the second operation's hosts wait, queued, and say why")
        agent.release()
        #expect(await finished(s, first)?["status"] == "succeeded")
        #expect(await finished(s, second)?["status"] == "succeeded")
        let runs = agent.runs()
        #expect(runs.count == 12, "every host ran both: \(runs.count)")
        for host in ids {
            let spans = runs.filter { $0.host == host }.sorted { $0.start < $1.start }
            #expect(spans.count == 2)
            if spans.count == 2 { #expect(spans[0].end <= spans[1].start, "\(host) ran \(spans[0].op) and \(spans[1].op) at once") }
        }
        #expect(Set(runs.filter { $0.op == first }.map(\.host)) == Set(ids))
    }

    @Test func onConflictSkipAndNonExclusiveOperations() async throws {
        let s = try await ServiceStack.shared.handle()
        let tag = unique("lockskip")
        let ids = await hosts(s, tag, 3)
        // The holder's commands (content "hold") run until the test lets them go, however slow the
        // machine is at creating the other two.
        let agent = try await HoldingAgent.start(s, hosts: ids, hold: .milliseconds(50))
        defer { Task { await agent.close() } }
        let holder = try await create(s, ["operation_type": "run_script", "selector": ["tags": [.string(tag)]], "parameters": ["content": "hold"]])
        #expect(await TestEnvironment.eventually(timeout: .seconds(20)) { agent.runs(started: true).count == 3 })
        let skipper = try await create(
            s, ["operation_type": "reboot", "selector": ["tags": [.string(tag)]], "on_conflict": "skip"])
        let beside = try await create(
            s, ["operation_type": "run_script", "selector": ["tags": [.string(tag)]], "parameters": ["content": "uptime"], "exclusive": false])
        let skipped = await finished(s, skipper)
        #expect(skipped?["progress"]?["skipped"] == 3, "\(String(describing: skipped))")
        #expect(Set(await reasons(s, skipper).values) == ["skipped:locked"])
        #expect(skipped?["on_conflict"] == "skip" && skipped?["exclusive"] == true)
        #expect(await finished(s, beside)?["status"] == "succeeded", "the non-exclusive one ran while the holder held every host")
        #expect(agent.runs().allSatisfy { $0.op != holder }, "the holder is still holding")
        agent.release()
        #expect(await finished(s, holder)?["status"] == "succeeded")
        #expect(agent.runs().allSatisfy { $0.op != skipper }, "a skipped host never ran")
    }

    /// Twenty operations queued on one host go one after another, each woken by the release of
    /// the one before: the whole chain in well under the 19 backstop sweeps (5 s each) it would
    /// take if waiting hosts were found only by the sweep. Nothing of the wait is left behind.
    @Test func operationsQueuedOnOneHostAreWokenInTurn() async throws {
        let s = try await ServiceStack.shared.handle()
        let tag = unique("lockchain")
        let ids = await hosts(s, tag, 1)
        let agent = try await HoldingAgent.start(s, hosts: ids, hold: .milliseconds(50))
        defer { Task { await agent.close() } }
        let started = ContinuousClock.now
        let ops = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<20 { group.addTask { try await create(s, ["operation_type": "reboot", "selector": ["tags": [.string(tag)]]]) } }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        for op in ops { #expect(await finished(s, op, timeout: .seconds(90))?["status"] == "succeeded") }
        let elapsed = ContinuousClock.now - started
        #expect(elapsed < .seconds(45), "woken by each release, not by the sweep: \(elapsed)")
        let spans = agent.runs().sorted { $0.start < $1.start }
        #expect(spans.count == 20)
        for (a, b) in zip(spans, spans.dropFirst()) { #expect(a.end <= b.start, "\(a.op) and \(b.op) ran at once") }
        #expect(try await s.redis.send("EXISTS", RedisKeys.hostLockWaiters(ids[0])).int == 0, "no waiter left on the host")
        #expect(try await s.redis.send("HEXISTS", RedisKeys.hostLocks, ids[0]).int == 0, "the last lock released")
    }

    /// A lease past its end holds nothing; a holder that died between its host's end and the
    /// release leaves a lock the reaper frees (its holder's operation is gone), long before the
    /// hour its lease would last.
    @Test func aLockLeftByADeadHolderIsFreed() async throws {
        let s = try await ServiceStack.shared.handle()
        let tag = unique("lockdead")
        let ids = await hosts(s, tag, 2)
        let agent = try await HoldingAgent.start(s, hosts: ids, hold: .milliseconds(50))
        defer { Task { await agent.close() } }
        let farFuture = Int64(Date().timeIntervalSince1970 * 1000) + 3_600_000
        _ = try await s.redis.send("HSET", RedisKeys.hostLocks, ids[0], "op-died-holding|\(farFuture)")
        _ = try await s.redis.send("HSET", RedisKeys.hostLocks, ids[1], "op-lease-ended|1000")
        let started = ContinuousClock.now
        let op = try await create(s, ["operation_type": "run_script", "selector": ["tags": [.string(tag)]], "parameters": ["content": "true"]])
        #expect(await finished(s, op, timeout: .seconds(40))?["status"] == "succeeded")
        #expect(ContinuousClock.now - started < .seconds(40), "freed by the reaper, not the hour-long lease")
        // Released just after the host's terminal move (which is what `succeeded` above shows).
        let released = await TestEnvironment.eventually(timeout: .seconds(10)) {
            (try? await s.redis.send("HGET", RedisKeys.hostLocks, ids[0]).isNull) == true
        }
        #expect(released, "released on the host's end")
    }

    @Test func aBudgetHoldsAcrossThreeConcurrentOperations() async throws {
        let s = try await ServiceStack.shared.handle()
        let type = "remove_package"
        let set = await s.bus.call(Route.budgetsSet, ["operation_type": .string(type), "max_in_flight": 3])
        #expect(set.status == 200 && set.body?["max_in_flight"] == 3, "\(set)")
        defer { Task { _ = await s.bus.call(Route.budgetsDelete, ["operation_type": .string(type)]) } }
        let tag = unique("budget")
        let ids = await hosts(s, tag, 30)
        let agent = try await HoldingAgent.start(s, hosts: ids, hold: .milliseconds(300))
        defer { Task { await agent.close() } }
        let started = ContinuousClock.now
        var ops: [String] = []
        for part in 0..<3 {
            let mine = Array(ids[(part * 10)..<(part * 10 + 10)])
            ops.append(
                try await create(
                    s,
                    [
                        "operation_type": .string(type), "selector": ["explicit_host_ids": .array(mine.map { .string($0) })],
                        "parameters": ["packages": ["telnet"]],
                    ]))
        }
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(10)) {
                var all: [String] = []
                for op in ops { all += await reasons(s, op).values }
                return all.contains("queued:budget")
            })
        for op in ops { #expect(await finished(s, op)?["status"] == "succeeded") }
        // Ten rounds of three, each woken by the slots the round before freed: a few seconds,
        // where finding them by the 5 s sweep alone takes about 5 s a round (45 s or more).
        let elapsed = ContinuousClock.now - started
        #expect(elapsed < .seconds(30), "woken by each freed slot, not by the sweep: \(elapsed)")
        let runs = agent.runs()
        #expect(runs.count == 30)
        let peak = HoldingAgent.peakConcurrency(runs)
        #expect(peak <= 3, "at most 3 in flight fleet-wide, saw \(peak)")
        #expect(peak >= 2, "the budget is a ceiling, not a queue of one: \(peak)")
        let listed = await s.bus.call(Route.budgetsList, [:]).body?["budgets"]?.arrayValue ?? []
        #expect(listed.count == OperationType.allCases.count)
        #expect(listed.first { $0["operation_type"] == .string(type) }?["max_in_flight"] == 3)
        let bad = await s.bus.call(Route.budgetsSet, ["operation_type": "dance", "max_in_flight": 0])
        #expect(bad.status == 422 && Set(bad.errorFields) == ["operation_type", "max_in_flight"], "\(bad)")
    }
}

/// An agent stand-in for many hosts: claims each command, holds it `hold`, reports success, and
/// records when each host ran which operation.
final class HoldingAgent: Sendable {
    struct Run: Sendable {
        let op: String
        let host: String
        let start: ContinuousClock.Instant
        var end: ContinuousClock.Instant
        var ended: Bool
    }

    private let agent: TestAgent
    private let log = Mutex<[String: Run]>([:])
    private let task = Mutex<Task<Void, Never>?>(nil)
    /// Commands whose content is "hold" run until this is set.
    private let released = Mutex(false)

    /// Lets the "hold" commands finish.
    func release() { released.withLock { $0 = true } }

    private init(agent: TestAgent) { self.agent = agent }

    static func start(_ s: ServiceStack.Handle, hosts: [String], hold: Duration) async throws -> HoldingAgent {
        let me = HoldingAgent(agent: try await TestAgent.bind(hosts))
        let deliveries = try await me.agent.connection.consume(queue: me.agent.queue, prefetch: 100)
        let connection = me.agent.connection, queue = me.agent.queue
        let t = Task {
            await withTaskGroup(of: Void.self) { group in
                for await d in deliveries {
                    group.addTask {
                        defer { d.ack() }
                        guard let cmd = JSONCoding.decode(d.body), let op = cmd["op_id"]?.stringValue, let host = cmd["host_id"]?.stringValue else { return }
                        let claim = await s.bus.call(Route.bulkClaim, ["op_id": .string(op), "host_ids": [.string(host)], "agent_id": .string(queue)])
                        guard claim.body?["claimed"]?.arrayValue?.isEmpty == false else { return }
                        let key = "\(op)/\(host)"
                        let now = ContinuousClock.now
                        me.log.withLock { $0[key] = Run(op: op, host: host, start: now, end: now, ended: false) }
                        try? await Task.sleep(for: hold)
                        if cmd["parameters"]?["content"] == "hold" {
                            while !me.released.withLock({ $0 }), !Task.isCancelled { try? await Task.sleep(for: .milliseconds(20)) }
                        }
                        me.log.withLock { $0[key]?.end = ContinuousClock.now }
                        me.log.withLock { $0[key]?.ended = true }
                        let result: JSONValue = ["op_id": .string(op), "host_id": .string(host), "status": "succeeded", "exit_code": 0]
                        _ = try? await connection.publish(
                            OutgoingMessage(exchange: BusNames.fromAgentsExchange, routingKey: BusNames.resultKey, body: JSONCoding.encode(result)))
                    }
                }
            }
        }
        me.task.withLock { $0 = t }
        return me
    }

    /// Runs that reported (or, `started`, every run granted so far).
    func runs(started: Bool = false) -> [Run] { log.withLock { Array($0.values) }.filter { started || $0.ended } }

    /// The most runs that overlapped at one instant.
    static func peakConcurrency(_ runs: [Run]) -> Int {
        var edges: [(ContinuousClock.Instant, Int)] = []
        for run in runs {
            edges.append((run.start, 1))
            edges.append((run.end, -1))
        }
        // At one instant an end comes before a start: back-to-back runs do not overlap.
        edges.sort { a, b in a.0 == b.0 ? a.1 < b.1 : a.0 < b.0 }
        var current = 0, peak = 0
        for (_, step) in edges {
            current += step
            peak = max(peak, current)
        }
        return peak
    }

    func close() async {
        task.withLock { $0?.cancel() }
        await agent.close()
    }
}
