// The whole stack's figures for `make bench`, each beside what the work itself costs in the same
// run: select latency through the gateway, straight onto the bus and in-process for five selectors
// at 100,000 hosts; bulk operations over 10,000 and 50,000 simulated hosts beside the raw ceiling;
// small creates; the rollout controller's gap per batch; the scheduler's fire lag. Expects the
// services and the simulated fleets running (scripts/bench.sh starts them). Besides the printed
// lines, each figure is a JSON fact appended to $BENCH_FACTS, which scripts/bench_report.py turns
// into .run/bench-results.json.
import AsyncHTTPClient
import BenchFacts
import FleetBus
import FleetContracts
import FleetCore
import FleetMessaging
import FleetStore
import Foundation
import NIOCore

let env = ProcessInfo.processInfo.environment
let base = env["BENCH_GATEWAY_URL"] ?? "http://127.0.0.1:18080"
let token = env["BENCH_TOKEN"] ?? ""
let hostCount = Int(env["BENCH_HOSTS"] ?? "") ?? 100_000
let requests = Int(env["BENCH_REQUESTS"] ?? "") ?? 200
let clock = ContinuousClock()
/// `BENCH_ONLY=bulk`: only the bulk rows (no inventory load, no select, creates, rollout or
/// scheduler), for profiling the bulk path on its own.
let bulkOnly = env["BENCH_ONLY"] == "bulk"
let client = HTTPClient(eventLoopGroupProvider: .singleton)

func fact(_ name: String, _ value: Double, _ unit: String, count: Int? = nil) { BenchFacts.record(name, value, unit, count: count) }

func median(_ samples: [Double]) -> Double { samples.isEmpty ? .nan : samples.sorted()[samples.count / 2] }
func quantile(_ samples: [Double], _ q: Double) -> Double {
    let s = samples.sorted()
    return s.isEmpty ? .nan : s[min(s.count - 1, Int(Double(s.count) * q))]
}

func ms(_ d: Duration) -> Double { Double(d.components.seconds) * 1e3 + Double(d.components.attoseconds) / 1e15 }

func post(_ path: String, _ body: JSONValue) async throws -> (Int, JSONValue) {
    var request = HTTPClientRequest(url: base + path)
    request.method = .POST
    request.headers.add(name: "Authorization", value: "Bearer \(token)")
    request.headers.add(name: "Content-Type", value: "application/json")
    request.body = .bytes(ByteBuffer(bytes: JSONCoding.encode(body)))
    let response = try await client.execute(request, timeout: .seconds(120))
    let bytes = try await response.body.collect(upTo: 64 << 20)
    return (Int(response.status.code), JSONCoding.decode(Array(bytes.readableBytesView)) ?? .null)
}

func percentiles(_ samples: [Double]) -> String {
    let s = samples.sorted()
    func p(_ q: Double) -> Double { s[min(s.count - 1, Int(Double(s.count) * q))] }
    return String(format: "p50 %7.2f ms   p90 %7.2f ms   p99 %7.2f ms", p(0.5), p(0.9), p(0.99))
}

