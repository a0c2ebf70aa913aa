import FleetContracts
import FleetCore
import FleetMessaging
import FleetRuntime
import FleetTestSupport
import Testing

@Suite("groups service over the bus")
struct GroupsServiceTests {
    @Test func createUpdateHierarchyCycleAndDeleteReparent() async throws {
        let s = try await ServiceStack.shared.handle()
        let p = unique("grp")
        let top = await s.bus.call(Route.groupsUpsert, ["id": .string("\(p)-top"), "name": .string("\(p) Top")])
        #expect(top.status == 201, "\(top)")
        #expect(await s.bus.call(Route.groupsUpsert, ["id": .string("\(p)-mid"), "name": .string("\(p) Mid"), "parent_id": .string("\(p)-top")]).status == 201)
        #expect(
            await s.bus.call(Route.groupsUpsert, ["id": .string("\(p)-leaf"), "name": .string("\(p) Leaf"), "parent_id": .string("\(p)-mid")]).status == 201)

        // Update (200), not create.
        let renamed = await s.bus.call(Route.groupsUpsert, ["id": .string("\(p)-leaf"), "name": .string("\(p) Leaf 2"), "parent_id": .string("\(p)-mid")])
        #expect(renamed.status == 200)
        #expect(renamed.body?["name"] == .string("\(p) Leaf 2"))

        let cycle = await s.bus.call(Route.groupsUpsert, ["id": .string("\(p)-top"), "name": .string("\(p) Top"), "parent_id": .string("\(p)-leaf")])
        #expect(cycle.status == 409)
        #expect(cycle.error?.error == "group_cycle")
        let orphan = await s.bus.call(Route.groupsUpsert, ["name": .string("\(p) Orphan"), "parent_id": "no-such-parent"])
        #expect(orphan.status == 422)
        #expect(orphan.errorFields == ["parent_id"])
        let clash = await s.bus.call(Route.groupsUpsert, ["name": .string("\(p) TOP")])
        #expect(clash.status == 409)
        #expect(clash.error?.error == "group_name_taken")

        let children = await s.bus.call(Route.groupsList, ["parent_id": .string("\(p)-top")])
        #expect(children.body?["groups"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ["\(p)-mid"])

        let deleted = await s.bus.call(Route.groupsDelete, ["id": .string("\(p)-mid")])
        #expect(deleted.status == 200)
        #expect(deleted.body?["reparented"] == [.string("\(p)-leaf")])
        #expect(await s.bus.call(Route.groupsGet, ["id": .string("\(p)-leaf")]).body?["parent_id"] == .string("\(p)-top"))
        #expect(await s.bus.call(Route.groupsGet, ["id": .string("\(p)-mid")]).status == 404)
        #expect(await s.bus.call(Route.groupsDelete, ["id": .string("\(p)-mid")]).status == 404)
        let roots = await s.bus.call(Route.groupsList, ["parent_id": "root"])
        #expect(roots.body?["groups"]?.arrayValue?.contains { $0["id"] == .string("\(p)-top") } == true)
    }

    @Test func membershipIsLiveAndIncludesDescendants() async throws {
        let s = try await ServiceStack.shared.handle()
        let p = unique("mem")
        // Each setup reply checked, so a failure below says whether the setup or the membership went wrong.
        let all = await s.bus.call(Route.groupsUpsert, ["id": .string("\(p)-all"), "name": .string("\(p) all"), "host_ids": [.string("\(p)-pinned")]])
        #expect(all.status == 201, "\(all)")
        let dyn = await s.bus.call(
            Route.groupsUpsert,
            [
                "id": .string("\(p)-dyn"), "name": .string("\(p) dyn"), "parent_id": .string("\(p)-all"),
                "criteria": [["field": "tags", "op": "equals", "value": .string(p)]],
            ])
        #expect(dyn.status == 201, "\(dyn)")
        let pinned = await s.bus.call(Route.hostsUpsert, ["id": .string("\(p)-pinned")])
        #expect(pinned.status == 200, "\(pinned)")
        let members = await s.bus.call(Route.groupsHosts, ["id": .string("\(p)-all")])
        #expect(members.hostIDs == ["\(p)-pinned"], "\(members)")
        // A host registered now appears at once in the dynamic group and in its ancestor.
        _ = await s.bus.call(Route.hostsUpsert, ["id": .string("\(p)-new"), "tags": [.string(p)]])
        #expect(await s.bus.call(Route.groupsHosts, ["id": .string("\(p)-dyn")]).hostIDs == ["\(p)-new"])
        #expect(await s.bus.call(Route.groupsHosts, ["id": .string("\(p)-all")]).hostIDs == ["\(p)-new", "\(p)-pinned"])
        // And through the selector's groups shortcut.
        #expect(await s.bus.call(Route.selectorResolve, ["groups": [.string("\(p)-all")]]).body?["count"] == 2)
        #expect(await s.bus.call(Route.groupsHosts, ["id": "no-such-group"]).status == 404)
        // A deleted group is an unknown group to selectors.
        _ = await s.bus.call(Route.groupsDelete, ["id": .string("\(p)-dyn")])
        #expect(await s.bus.call(Route.selectorResolve, ["groups": [.string("\(p)-dyn")]]).status == 422)
    }
}
