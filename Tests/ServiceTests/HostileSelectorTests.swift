import FleetBus
import FleetContracts
import FleetCore
import FleetMessaging
import FleetRuntime
import FleetTestSupport
import Foundation
import Testing

/// The attack of issue 19, replayed: 20 hostile selects at once (half over the caps, half within
/// them and as costly as the caps allow) while a normal client keeps selecting. A selector of its
/// own (vhost and Redis database of slot 4), in a phase of its own in `make test`, so the figures
/// are its alone.
@Suite("hostile selectors", .serialized)
struct HostileSelectorTests {
    static let hosts = 800
    static let budgetMs = 1_000

    /// 3,000 `matches` clauses: refused by the criteria cap before anything compiles.
    static let overCap: JSONValue = [
        "criteria": [["any": .array((0..<3_000).map { i in ["field": "fqdn", "op": "matches", "value": .string("(a|aa)+\(i)$")] })]]
    ]
    /// Within every cap and as dear as they allow: patterns that keep a thousand NFA states alive
    /// at every character of every host's fqdn, on an unindexed field.
    static let withinCaps: JSONValue = [
        "criteria": [["any": .array((0..<15).map { i in ["field": "fqdn", "op": "matches", "value": .string("(?:.?){1000}z\(i)")] })]]
    ]

    /// The resident memory of the service a ServiceProcess watchdog started.
    static func rssKB(_ watchdog: pid_t) -> Int {
        let children = (try? String(contentsOfFile: "/proc/\(watchdog)/task/\(watchdog)/children", encoding: .utf8)) ?? ""
        guard let pid = children.split(separator: " ").first else { return 0 }
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    static func timed(_ bus: BusClient, _ body: JSONValue) async -> (BusReply, Duration) {
        let start = ContinuousClock.now
        let reply = await bus.call(Route.selectorResolve, body)
        return (reply, ContinuousClock.now - start)
    }

    static func median(_ ds: [Duration]) -> Duration { ds.sorted()[ds.count / 2] }

    @Test func normalSelectsKeepAnsweringThroughAHostileBurst() async throws {
        let stack = try await IsolatedStack.make(slot: 4)
        defer { Task { await stack.close() } }
        let bus = stack.bus
        let env = stack.environment.merging(["FLEET_SELECTOR_BUDGET_MS": String(Self.budgetMs), "FLEET_METRICS_PORT": "0"]) { $1 }
        let selector = try ServiceProcess("fleet-selector", environment: env)
        defer { selector.stop() }
        try await ServiceStack.waitUntilReady(bus, .selector)
        let hosts: [JSONValue] = (0..<Self.hosts).map { k in
            ["id": .string("hs-\(k)"), "fqdn": .string("hs-\(k).hostile.example.com"), "tags": ["hs"], "approval_status": "approved"]
        }
        #expect(await bus.call(Route.hostsUpsert, HostsUpsert(hosts: hosts).json).status == 200)
        let normal: JSONValue = ["tags": ["hs"]]

        var baseline: [Duration] = []
        for _ in 0..<20 {
            let (reply, took) = await Self.timed(bus, normal)
            #expect(reply.body?["count"] == .int(Int64(Self.hosts)))
            baseline.append(took)
        }
        let rssBefore = Self.rssKB(selector.pid)
        #expect(rssBefore > 0, "the selector's memory is readable")

        let burstStart = ContinuousClock.now
        async let hostile: [(BusReply, Duration)] = withTaskGroup(of: (BusReply, Duration).self) { group in
            for i in 0..<20 { group.addTask { await Self.timed(bus, i % 2 == 0 ? Self.overCap : Self.withinCaps) } }
            var all: [(BusReply, Duration)] = []
            for await r in group { all.append(r) }
            return all
        }
        var during: [Duration] = []
        var normalStatuses: [Int] = []
        try await Task.sleep(for: .milliseconds(200))  // the burst is in
        for _ in 0..<20 {
            let (reply, took) = await Self.timed(bus, normal)
            normalStatuses.append(reply.status)
            during.append(took)
        }
        let answers = await hostile
        let burstTook = ContinuousClock.now - burstStart
        let rssAfter = Self.rssKB(selector.pid)

        print(
            "hostile selectors: normal select median \(Self.median(baseline)) alone, \(Self.median(during)) during the burst "
                + "(max \(during.max()!)); burst over in \(burstTook); selector RSS \(rssBefore / 1024) -> \(rssAfter / 1024) MiB")
        #expect(normalStatuses.allSatisfy { $0 == 200 }, "\(normalStatuses)")
        // A small multiple of the usual latency (before: 504 after 10 s, for minutes).
        #expect(Self.median(during) <= Self.median(baseline) * 10 + .milliseconds(100), "\(during)")
        #expect(during.max()! < .seconds(3), "\(during)")
        let codes = answers.map { $0.0.error?.details.first?.code }
        #expect(answers.filter { $0.0.status == 422 }.count == 20, "\(answers.map(\.0.status))")
        #expect(codes.filter { $0 == .tooLarge }.count == 10, "the over-cap ones, at once: \(codes)")
        #expect(codes.filter { $0 == .tooExpensive }.count == 10, "the costly ones, at their budget: \(codes)")
        // Each waited at most its budget (in the lane or evaluating), plus the round trip.
        #expect(answers.allSatisfy { $0.1 < .milliseconds(Self.budgetMs) + .seconds(3) }, "\(answers.map(\.1))")
        #expect(rssAfter - rssBefore < 256 * 1024, "selector RSS grew from \(rssBefore) to \(rssAfter) KiB")

        // SIGTERM in the middle of costly selects: it drains within the budget, not never.
        async let more: [Int] = withTaskGroup(of: Int.self) { group in
            for _ in 0..<5 { group.addTask { await bus.call(Route.selectorResolve, Self.withinCaps).status } }
            var all: [Int] = []
            for await s in group { all.append(s) }
            return all
        }
        try await Task.sleep(for: .milliseconds(300))
        let stopStart = ContinuousClock.now
        let status = await selector.terminate()
        let stopTook = ContinuousClock.now - stopStart
        _ = await more
        print("hostile selectors: SIGTERM mid-burst drained in \(stopTook)")
        #expect(status == 0)
        #expect(stopTook < .seconds(15), "drained in \(stopTook)")
    }
}
