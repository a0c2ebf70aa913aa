// Select latency through the gateway at 100,000 hosts, beside the same selector sent straight onto
// the bus (no HTTP) and resolved in-process (no bus): the three figures come from one run.
// Expects the selector, groups and gateway services running (scripts/bench.sh starts them).
import AsyncHTTPClient
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
let client = HTTPClient(eventLoopGroupProvider: .singleton)

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
let selector: JSONValue = [
    "criteria": [
        ["field": "fqdn", "op": "contains", "value": ".prod."], ["field": "cpu_cores", "op": "gte", "value": 4],
        ["field": "approval_status", "op": "equals", "value": "approved"],
    ],
    "tags": ["webserver"], "platforms": ["linux"],
]

let loadStart = clock.now
for start in stride(from: 0, to: hostCount, by: 5000) {
    let batch = JSONValue.array((start..<min(start + 5000, hostCount)).map(hostJSON))
    let (status, body) = try await post("/api/v1/fleet/hosts", ["hosts": batch])
    precondition(status == 200, "load failed: \(status) \(body)")
}
let loadTime = clock.now - loadStart
print(
    String(
        format: "loaded %d hosts through POST /hosts in %.1f s (%.0f hosts/s)", hostCount, ms(loadTime) / 1000,
        Double(hostCount) / (ms(loadTime) / 1000)))

// Warm up (the first resolve of a replica loads the inventory).
var expected = -1
for _ in 0..<5 { expected = Int(try await post("/api/v1/fleet/select", selector).1["count"]?.intValue ?? -1) }

var viaHTTP: [Double] = []
for _ in 0..<requests {
    let t = clock.now
    let (status, body) = try await post("/api/v1/fleet/select", selector)
    viaHTTP.append(ms(clock.now - t))
    precondition(status == 200 && body["count"]?.intValue == Int64(expected))
}

let connection = try await AMQPConnection.connect(url: env["FLEET_AMQP_URL"] ?? "amqp://guest:guest@127.0.0.1:5672/%2f", name: "bench")
let bus = BusClient(rpc: try await RPCClient.start(on: connection), timeout: .seconds(30))
var viaBus: [Double] = []
for _ in 0..<requests {
    let t = clock.now
    let reply = await bus.call(Route.selectorResolve, selector)
    viaBus.append(ms(clock.now - t))
    precondition(reply.status == 200 && reply.body?["count"]?.intValue == Int64(expected))
}

let index = InventoryIndex((0..<hostCount).map { try! FleetHost(json: hostJSON($0)) })
let compiled = try CompiledSelector(HostSelector(json: selector))
var inProcess: [Double] = []
for _ in 0..<requests {
    let t = clock.now
    precondition(index.select(compiled).count == expected)
    inProcess.append(ms(clock.now - t))
}

print(
    "select over \(hostCount) hosts (plus the simulated fleet, which the selector excludes; \(expected) hits), \(requests) sequential requests each, same run:")
print("  through the gateway (HTTP -> bus -> selector)  \(percentiles(viaHTTP))")
print("  straight onto the bus (no HTTP)                \(percentiles(viaBus))")
print("  in-process FleetCore resolve (no bus)          \(percentiles(inProcess))")

// MARK: - A bulk operation over 10,000 simulated zero-latency hosts, beside the raw ceiling

let simulated = Int(env["BENCH_SIM_HOSTS"] ?? "") ?? 10_000
let simPrefix = env["BENCH_SIM_PREFIX"] ?? "benchsim"
let registered = await { () -> Bool in
    let deadline = clock.now + .seconds(300)
    while clock.now < deadline {
        if await bus.call(Route.selectorResolve, ["tags": [.string(simPrefix)]]).body?["count"]?.intValue == Int64(simulated) { return true }
        try? await Task.sleep(for: .milliseconds(200))
    }
    return false
}()
precondition(registered, "the simulated fleet did not register \(simulated) hosts")

let bulkStart = clock.now
let (createStatus, created) = try await post("/api/v1/fleet/bulk", ["operation_type": "reboot", "selector": ["tags": [.string(simPrefix)]]])
precondition(createStatus == 201, "bulk create failed: \(createStatus) \(created)")
let opID = created["id"]!.stringValue!
var done = false
while !done {
    var request = HTTPClientRequest(url: base + "/api/v1/fleet/bulk/\(opID)/progress")
    request.headers.add(name: "Authorization", value: "Bearer \(token)")
    let response = try await client.execute(request, timeout: .seconds(30))
    let progress = JSONCoding.decode(Array(try await response.body.collect(upTo: 1 << 20).readableBytesView)) ?? .null
    done = progress["succeeded"]?.intValue == Int64(simulated)
    if !done { try await Task.sleep(for: .milliseconds(20)) }
}
let bulkTime = clock.now - bulkStart

// The ceiling: the same traffic with no service logic: 2 x N messages published with confirms and
// consumed with acks (commands out, results back), and N Redis script calls (one per transition).
let ceilingQueue = "bench.ceiling.\(UInt32.random(in: 0...UInt32.max))"
try await connection.declare(Topology(queues: [QueueDeclaration(name: ceilingQueue, durable: false, exclusive: true)]))  // gone with the connection
let redisClient = try await FleetStore.RedisClient.connect(url: env["FLEET_REDIS_URL"] ?? "redis://127.0.0.1:6379/0")
let script = FleetStore.RedisScript("return redis.call('HINCRBY', KEYS[1], ARGV[1], 1)")
let ceilingStart = clock.now
for _ in 0..<2 {
    for start in stride(from: 0, to: simulated, by: 1000) {
        let batch = (start..<min(start + 1000, simulated)).map { OutgoingMessage(exchange: "", routingKey: ceilingQueue, body: Array("{\"host\":\($0)}".utf8)) }
        let confirmed = await connection.publish(batch: batch)
        precondition(confirmed.allSatisfy { (try? $0.get()) != nil })
    }
    let consumer = try await connection.consume(queue: ceilingQueue, prefetch: 500)
    var got = 0
    for await d in consumer {
        d.ack()
        got += 1
        if got == simulated { break }
    }
    consumer.cancel()
}
try await withThrowingTaskGroup(of: Void.self) { group in
    for i in 0..<simulated {
        group.addTask { _ = try await redisClient.eval(script, keys: ["bench:ceiling:{x}"], arguments: [String(i % 5)]) }
        if i % 500 == 499 { try await group.waitForAll() }
    }
    try await group.waitForAll()
}
let ceilingTime = clock.now - ceilingStart
_ = try await redisClient.send("DEL", "bench:ceiling:{x}")
redisClient.close()
print("")
print(
    String(
        format: "bulk operation over %d simulated zero-latency hosts, POST /bulk to the last result: %.2f s (%.0f hosts/s)",
        simulated, ms(bulkTime) / 1000, Double(simulated) / (ms(bulkTime) / 1000)))
print(
    String(
        format: "raw ceiling, same run (2 x %d messages published+consumed, %d Redis script calls, no service logic): %.2f s  -> ours is %.1fx the ceiling",
        simulated, simulated, ms(ceilingTime) / 1000, ms(bulkTime) / ms(ceilingTime)))

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

await connection.close()
try await client.shutdown().get()
