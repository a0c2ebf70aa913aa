import Testing

@testable import FleetCore

/// Each cap of docs/domain.md, "Selector limits": just under it is accepted, just over it is a 422
/// naming the field, whatever the nesting.
@Suite("selector limits")
struct SelectorLimitTests {
    let limits = SelectorLimits.standard

    func fields(_ json: JSONValue) -> [String] {
        do {
            _ = try compile(json)
            return []
        } catch {
            return (error as? ValidationError)?.errors.map { "\($0.field):\($0.code.rawValue)" } ?? ["\(error)"]
        }
    }

    static func conditions(_ n: Int) -> JSONValue {
        .array((0..<n).map { i in ["field": "fqdn", "op": "equals", "value": .string("h\(i)")] })
    }

    @Test func criteriaAreCountedAcrossNesting() {
        // `any` itself counts: 1 + 255 conditions is exactly the cap.
        #expect(fields(["criteria": [["any": Self.conditions(limits.maxCriteria - 1)]]]) == [])
        #expect(fields(["criteria": [["any": Self.conditions(limits.maxCriteria)]]]) == ["criteria:too_large"])
        #expect(fields(["criteria": [["not": ["all": Self.conditions(limits.maxCriteria)]]]]) == ["criteria:too_large"])
    }

    @Test func nestingDepthIsCapped() {
        func nested(_ depth: Int) -> JSONValue {
            var c: JSONValue = ["field": "fqdn", "op": "exists"]
            for _ in 1..<depth { c = ["not": c] }
            return ["criteria": [c]]
        }
        #expect(fields(nested(limits.maxDepth)) == [])
        let deep = fields(nested(limits.maxDepth + 1))
        #expect(deep.count == 1 && deep[0].hasSuffix(":too_large") && deep[0].hasPrefix("criteria[0]"), "\(deep)")
        // Far past the cap it is refused just the same, without reading the inside.
        #expect(fields(nested(2_000)).first?.hasSuffix(":too_large") == true)
    }

    @Test(arguments: ["explicit_host_ids", "exclude_host_ids"])
    func hostIDListsAreCapped(key: String) {
        let ids = { (n: Int) -> JSONValue in .array((0..<n).map { .string("h\($0)") }) }
        #expect(fields([key: ids(limits.maxHostIDs)]) == [])
        #expect(fields([key: ids(limits.maxHostIDs + 1)]) == ["\(key):too_large"])
    }

    @Test(arguments: ["platforms", "tags"])
    func shortcutListsAreCapped(key: String) {
        let list = { (n: Int) -> JSONValue in .array((0..<n).map { .string("v\($0)") }) }
        #expect(fields([key: list(limits.maxListEntries)]) == [])
        #expect(fields([key: list(limits.maxListEntries + 1)]) == ["\(key):too_large"])
    }

    @Test func inValuesAreCapped() {
        let values = JSONValue.array((0...limits.maxListEntries).map { .string("v\($0)") })
        #expect(fields(criterion("fqdn", "in", values)) == ["criteria[0].value:too_large"])
    }

    /// Counted in Unicode scalars, not grapheme clusters: 1,000 combining marks on one letter are
    /// one "character" to Swift and 1,001 to the limit.
    @Test func patternSizeIsCountedInUnicodeScalars() {
        let marks = "a" + String(repeating: "\u{0301}", count: 1_000)
        #expect(marks.count == 1)
        #expect(fields(criterion("fqdn", "matches", .string(marks))) == ["criteria[0].value:invalid_value"], "one pattern: 512 scalars")
        let each = String(repeating: "x", count: 500)
        let many = JSONValue.array((0..<9).map { _ in ["field": "fqdn", "op": "contains", "value": .string(each)] })
        #expect(fields(["criteria": many]) == ["criteria:too_large"], "9 x 500 scalars pass 4,096 together")
        #expect(fields(["criteria": .array(Array(many.arrayValue!.prefix(8)))]) == [])
    }

    /// Each pattern may expand to 20,000 NFA steps; all of one selector's together to 50,000.
    @Test func programStepsAreBudgetedPerSelector() {
        let big: JSONValue = ["field": "fqdn", "op": "matches", "value": "(?:abcdefghij){1000}"]  // about 10,000 steps
        #expect(fields(["criteria": .array(Array(repeating: big, count: 4))]) == [])
        #expect(fields(["criteria": .array(Array(repeating: big, count: 6))]) == ["criteria:too_large"])
    }

    /// Nested in an operation, the fields carry the prefix.
    @Test func pathsCarryTheEnclosingField() {
        do {
            _ = try HostSelector(json: ["tags": .array((0...limits.maxListEntries).map { .string("t\($0)") })], path: "selector")
            Issue.record("accepted")
        } catch {
            #expect(error.errors.map(\.field) == ["selector.tags"])
        }
    }
}