// The same deterministic inventory as fleet-core-bench.
let platforms = ["Linux", "Linux", "Linux", "Windows", "macOS", "FreeBSD"]
let tags = ["webserver", "db", "cache", "edge", "batch", "prod", "staging"]
func hostJSON(_ i: Int) -> JSONValue {
    [
        "id": .string(String(format: "bench-%07d", i)), "platform": .string(platforms[i % platforms.count]),
        "fqdn": .string("host-\(i).\(i % 4 == 0 ? "prod" : "dev").dc\(i % 5).example.com"),
        "tags": .array([.string(tags[i % tags.count]), .string(tags[(i / 7) % tags.count])]),
        "approval_status": .string(i % 10 == 0 ? "pending" : "approved"), "cpu_cores": .int(Int64(1 << (i % 5))),
        "site_id": .string("site-\(i % 40)"),
    ]
}
// The five selectors of the PostgreSQL baseline (Tests/Benchmarks/baseline_postgres.py says the
// same in SQL): the seed's example, tags only, a regex, numeric plus NOT, and a broad one. None of
// them admits a simulated host (their fqdns end in .sim.example, their tags are not these).
let selectors: [(name: String, json: JSONValue)] = [
    (
        "q1",
        [
            "criteria": [
                ["field": "fqdn", "op": "contains", "value": ".prod."], ["field": "cpu_cores", "op": "gte", "value": 4],
                ["field": "approval_status", "op": "equals", "value": "approved"],
            ],
            "tags": ["webserver"], "platforms": ["linux"],
        ]
    ),
    ("q2", ["tags": ["prod"]]),
    ("q3", ["criteria": [["field": "fqdn", "op": "matches", "value": "^host-\\d+\\.prod\\.dc[0-2]"]]]),
    (
        "q4",
        [
            "criteria": [
                ["field": "cpu_cores", "op": "gte", "value": 16], ["not": ["field": "platform", "op": "in", "value": ["windows", "macos"]]],
            ]
        ]
    ),
    (
        "q5",
        [
            "criteria": [
                ["field": "fqdn", "op": "ends_with", "value": ".example.com"], ["field": "approval_status", "op": "equals", "value": "approved"],
            ]
        ]
    ),
]

let loadStart = clock.now
for start in stride(from: 0, to: hostCount, by: 5000) where !bulkOnly {
    let batch = JSONValue.array((start..<min(start + 5000, hostCount)).map(hostJSON))
    let (status, body) = try await post("/api/v1/fleet/hosts", ["hosts": batch])
    precondition(status == 200, "load failed: \(status) \(body)")
}
let loadTime = clock.now - loadStart
print(
    String(
        format: "loaded %d hosts through POST /hosts in %.1f s (%.0f hosts/s)", hostCount, ms(loadTime) / 1000,
        Double(hostCount) / (ms(loadTime) / 1000)))

let connection = try await AMQPConnection.connect(url: env["FLEET_AMQP_URL"] ?? "amqp://guest:guest@127.0.0.1:5672/%2f", name: "bench")
let bus = BusClient(rpc: try await RPCClient.start(on: connection), timeout: .seconds(30))
let index = InventoryIndex((0..<hostCount).map { try! FleetHost(json: hostJSON($0)) })

print("select over \(hostCount) hosts (plus the simulated fleets, which no selector here admits), sequential requests, same run:")
for (name, json) in selectors where !bulkOnly {
    // The seed example gets the most samples (it is the headline row); the broad ones are slower.
    let n = name == "q1" ? requests : max(requests / 4, 20)
    // Warm up (the first resolve of a replica loads the inventory).
    var expected = -1
    for _ in 0..<5 { expected = Int(try await post("/api/v1/fleet/select", json).1["count"]?.intValue ?? -1) }
    var viaHTTP: [Double] = []
    for _ in 0..<n {
        let t = clock.now
        let (status, body) = try await post("/api/v1/fleet/select", json)
        viaHTTP.append(ms(clock.now - t))
        precondition(status == 200 && body["count"]?.intValue == Int64(expected))
    }
    var viaBus: [Double] = []
    for _ in 0..<n {
        let t = clock.now
        let reply = await bus.call(Route.selectorResolve, json)
        viaBus.append(ms(clock.now - t))
        precondition(reply.status == 200 && reply.body?["count"]?.intValue == Int64(expected))
    }
    let compiled = try CompiledSelector(HostSelector(json: json))
    var inProcess: [Double] = []
    for _ in 0..<n {
        let t = clock.now
        precondition(index.select(compiled).count == expected)
        inProcess.append(ms(clock.now - t))
    }
    print("  \(name) (\(expected) hits), \(n) requests each:")
    print("    through the gateway (HTTP -> bus -> selector)  \(percentiles(viaHTTP))")
    print("    straight onto the bus (no HTTP)                \(percentiles(viaBus))")
    print("    in-process FleetCore resolve (no bus)          \(percentiles(inProcess))")
    fact("select.\(name).gateway_p50", median(viaHTTP), "ms", count: expected)
    fact("select.\(name).gateway_p99", quantile(viaHTTP, 0.99), "ms", count: expected)
    fact("select.\(name).bus_p50", median(viaBus), "ms", count: expected)
    fact("select.\(name).inprocess_p50", median(inProcess), "ms", count: expected)
}

