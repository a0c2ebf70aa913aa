// Select latency through the gateway at 100,000 hosts, beside the same selector sent straight onto
// the bus (no HTTP) and resolved in-process (no bus): the three figures come from one run.
// Expects the selector, groups and gateway services running (scripts/bench.sh starts them).
import AsyncHTTPClient
import FleetBus
import FleetContracts
import FleetCore
import FleetRuntime
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
    ["id": .string(String(format: "bench-%07d", i)), "platform": .string(platforms[i % platforms.count]),
     "fqdn": .string("host-\(i).\(i % 4 == 0 ? "prod" : "dev").dc\(i % 5).example.com"),
     "tags": .array([.string(tags[i % tags.count]), .string(tags[(i / 7) % tags.count])]),
     "approval_status": .string(i % 10 == 0 ? "pending" : "approved"), "cpu_cores": .int(Int64(1 << (i % 5))),
     "site_id": .string("site-\(i % 40)")]
}
let selector: JSONValue = [
    "criteria": [["field": "fqdn", "op": "contains", "value": ".prod."], ["field": "cpu_cores", "op": "gte", "value": 4],
                 ["field": "approval_status", "op": "equals", "value": "approved"]],
    "tags": ["webserver"], "platforms": ["linux"],
]

let loadStart = clock.now
for start in stride(from: 0, to: hostCount, by: 5000) {
    let batch = JSONValue.array((start..<min(start + 5000, hostCount)).map(hostJSON))
    let (status, body) = try await post("/api/v1/fleet/hosts", ["hosts": batch])
    precondition(status == 200, "load failed: \(status) \(body)")
}
let loadTime = clock.now - loadStart
print(String(format: "loaded %d hosts through POST /hosts in %.1f s (%.0f hosts/s)", hostCount, ms(loadTime) / 1000,
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

print("select over \(hostCount) hosts (\(expected) hits), \(requests) sequential requests each, same run:")
print("  through the gateway (HTTP -> bus -> selector)  \(percentiles(viaHTTP))")
print("  straight onto the bus (no HTTP)                \(percentiles(viaBus))")
print("  in-process FleetCore resolve (no bus)          \(percentiles(inProcess))")
await connection.close()
try await client.shutdown()
