import PropertyBased
import Testing

@testable import FleetCore

@Suite("failure domains")
struct FailureDomainsTests {
    let hosts: [(id: String, domain: String?)] = [
        ("a1", "rack-a"), ("a2", "rack-a"), ("a3", "rack-a"), ("b1", "rack-b"), ("b2", "rack-b"), ("c1", "rack-c"), ("x1", nil), ("x2", nil),
    ]

    @Test func interleavedBatchesTakeTheDomainsInTurnAndNeverTooManyOfOne() {
        let spread = FailureDomains(spreadBy: "facts.rack", maxPerDomain: 1)
        let (order, batches) = spread.arrange(hosts, sizes: { _ in 3 })
        #expect(batches.reduce(0, +) == 8 && Set(order) == Set(hosts.map(\.id)))
        #expect(Array(order.prefix(batches[0])) == ["a1", "b1", "c1"], "one of each, missing-field hosts last")
        for (k, range) in ranges(batches).enumerated() {
            let domains = order[range].map { id in hosts.first { $0.id == id }!.domain ?? "<none>" }
            #expect(Set(domains).count == domains.count, "batch \(k): at most one per domain, \(domains)")
        }
    }

    @Test func sequentialFinishesOneDomainBeforeTheNext() {
        let spread = FailureDomains(spreadBy: "site_id", maxPerDomain: 2, order: .sequential)
        let (order, batches) = spread.arrange(hosts, sizes: { _ in 5 })
        #expect(order == ["a1", "a2", "a3", "b1", "b2", "c1", "x1", "x2"])
        #expect(batches == [2, 1, 2, 1, 2], "each batch of one domain, at most 2; the batch size (5) only an upper bound")
    }

    @Test func theBatchSizeStillBoundsEachBatch() {
        let spread = FailureDomains(spreadBy: "platform", maxPerDomain: 100)
        let (_, batches) = spread.arrange(hosts, sizes: { k in k == 0 ? 1 : 3 })
        #expect(batches == [1, 3, 3, 1], "a canary of 1, then 3s")
    }

    @Test func keysAreSingleValuedFieldsOrFacts() throws {
        #expect(FailureDomains.Key("platform") == .field(.platform) && FailureDomains.Key("facts.rack") == .fact("rack"))
        #expect(
            FailureDomains.Key("tags") == nil && FailureDomains.Key("id") == nil && FailureDomains.Key("facts.") == nil && FailureDomains.Key("nope") == nil)
        let host = try FleetHost(json: ["id": "h", "platform": "Linux", "cpu_cores": 8, "facts": ["rack": "r7", "row": 3]])
        #expect(FailureDomains.Key("platform")?.value(of: host) == "Linux" && FailureDomains.Key("cpu_cores")?.value(of: host) == "8")
        #expect(FailureDomains.Key("facts.rack")?.value(of: host) == "r7" && FailureDomains.Key("facts.row")?.value(of: host) == "3")
        #expect(FailureDomains.Key("site_id")?.value(of: host) == nil)
    }

    @Test(
        arguments: [
            (["spread_by": "tags", "max_per_domain": 1], "spread_by"), (["spread_by": "platform"], "max_per_domain"),
            (["spread_by": "platform", "max_per_domain": 0], "max_per_domain"), (["max_per_domain": 2], "max_per_domain"),
            (["spread_by": "platform", "max_per_domain": 1, "domain_order": "random"], "domain_order"),
        ] as [([String: JSONValue], String)])
    func badSettingsNameTheirField(fields: [String: JSONValue], field: String) {
        var o = fields
        o["batch_size"] = 1
        do {
            _ = try RolloutSettings(json: o)
            Issue.record("accepted \(o)")
        } catch {
            #expect(error.errors.contains { $0.field == field }, "\(error)")
        }
    }

    /// Random fleets and caps: every host placed once, no batch over its size or over the cap of
    /// one domain, and sequential batches of one domain each.
    @Test func arrangingKeepsEveryRule() async {
        await propertyCheck(count: 300, input: Gen.int(in: 0...5).array(of: 0...60), Gen.int(in: 1...4), Gen.int(in: 1...6), Gen.bool) {
            ds, cap, size, sequential in
            let fleet = ds.enumerated().map { (id: "h\($0.offset)", domain: $0.element == 0 ? nil : "d\($0.element)") }
            let spread = FailureDomains(spreadBy: "site_id", maxPerDomain: cap, order: sequential ? .sequential : .interleaved)
            let (order, batches) = spread.arrange(fleet, sizes: { _ in size })
            #expect(order.sorted() == fleet.map(\.id).sorted())
            let domainOf = Dictionary(uniqueKeysWithValues: fleet.map { ($0.id, $0.domain ?? "") })
            for range in ranges(batches) {
                #expect(range.count >= 1 && range.count <= size)
                let counts = Dictionary(grouping: order[range], by: { domainOf[$0]! }).mapValues(\.count)
                #expect(counts.values.allSatisfy { $0 <= cap })
                if sequential { #expect(counts.count == 1) }
            }
        }
    }

    func ranges(_ batches: [Int]) -> [Range<Int>] {
        var start = 0
        return batches.map { n in
            defer { start += n }
            return start..<(start + n)
        }
    }
}