// MARK: - Bulk operations over 10,000 and 50,000 simulated zero-latency hosts, beside the raw ceiling

/// Waits until the selector knows all `count` hosts of the simulated fleet `prefix`.
func waitRegistered(_ prefix: String, _ count: Int) async -> Bool {
    let deadline = clock.now + .seconds(600)
    while clock.now < deadline {
        if await bus.call(Route.selectorResolve, ["tags": [.string(prefix)]]).body?["count"]?.intValue == Int64(count) { return true }
        try? await Task.sleep(for: .milliseconds(500))
    }
    return false
}

/// POST /bulk over every host of a simulated fleet, to the last result: the time and the id.
func bulkRun(_ prefix: String, _ count: Int, exclusive: Bool = true) async throws -> (Duration, String) {
    let start = clock.now
    let (status, created) = try await post(
        "/api/v1/fleet/bulk", ["operation_type": "reboot", "selector": ["tags": [.string(prefix)]], "exclusive": .bool(exclusive)])
    precondition(status == 201, "bulk create failed: \(status) \(created)")
    let id = created["id"]!.stringValue!
    while true {
        var request = HTTPClientRequest(url: base + "/api/v1/fleet/bulk/\(id)/progress")
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        let response = try await client.execute(request, timeout: .seconds(30))
        let progress = JSONCoding.decode(Array(try await response.body.collect(upTo: 1 << 20).readableBytesView)) ?? .null
        if progress["succeeded"]?.intValue == Int64(count) { break }
        precondition(progress["failed"]?.intValue ?? 0 == 0, "hosts failed in the benchmark: \(progress)")
        try await Task.sleep(for: .milliseconds(20))
    }
    return (clock.now - start, id)
}

/// The ceiling: the same traffic with no service logic: 2 x N messages published with confirms and
/// consumed with acks (commands out, results back), and N Redis script calls (one per transition).
func ceiling(_ count: Int) async throws -> Duration {
    let queue = "bench.ceiling.\(UInt32.random(in: 0...UInt32.max))"
    try await connection.declare(Topology(queues: [QueueDeclaration(name: queue, durable: false, exclusive: true)]))  // gone with the connection
    let redisClient = try await FleetStore.RedisClient.connect(url: env["FLEET_REDIS_URL"] ?? "redis://127.0.0.1:6379/0")
    let script = FleetStore.RedisScript("return redis.call('HINCRBY', KEYS[1], ARGV[1], 1)")
    let start = clock.now
    for _ in 0..<2 {
        for first in stride(from: 0, to: count, by: 1000) {
            let batch = (first..<min(first + 1000, count)).map {
                OutgoingMessage(exchange: "", routingKey: queue, body: Array("{\"host\":\($0)}".utf8))
            }
            let confirmed = await connection.publish(batch: batch)
            precondition(confirmed.allSatisfy { (try? $0.get()) != nil })
        }
        let consumer = try await connection.consume(queue: queue, prefetch: 500)
        var got = 0
        for await d in consumer {
            d.ack()
            got += 1
            if got == count { break }
        }
        consumer.cancel()
    }
    try await withThrowingTaskGroup(of: Void.self) { group in
        for i in 0..<count {
            group.addTask { _ = try await redisClient.eval(script, keys: ["bench:ceiling:{x}"], arguments: [String(i % 5)]) }
            if i % 500 == 499 { try await group.waitForAll() }
        }
        try await group.waitForAll()
    }
    let elapsed = clock.now - start
    _ = try await redisClient.send("DEL", "bench:ceiling:{x}")
    redisClient.close()
    return elapsed
}

