import PropertyBased
import Testing

@testable import FleetCore

/// Random hosts and random selectors over a small vocabulary (so that matches are common):
/// the indexed evaluation must equal a plain scan that checks every clause on every host.
@Suite("selector properties")
struct SelectorPropertyTests {
    static let platforms = ["Linux", "linux", "macOS", "Windows", "FreeBSD"]
    static let tags = ["web", "db", "prod", "Prod", "edge"]
    static let statuses = ["approved", "pending", "revoked"]

    static func makeHost(_ n: Int, _ platform: Int, _ tagIndexes: [Int], _ status: Int, _ cores: Int) -> FleetHost {
        let hostTags: [JSONValue] = tagIndexes.map { .string(tags[$0]) }
        let firstTag = tagIndexes.first.map { tags[$0] } ?? "none"
        let json: JSONValue = [
            "id": .string("h\(n)"), "platform": .string(platforms[platform]), "tags": .array(hostTags),
            "approval_status": .string(statuses[status]), "cpu_cores": .int(Int64(cores)), "active": .bool(cores % 2 == 0),
            "fqdn": .string("h\(n).\(firstTag).example"),
        ]
        return host(json)
    }

    /// Condition `kind` (0-6) with parameters `a` and `list`.
    static func makeCondition(_ kind: Int, _ a: Int, _ list: [Int]) -> JSONValue {
        let tag = JSONValue.string(tags[a % tags.count])
        switch kind {
        case 0: return ["field": "platform", "op": "equals", "value": .string(platforms[a % platforms.count])]
        case 1: return ["field": "tags", "op": "in", "value": .array(list.map { .string(tags[$0]) })]
        case 2: return ["field": "tags", "op": "not_equals", "value": tag]
        case 3: return ["field": "cpu_cores", "op": "gte", "value": .int(Int64(a % 16 + 1))]
        case 4: return ["field": "fqdn", "op": "matches", "value": .string("^h\\d+\\.\(tags[a % tags.count])")]
        case 5: return ["field": "active", "op": "equals", "value": .bool(a % 2 == 0)]
        default:
            let either: [JSONValue] = [
                ["field": "approval_status", "op": "equals", "value": .string(statuses[a % statuses.count])],
                ["field": "platform", "op": "equals", "value": "windows"],
            ]
            return ["any": .array(either)]
        }
    }

    static func makeSelector(_ conditions: [[Int]], _ platformList: [Int], _ tagList: [Int], _ explicit: [Int], _ exclude: [Int]) -> JSONValue {
        var o: [String: JSONValue] = [:]
        o["criteria"] = .array(conditions.map { c in makeCondition(c[0], c[1], Array(c.dropFirst(2))) })
        // An empty shortcut list is left out, so that selectors with no shortcut occur too.
        if !platformList.isEmpty { o["platforms"] = .array(platformList.map { .string(platforms[$0]) }) }
        if !tagList.isEmpty { o["tags"] = .array(tagList.map { .string(tags[$0]) }) }
        o["explicit_host_ids"] = .array(explicit.map { .string("h\($0)") })
        o["exclude_host_ids"] = .array(exclude.map { .string("h\($0)") })
        return .object(o)
    }

    static let hostGen = zip(
        Gen.int(in: 0...40), Gen.int(in: 0...4), Gen.int(in: 0...4).array(of: 0...3),
        Gen.int(in: 0...2), Gen.int(in: 1...16)
    ).map(makeHost)

    /// Each condition: [kind, a, list...] where list entries index the tag vocabulary.
    static let conditionGen = Gen.int(in: 0...4).array(of: 3...5).map { raw -> [Int] in [raw[0] + (raw[1] % 3), raw[1] * 7 + raw[2]] + raw.dropFirst(2) }

    static let selectorGen = zip(
        conditionGen.array(of: 0...3), Gen.int(in: 0...4).array(of: 0...2), Gen.int(in: 0...4).array(of: 0...2),
        Gen.int(in: 0...40).array(of: 0...3), Gen.int(in: 0...40).array(of: 0...2)
    ).map(makeSelector)

    @Test func indexedSelectionEqualsBruteForceScan() async {
        await propertyCheck(count: 300, input: Self.hostGen.array(of: 0...60), Self.selectorGen) { hosts, selectorJSON in
            let index = InventoryIndex(hosts)
            let compiled = try! compile(selectorJSON)
            let fast = index.select(compiled)
            let scan = index.selectByFullScan(compiled)
            #expect(fast == scan)
            // In slices of any size, as a budgeted caller runs it: the same answer.
            var run = index.selection(compiled)
            var slices = 0
            while !run.isDone {
                run.step(hosts: 1 + slices % 3)
                slices += 1
            }
            #expect(run.result() == fast)

            // And the scan itself against first principles: a dictionary, no InventoryIndex at all.
            let inventory = Dictionary(hosts.map { ($0.id, $0) }, uniquingKeysWith: { _, last in last })
            var expected = Set<String>()
            if compiled.criteriaEnabled {
                for h in inventory.values where compiled.clauses.allSatisfy({ $0.predicate.holds(for: HostRecord(h)) }) {
                    expected.insert(h.id)
                }
            }
            expected.formUnion(compiled.explicitIDs.filter { inventory[$0] != nil })
            expected.subtract(compiled.excludedIDs)
            #expect(scan.hostIDs == expected.sorted())
        }
    }
}
