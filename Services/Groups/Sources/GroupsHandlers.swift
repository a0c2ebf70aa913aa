import FleetContracts
import FleetCore
import FleetMessaging
import FleetRuntime

/// The groups service's commands. It owns the group records; membership is resolved by the
/// selector service, which owns the inventory.
public struct GroupsHandlers: Sendable {
    let store: GroupStore
    let context: ServiceContext

    public init(context: ServiceContext) {
        self.context = context
        store = GroupStore(redis: context.redis)
    }

    public var routes: [String: CommandHandler] {
        [
            Route.groupsUpsert: { r in await upsert(r) },
            Route.groupsGet: { r in await answer(context.logger) { try await get(r) } },
            Route.groupsList: { r in await answer(context.logger) { try await list(r) } },
            Route.groupsDelete: { r in await answer(context.logger) { try await delete(r) } },
            Route.groupsHosts: { r in await hosts(r) },
        ]
    }

    /// Creates (201) or updates (200) a group; the body's `id` is optional on create.
    func upsert(_ r: BusRequest) async -> BusReply {
        var created = false
        let reply = await answer(context.logger) {
            let group = try HostGroup(json: r.body, defaultID: newID(prefix: "g-"))
            created = try await store.update { table in
                let isNew = table.groups[group.id] == nil
                try table.upsert(group)
                return (isNew, [.set(group)])
            }
            return group.json
        }
        return created && reply.status == 200 ? BusReply(status: 201, body: reply.body, error: nil) : reply
    }

    func get(_ r: BusRequest) async throws -> JSONValue {
        let id = try r.requiredString()
        guard let g = try await GroupRecords.load(context.redis).table.groups[id] else { throw BusReplyError.notFound("no group '\(id)'") }
        return g.json
    }

    /// All groups, or the children of `parent_id` (`root` for top-level ones), by id.
    func list(_ r: BusRequest) async throws -> JSONValue {
        let limit = try r.limit(default: 500, max: 1000)
        let cursor = try r.cursor()
        let table = try await GroupRecords.load(context.redis).table
        var groups: [HostGroup]
        switch r.body["parent_id"] {
        case nil, .null?: groups = table.groups.values.sorted { $0.id < $1.id }
        case .string("root")?: groups = table.children(of: nil)
        case .string(let parent)?: groups = table.children(of: parent)
        default: throw ValidationError("parent_id", .invalidType, "parent_id must be a group id or \"root\"")
        }
        // By id, so the cursor is the last id of the page before.
        groups = groups.sorted { $0.id < $1.id }.filter { g in cursor.map { g.id > $0 } ?? true }
        let page = groups.prefix(limit)
        return GroupList(groups: page.map(\.json), nextCursor: groups.count > limit ? page.last?.id : nil).json
    }

    /// Deletes a group and moves its children to its parent, in one write.
    func delete(_ r: BusRequest) async throws -> JSONValue {
        let id = try r.requiredString()
        let moved = try await store.update { table in
            let children = try table.delete(id)
            return (children, [.delete(id)] + children.map { .set($0) })
        }
        return Deleted(id: id, reparented: moved.map(\.id)).json
    }

    /// Effective membership against the live inventory, asked of the selector service.
    func hosts(_ r: BusRequest) async -> BusReply {
        guard let id = r.string("id"), !id.isEmpty else { return .validation(ValidationError("id", .required, "id is required")) }
        switch await context.bus.call(Route.selectorResolve, ResolveRequest(selector: ["groups": [.string(id)]]), replying: ResolveReply.self) {
        case .success(let resolved): return .ok(resolved.json)
        case .failure(let failure) where failure.reply.status == 422 && failure.reply.error?.details.first?.code == .unknownGroup:
            return .failure(404, "not_found", "no group '\(id)'")
        case .failure(let failure): return failure.reply
        }
    }

}