let simPrefix = env["BENCH_SIM_PREFIX"] ?? "benchsim"
var progressOperation = ""
for (prefix, count, name) in [(simPrefix, 10_000, "bulk_10k"), (env["BENCH_BIG_PREFIX"] ?? "benchbig", 50_000, "bulk_50k")] {
    let registered = await waitRegistered(prefix, count)
    precondition(registered, "the simulated fleet \(prefix) did not register \(count) hosts")
    let (bulkTime, id) = try await bulkRun(prefix, count)
    if name == "bulk_10k" { progressOperation = id }
    let ceilingTime = try await ceiling(count)
    print("")
    print(
        String(
            format: "bulk operation over %d simulated zero-latency hosts, POST /bulk to the last result: %.2f s (%.0f hosts/s)",
            count, ms(bulkTime) / 1000, Double(count) / (ms(bulkTime) / 1000)))
    print(
        String(
            format: "raw ceiling, same run (2 x %d messages published+consumed, %d Redis script calls, no service logic): %.2f s  -> ours is %.1fx the ceiling",
            count, count, ms(ceilingTime) / 1000, ms(bulkTime) / ms(ceilingTime)))
    fact("\(name).ours", ms(bulkTime) / 1000, "s", count: count)
    fact("\(name).ceiling", ms(ceilingTime) / 1000, "s", count: count)
    if name == "bulk_10k" {
        // What host locks and budget accounting cost: the same hosts again, taking no lock.
        let (unlocked, _) = try await bulkRun(prefix, count, exclusive: false)
        print(String(format: "the same without host locks (exclusive: false): %.2f s", ms(unlocked) / 1000))
        fact("bulk_10k_unlocked.ours", ms(unlocked) / 1000, "s", count: count)
    }
}
// For scripts/bench.sh: the finished operation whose progress wrk reads.
fact("progress.operation", 0, "id:" + progressOperation)
if bulkOnly {
    await connection.close()
    try await client.shutdown().get()
    exit(0)
}

// MARK: - Small creates: many operations of 1-10 hosts at once, beside bus round trips of the same shape

// Each create names 1-10 inventory hosts that have no agent (they end undeliverable at once, so
// the figure is the create's: the nested resolve, the record writes, the dispatch, the confirms).
// The baseline sends the same number of bulk.get calls (one Redis read, a 404) the same way.
let creates = Int(env["BENCH_CREATES"] ?? "") ?? 5_000
let inFlight = 256
func concurrently(_ n: Int, width: Int, _ body: @escaping @Sendable (Int) async -> Bool) async -> (Duration, Int) {
    let start = clock.now
    let failures = await withTaskGroup(of: Bool.self) { group in
        var failures = 0
        var next = 0
        while next < min(width, n) {
            let i = next
            group.addTask { await body(i) }
            next += 1
        }
        for await ok in group {
            if !ok { failures += 1 }
            if next < n {
                let i = next
                group.addTask { await body(i) }
                next += 1
            }
        }
        return failures
    }
    return (clock.now - start, failures)
}
let (createTime, createFailures) = await concurrently(creates, width: inFlight) { i in
    let hosts = (0...(i % 10)).map { JSONValue.string(String(format: "bench-%07d", (i * 13 + $0 * 7919) % hostCount)) }
    return await bus.call(Route.bulkCreate, ["operation_type": "reboot", "selector": ["explicit_host_ids": .array(hosts)]]).status == 201
}
precondition(createFailures == 0, "\(createFailures) creates failed")
let (getTime, _) = await concurrently(creates, width: inFlight) { i in
    await bus.call(Route.bulkGet, ["id": .string("bench-missing-\(i)")]).status == 404
}
print("")
print("small creates (1-10 hosts each, \(inFlight) in flight, every dispatcher replica):")
print(
    String(
        format: "  %d bulk.create on the bus                    %.2f s (%.0f creates/s)", creates, ms(createTime) / 1000,
        Double(creates) / (ms(createTime) / 1000)))
print(
    String(format: "  baseline: %d bulk.get round trips            %.2f s (%.0f calls/s)", creates, ms(getTime) / 1000, Double(creates) / (ms(getTime) / 1000)))
fact("create_small.ours", Double(creates) / (ms(createTime) / 1000), "creates/s", count: creates)
fact("create_small.round_trips", Double(creates) / (ms(getTime) / 1000), "calls/s", count: creates)

// MARK: - Rollout controller overhead per batch, beside one bus round trip to the dispatcher

