// FleetCore benchmarks, each beside a baseline measured in the same run (median of 7):
// selector resolve through the index vs a full scan of every host, and the linear-time regex vs
// Foundation's backtracking NSRegularExpression.
import BenchFacts
import FleetCore
import Foundation

let clock = ContinuousClock()

func median(_ runs: Int = 7, _ body: () -> Void) -> Double {
    var samples: [Double] = []
    for _ in 0..<runs {
        let d = clock.measure(body)
        samples.append(Double(d.components.seconds) * 1e3 + Double(d.components.attoseconds) / 1e15)
    }
    return samples.sorted()[runs / 2]
}

func row(_ name: String, _ ours: Double, _ baselineName: String, _ baseline: Double) {
    let ratio = baseline / max(ours, 1e-9)
    print(String(format: "%-34@ %10.3f ms   %-28@ %10.3f ms   %8.1fx faster", name, ours, baselineName, baseline, ratio))
}

/// A deterministic inventory: platforms, tags, approval states and fqdns spread over `n` hosts.
func inventory(_ n: Int) -> [FleetHost] {
    let platforms = ["Linux", "Linux", "Linux", "Windows", "macOS", "FreeBSD"]
    let tags = ["webserver", "db", "cache", "edge", "batch", "prod", "staging"]
    return (0..<n).map { i in
        let json: JSONValue = [
            "id": .string(String(format: "host-%07d", i)), "platform": .string(platforms[i % platforms.count]),
            "fqdn": .string("host-\(i).\(i % 4 == 0 ? "prod" : "dev").dc\(i % 5).example.com"),
            "tags": .array([.string(tags[i % tags.count]), .string(tags[(i / 7) % tags.count])]),
            "approval_status": .string(i % 10 == 0 ? "pending" : "approved"), "cpu_cores": .int(Int64(1 << (i % 5))),
            "site_id": .string("site-\(i % 40)"),
        ]
        return try! FleetHost(json: json)
    }
}

let selectorJSON: JSONValue = [
    "criteria": [
        ["field": "fqdn", "op": "contains", "value": ".prod."],
        ["field": "cpu_cores", "op": "gte", "value": 4],
        ["field": "approval_status", "op": "equals", "value": "approved"],
    ],
    "tags": ["webserver"], "platforms": ["linux"],
]

print("FleetCore benchmarks (release build), median of 7 runs; ratio = baseline / ours, same run")
for n in [10_000, 100_000] {
    let index = InventoryIndex(inventory(n))
    let compiled = try CompiledSelector(HostSelector(json: selectorJSON))
    var fast = 0
    var slow = 0
    let ours = median { fast = index.select(compiled).count }
    let scan = median { slow = index.selectByFullScan(compiled).count }
    precondition(fast == slow, "index and scan disagree: \(fast) vs \(slow)")
    row("selector.resolve_\(n / 1000)k (\(fast) hits)", ours, "full scan, same predicates", scan)
    BenchFacts.record("select.resolve_\(n / 1000)k", ours, "ms", count: fast)
    BenchFacts.record("select.full_scan_\(n / 1000)k", scan, "ms", count: slow)
}

// An ordinary pattern over 100k fqdns: both engines, same inputs.
let fqdns = inventory(100_000).compactMap { h -> String? in if case .string(let s)? = h[.fqdn] { s.lowercased() } else { nil } }
let pattern = "^host-\\d+\\.prod\\.dc[0-2]"
let safe = try SafeRegex(pattern)
let ns = try NSRegularExpression(pattern: pattern, options: [.caseInsensitive])
var a = 0
var b = 0
let oursPlain = median { a = fqdns.filter { safe.search($0) }.count }
let nsPlain = median {
    b = fqdns.filter { ns.firstMatch(in: $0, range: NSRange($0.startIndex..., in: $0)) != nil }.count
}
precondition(a == b, "engines disagree: \(a) vs \(b)")
row("regex.plain_100k_fqdns", oursPlain, "NSRegularExpression", nsPlain)

// A hostile pattern: backtracking time doubles with each extra character; ours stays linear.
let hostile = try SafeRegex("(a+)+$")
let nsHostile = try NSRegularExpression(pattern: "(a+)+$", options: [.caseInsensitive])
for length in [16, 20, 22, 24] {
    let input = String(repeating: "a", count: length) + "!"
    var x = true
    var y = true
    let ours = median(3) { x = hostile.search(input) }
    let theirs = median(3) { y = nsHostile.firstMatch(in: input, range: NSRange(input.startIndex..., in: input)) != nil }
    precondition(x == y)
    row("regex.hostile_(a+)+$_len\(length)", ours, "NSRegularExpression", theirs)
}
let hostileHosts = InventoryIndex(
    (0..<100_000).map { try! FleetHost(json: ["id": .string("h\($0)"), "fqdn": .string(String(repeating: "a", count: 30) + "!")]) })
let hostileSelector = try CompiledSelector(HostSelector(json: ["criteria": [["field": "fqdn", "op": "matches", "value": "(a+)+$"]]]))
let hostileMs = median(3) { precondition(hostileHosts.select(hostileSelector).count == 0) }
print(
    String(
        format: "%-34@ %10.3f ms   (NSRegularExpression: one such host of 31 characters takes longer than this whole run)",
        "regex.hostile_(a+)+$_100k_hosts", hostileMs))
