import FleetBus
import FleetContracts
import FleetCore
import FleetRuntime
import Logging

/// The selector service's commands: the host inventory (its only writer) and selector resolution.
public struct SelectorHandlers: Sendable {
    let store: InventoryStore
    let cache: InventoryCache
    let context: ServiceContext
    static let defaultLimit = 100
    static let maxLimit = 1000

    public init(context: ServiceContext) {
        self.context = context
        var store = InventoryStore(redis: context.redis)
        if let n = context.config.environment["FLEET_HOST_CHANGES_MAXLEN"].flatMap(Int.init), n > 0 { store.maxStreamLength = n }
        self.store = store
        cache = InventoryCache(redis: context.redis, logger: context.logger)
    }

    public var routes: [String: CommandHandler] {
        [
            Route.hostsUpsert: { r in await answer(context.logger) { try await upsert(r) } },
            Route.hostsDelete: { r in await answer(context.logger) { try await delete(r) } },
            Route.hostsGet: { r in await answer(context.logger) { try await get(r) } },
            Route.hostsList: { r in await answer(context.logger) { try await list(r) } },
            Route.selectorResolve: { r in await answer(context.logger) { try await resolve(r) } },
        ]
    }

    /// `{"hosts": [...]}` for many (answers counts), or one host object (answers the host).
    func upsert(_ r: BusRequest) async throws -> JSONValue {
        if let many = r.body["hosts"] {
            guard r.body.objectValue?.count == 1, let items = many.arrayValue else {
                throw ValidationError("hosts", .invalidType, "send {\"hosts\": [host, ...]} or one host object")
            }
            var errors: [FieldError] = []
            var hosts: [FleetHost] = []
            for (i, item) in items.enumerated() {
                do throws(ValidationError) { hosts.append(try FleetHost(json: item, path: "hosts[\(i)]")) } catch { errors += error.errors }
            }
            if !errors.isEmpty { throw ValidationError(errors) }
            let created = try await store.upsert(hosts)
            await announce(["upserted": .int(Int64(hosts.count))])
            return ["upserted": .int(Int64(hosts.count)), "created": .int(Int64(created))]
        }
        let host = try FleetHost(json: r.body)
        _ = try await store.upsert([host])
        await announce(["upserted": .int(1), "host_ids": [.string(host.id)]])
        return host.json
    }

    func delete(_ r: BusRequest) async throws -> JSONValue {
        let id = try r.requiredString()
        guard try await store.delete(id) else { throw BusReplyError.notFound("no host '\(id)'") }
        await announce(["deleted": .int(1), "host_ids": [.string(id)]])
        return ["id": .string(id), "deleted": true]
    }

    func get(_ r: BusRequest) async throws -> JSONValue {
        let id = try r.requiredString()
        guard let host = try await store.get(id) else { throw BusReplyError.notFound("no host '\(id)'") }
        return host.json
    }

    /// Pages through hosts by id; `selector` (optional) filters them.
    func list(_ r: BusRequest) async throws -> JSONValue {
        let limit = try r.limit(default: Self.defaultLimit, max: Self.maxLimit)
        var ids: [String]?
        if let selectorJSON = r.body["selector"], selectorJSON != .null {
            let selector = try HostSelector(json: selectorJSON, path: "selector")
            ids = try await resolveSelection(selector, explain: false).hostIDs
        }
        let (hosts, next) = try await cache.page(after: r.string("cursor"), limit: limit, among: ids)
        return ["hosts": .array(hosts.map(\.json)), "next_cursor": next.map { .string($0) } ?? .null]
    }

    func resolve(_ r: BusRequest) async throws -> JSONValue {
        let selector = try HostSelector(json: r.body, extraKeys: ["explain", "partition_by_approval"])
        let explain = r.body["explain"]?.boolValue ?? false
        let s = try await resolveSelection(selector, explain: explain)
        var o: [String: JSONValue] = ["host_ids": .array(s.hostIDs.map { .string($0) }), "count": .int(Int64(s.count))]
        if !s.unknownHostIDs.isEmpty { o["unknown_host_ids"] = .array(s.unknownHostIDs.map { .string($0) }) }
        if r.body["partition_by_approval"]?.boolValue == true {
            o["not_approved_host_ids"] = .array(await cache.notApproved(s.hostIDs).map { .string($0) })
        }
        if let e = s.explanation {
            o["explanation"] = [
                "admitted": .array(
                    e.admitted.map { a in
                        ["host_id": .string(a.hostID), "admitted_by": .string(a.admittedBy), "clauses": .array(a.clauses.map { .string($0) })]
                    }),
                "rejected": .array(e.rejected.map { ["host_id": .string($0.hostID), "rejected_by": .string($0.rejectedBy)] }),
            ]
        }
        return .object(o)
    }

    private func resolveSelection(_ selector: HostSelector, explain: Bool) async throws -> Selection {
        let groups = selector.groups == nil ? nil : try await GroupRecords.load(context.redis).table
        return try await cache.resolve(selector, groups: groups, explain: explain)
    }

    /// `hosts.changed` on fleet.events, for listeners; losing one is harmless (the stream is the record).
    private func announce(_ body: JSONValue) async {
        let message = OutgoingMessage(
            exchange: BusNames.eventsExchange, routingKey: EventRoute.hostsChanged,
            body: JSONCoding.encode(body), properties: MessageProperties(contentType: "application/json", persistent: false))
        _ = try? await context.publisher.publish(message)
    }
}