// 20 batches of 10 hosts from the simulated fleet, zero delay, a budget that never halts. The gap
// is from the last host result of batch k (`at` of its bulk.<op>.host event) to batch k+1 being
// out (`at` of rolling.<id>.batch, announced once bulk.dispatch answered): it includes the
// controller hearing the event, reading the counters and the batch, the compare-and-set, and the
// bulk.dispatch call itself. The baseline is that call alone: one bulk.dispatch round trip (for
// hosts already sent, so it only checks and answers), measured in the same run.
let rolloutHosts = (0..<200).map { JSONValue.string("\(simPrefix)-\($0)") }
let eventsQueue = "bench.events.\(UInt32.random(in: 0...UInt32.max))"
try await connection.declare(
    Topology(
        exchanges: [ExchangeDeclaration(name: BusNames.eventsExchange, kind: .topic)],
        queues: [QueueDeclaration(name: eventsQueue, durable: false, exclusive: true)],
        bindings: ["bulk.*.host", "rolling.*.batch", "rolling.*.finished"].map {
            BindingDeclaration(queue: eventsQueue, exchange: BusNames.eventsExchange, routingKey: $0)
        }))
let eventStream = try await connection.consume(queue: eventsQueue, prefetch: 1000)
let (rollStatus, rollout) = try await post(
    "/api/v1/fleet/rolling",
    [
        "operation_type": "reboot", "selector": ["explicit_host_ids": .array(rolloutHosts)],
        "batch_size": 10, "batch_delay_seconds": 0, "failure_threshold_pct": 100,
    ])
precondition(rollStatus == 201, "rolling create failed: \(rollStatus) \(rollout)")
let rolloutID = rollout["id"]!.stringValue!, rolloutOp = rollout["bulk_operation_id"]!.stringValue!
func stamp(_ e: JSONValue) -> Date? { e["at"]?.stringValue.flatMap { try? Date($0, strategy: .iso8601) } }
/// Runs `body` for at most `limit`; an unfinished body is cancelled (its consumer ends) and its partial answer kept.
func within<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async -> T) async -> T {
    let task = Task { await body() }
    let timer = Task {
        try await Task.sleep(for: limit)
        task.cancel()
    }
    let value = await task.value
    timer.cancel()
    return value
}
let (hostEnded, batchOut) = await within(.seconds(120)) { () -> ([String: Date], [Int: Date]) in
    var hostEnded: [String: Date] = [:], batchOut: [Int: Date] = [:]
    for await d in eventStream {
        d.ack()
        guard let e = JSONCoding.decode(d.body) else { continue }
        if d.routingKey == EventRoute.bulkHost(rolloutOp), let h = e["host_id"]?.stringValue { hostEnded[h] = stamp(e) }
        if d.routingKey == EventRoute.rollingBatch(rolloutID), let k = e["batch"]?.intValue { batchOut[Int(k)] = stamp(e) }
        if d.routingKey == EventRoute.rollingFinished(rolloutID) { break }
    }
    return (hostEnded, batchOut)
}
let ordered = rolloutHosts.compactMap(\.stringValue).sorted()
var gaps: [Double] = []
for k in 2...20 {
    guard let out = batchOut[k] else { continue }
    let lastOfPrevious = ordered[((k - 2) * 10)..<((k - 1) * 10)].compactMap { hostEnded[$0] }.max()
    if let lastOfPrevious { gaps.append(out.timeIntervalSince(lastOfPrevious) * 1000) }
}
var dispatchCalls: [Double] = []
for _ in 0..<200 {
    let t = clock.now
    _ = await bus.call(Route.bulkDispatch, ["id": .string(rolloutOp), "host_ids": .array(Array(rolloutHosts.prefix(10)))])
    dispatchCalls.append(ms(clock.now - t))
}
print("")
print("rollout controller, 20 batches x 10 simulated hosts, zero delay:")
print("  last result of batch k -> batch k+1 out (\(gaps.count) gaps)  \(percentiles(gaps))")
print("  baseline: one bulk.dispatch round trip         \(percentiles(dispatchCalls))")
fact("rollout_gap.p50", median(gaps), "ms", count: gaps.count)
fact("rollout_gap.p99", quantile(gaps, 0.99), "ms", count: gaps.count)
fact("rollout_gap.dispatch_p50", median(dispatchCalls), "ms", count: dispatchCalls.count)

