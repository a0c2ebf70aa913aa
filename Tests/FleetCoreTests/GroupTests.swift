import Testing

@testable import FleetCore

@Suite("host groups")
struct GroupTests {
    func group(_ id: String, parent: String? = nil, hosts: [String] = [], criteria: [Criterion] = [], name: String? = nil) -> HostGroup {
        HostGroup(id: id, name: name ?? "Group \(id)", parentID: parent, hostIDs: hosts, criteria: criteria)
    }

    @Test func membershipIsExplicitUnionCriteriaUnionDescendants() throws {
        let linux = Criterion.condition(field: "platform", op: .equals, value: "linux")
        let table = GroupTable([
            group("root", hosts: ["win-1", "ghost"]),
            group("linux", parent: "root", criteria: [linux]),
            group("db", parent: "linux", hosts: ["db-1"]),
        ])
        let members = table.effectiveMembers(in: InventoryIndex(sampleHosts))
        #expect(members["db"] == ["db-1"])
        #expect(members["linux"] == ["web-1", "web-2", "db-1"])
        #expect(members["root"] == ["win-1", "web-1", "web-2", "db-1"], "ghost does not exist, so it is not a member")
        #expect(table.effectiveMembers(of: "linux", in: InventoryIndex(sampleHosts)) == members["linux"])
        #expect(table.effectiveMembers(of: "nope", in: InventoryIndex(sampleHosts)) == nil)
    }

    @Test func newlyRegisteredHostJoinsDynamicGroupAtOnce() {
        let table = GroupTable([group("prod", criteria: [.condition(field: "tags", op: .equals, value: "prod")])])
        var index = InventoryIndex(sampleHosts)
        #expect(table.effectiveMembers(in: index)["prod"] == ["web-1", "db-1"])
        index.upsert(host(["id": "new-1", "tags": ["PROD"]]))
        #expect(table.effectiveMembers(in: index)["prod"] == ["web-1", "db-1", "new-1"])
    }

    @Test func cyclesAreRefusedWith409() throws {
        var table = GroupTable([group("a"), group("b", parent: "a"), group("c", parent: "b")])
        for parent in ["a", "b", "c"] {  // itself, a child, a grandchild
            do {
                try table.upsert(group("a", parent: parent))
                Issue.record("expected a cycle for parent \(parent)")
            } catch let e as ConflictError {
                #expect(e.code == "group_cycle")
            }
        }
        try table.upsert(group("c", parent: "a"))  // moving sideways is fine
        #expect(table.groups["c"]?.parentID == "a")
    }

    @Test func unknownParentIs422AndNamesAreUniqueIgnoringCase() throws {
        var table = GroupTable([group("a", name: "Web Servers")])
        #expect(throws: ValidationError.self) { try table.upsert(group("b", parent: "missing")) }
        do {
            try table.upsert(group("b", name: "web servers"))
            Issue.record("expected a name clash")
        } catch let e as ConflictError {
            #expect(e.code == "group_name_taken")
        }
        try table.upsert(group("a", name: "WEB SERVERS"))  // renaming itself is fine
    }

    @Test func deleteReparentsChildrenToTheDeletedGroupsParent() throws {
        var table = GroupTable([group("top"), group("mid", parent: "top"), group("x", parent: "mid"), group("y", parent: "mid"), group("z", parent: "x")])
        let moved = try table.delete("mid")
        #expect(Set(moved.map(\.id)) == ["x", "y"])
        #expect(table.groups["x"]?.parentID == "top")
        #expect(table.groups["z"]?.parentID == "x", "grandchildren keep their parent")
        _ = try table.delete("top")
        #expect(table.groups["x"]?.parentID == nil, "children of a top-level group move to the top level")
        #expect(throws: ConflictError.self) { _ = try table.delete("top") }
    }

    @Test func decodingNamesTheWrongField() {
        let cases: [(JSONValue, String)] = [
            (["id": "g"], "name"), (["name": "  "], "name"), (["name": "ok", "colour": 1], "colour"),
            (["name": "ok", "host_ids": ["bad id"]], "host_ids[0]"),
            (["name": "ok", "criteria": [["field": "nope", "op": "equals", "value": 1]]], "criteria[0].field"),
            (["name": "ok", "parent_id": 3], "parent_id"), (["name": "ok", "id": "bad id"], "id"),
        ]
        for (json, field) in cases {
            do {
                _ = try HostGroup(json: json, defaultID: "g-1")
                Issue.record("expected an error at \(field)")
            } catch {
                #expect(error.errors.contains { $0.field == field }, "\(error)")
            }
        }
        #expect((try? HostGroup(json: ["name": "ok"], defaultID: "g-1"))?.id == "g-1")
    }
}

@Suite("group JSON")
struct GroupJSONTests {
    @Test func roundTripsThroughJSON() throws {
        let g = HostGroup(
            id: "g-1", name: "Web", description: "front", parentID: "root", hostIDs: ["a", "b"],
            criteria: [.any([.condition(field: "tags", op: .in, value: ["web"]), .not(.condition(field: "fqdn", op: .exists, value: true))])])
        #expect(try HostGroup(json: g.json, defaultID: "other") == g)
    }
}