// MARK: - Scheduler fire lag with 10,000 schedules due in the same minute

// Each schedule fires a reboot of one inventory host that has no agent (it fails undeliverable at
// once, so the figure is the scheduler's and the create's, not an agent's). Lag = the `at` of
// schedule.<id>.fired (announced once the operation exists) minus the fire instant. Baseline, same
// run: the same 10,000 bulk.create calls sent straight onto the bus, 500 at a time, as fast as the
// dispatcher takes them: the floor under the last fire's lag.
let scheduleCount = Int(env["BENCH_SCHEDULES"] ?? "") ?? 10_000
let firedQueue = "bench.fired.\(UInt32.random(in: 0...UInt32.max))"
try await connection.declare(
    Topology(
        queues: [QueueDeclaration(name: firedQueue, durable: false, exclusive: true)],
        bindings: [BindingDeclaration(queue: firedQueue, exchange: BusNames.eventsExchange, routingKey: "schedule.*.fired")]))
let firedStream = try await connection.consume(queue: firedQueue, prefetch: 2000)
let scheduleBody: JSONValue = ["name": "bench", "operation_type": "reboot", "selector": ["explicit_host_ids": ["bench-0000001"]], "cron": "* * * * *"]
func inParallel(_ n: Int, width: Int = 500, _ body: @escaping @Sendable (Int) async -> Void) async {
    for start in stride(from: 0, to: n, by: width) {
        await withTaskGroup(of: Void.self) { group in
            for i in start..<min(start + width, n) { group.addTask { await body(i) } }
        }
    }
}
// Created at least 15 s before a minute boundary, so all of them wait for the same instant.
let secondsIntoMinute = Date().timeIntervalSince1970.truncatingRemainder(dividingBy: 60)
if secondsIntoMinute > 30 { try await Task.sleep(for: .seconds(61 - secondsIntoMinute)) }
let scheduleIDs = (0..<scheduleCount).map { "bench-sched-\($0)" }
await inParallel(scheduleCount) { i in
    guard case .object(var o) = scheduleBody else { return }
    o["id"] = .string(scheduleIDs[i])
    _ = await bus.call(Route.schedulesCreate, .object(o))
}
let instant = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 / 60).rounded(.up) * 60)
let lags = await within(.seconds(300)) { () -> [Double] in
    var lags: [Double] = []
    for await d in firedStream {
        d.ack()
        guard let e = JSONCoding.decode(d.body), let at = stamp(e), let fireAt = e["fire_at"]?.stringValue.flatMap({ try? Date($0, strategy: .iso8601) }),
            fireAt == instant
        else { continue }
        lags.append(at.timeIntervalSince(fireAt) * 1000)
        if lags.count == scheduleCount { break }
    }
    return lags
}
await inParallel(scheduleCount) { i in _ = await bus.call(Route.schedulesDelete, ["id": .string(scheduleIDs[i])]) }
let directStart = clock.now
await inParallel(scheduleCount) { _ in
    _ = await bus.call(Route.bulkCreate, ["operation_type": "reboot", "selector": ["explicit_host_ids": ["bench-0000001"]]])
}
let direct = clock.now - directStart
print("")
print("scheduler (one replica), \(scheduleCount) schedules due in the same minute, fire instant -> operation created:")
print("  fire lag (\(lags.count) fires)                       \(percentiles(lags))   " + String(format: "last %.2f s", (lags.max() ?? 0) / 1000))
print(
    String(
        format: "  baseline: %d bulk.create straight on the bus   %.2f s (%.0f creates/s)", scheduleCount, ms(direct) / 1000,
        Double(scheduleCount) / (ms(direct) / 1000)))

fact("schedule_fire_lag.p50", median(lags) / 1000, "s", count: lags.count)
fact("schedule_fire_lag.p99", quantile(lags, 0.99) / 1000, "s", count: lags.count)
fact("schedule_fire_lag.direct_creates", ms(direct) / 1000, "s", count: scheduleCount)

await connection.close()
try await client.shutdown().get()
