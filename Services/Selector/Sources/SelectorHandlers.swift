import FleetBus
import FleetContracts
import FleetCore
import FleetMessaging
import FleetRuntime
import Logging

/// The selector service's commands: the host inventory (its only writer) and selector resolution.
public struct SelectorHandlers: Sendable {
    let store: InventoryStore
    let cache: InventoryCache
    let context: ServiceContext
    /// How long one resolve may evaluate, in ms (`FLEET_SELECTOR_BUDGET_MS`, default 2000).
    let budgetMs: Int
    let lane = EvaluationLane(width: 1)
    static let defaultLimit = 100
    static let maxLimit = 1000

    public init(context: ServiceContext) {
        self.context = context
        var store = InventoryStore(redis: context.redis)
        if let n = context.config.environment["FLEET_HOST_CHANGES_MAXLEN"].flatMap(Int.init), n > 0 { store.maxStreamLength = n }
        self.store = store
        cache = InventoryCache(redis: context.redis, logger: context.logger)
        budgetMs = context.config.environment["FLEET_SELECTOR_BUDGET_MS"].flatMap(Int.init).map { max(1, $0) } ?? 2_000
    }

    public var routes: [String: CommandHandler] {
        [
            Route.hostsUpsert: { r in await answer(context.logger) { try await upsert(r) } },
            Route.hostsDelete: { r in await answer(context.logger) { try await delete(r) } },
            Route.hostsGet: { r in await answer(context.logger) { try await get(r) } },
            Route.hostsList: { r in await answer(context.logger) { try await list(r) } },
            Route.hostsReport: { r in
                await answer(context.logger) {
                    let facts = try HostReport(json: r.body)
                    try r.requireSender(speaksFor: [facts.id])
                    return try await report(facts)
                }
            },
            Route.selectorResolve: { r in await answer(context.logger) { try await resolve(r).json } },
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
            await announce(HostsChanged(upserted: hosts.count))
            return HostsUpserted(upserted: hosts.count, created: created).json
        }
        let host = try FleetHost(json: r.body)
        _ = try await store.upsert([host])
        await announce(HostsChanged(upserted: 1, hostIDs: [host.id]))
        return host.json
    }

    /// An agent's detected facts replace those stored; what the operator set stays. A host not
    /// yet known is created from them (and is `pending` until approved).
    func report(_ report: HostReport) async throws -> JSONValue {
        var record = try await store.get(report.id)?.json.objectValue ?? [:]
        for (key, value) in report.json.objectValue ?? [:] { record[key] = value }
        let host = try FleetHost(json: .object(record))
        _ = try await store.upsert([host])
        await announce(HostsChanged(upserted: 1, hostIDs: [host.id]))
        return host.json
    }

    func delete(_ r: BusRequest) async throws -> JSONValue {
        let id = try r.requiredString()
        guard try await store.delete(id) else { throw BusReplyError.notFound("no host '\(id)'") }
        await announce(HostsChanged(deleted: 1, hostIDs: [id]))
        return Deleted(id: id).json
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
        let (hosts, next) = try await cache.page(after: r.cursor(), limit: limit, among: ids)
        return HostsPage(hosts: hosts.map(\.json), nextCursor: next).json
    }

    func resolve(_ r: BusRequest) async throws -> ResolveReply {
        let selector = try HostSelector(json: r.body, extraKeys: ResolveRequest.optionKeys)
        let options = try ResolveRequest(body: r.body)
        let s = try await resolveSelection(selector, explain: options.explain)
        var reply = ResolveReply(hostIDs: s.hostIDs, unknownHostIDs: s.unknownHostIDs.isEmpty ? nil : s.unknownHostIDs)
        if options.partitionByApproval { reply.notApprovedHostIDs = await cache.notApproved(s.hostIDs) }
        if let key = options.domainOf.flatMap(FailureDomains.Key.init) { reply.domains = await cache.domains(s.hostIDs, key) }
        if let e = s.explanation {
            reply.explanation = ResolveReply.Explanation(
                admitted: e.admitted.map { ResolveReply.Admitted(hostID: $0.hostID, admittedBy: $0.admittedBy, clauses: $0.clauses) },
                rejected: e.rejected.map { ResolveReply.Rejected(hostID: $0.hostID, rejectedBy: $0.rejectedBy) })
        }
        return reply
    }

    private func resolveSelection(_ selector: HostSelector, explain: Bool) async throws -> Selection {
        let groups = selector.groups == nil ? nil : try await GroupRecords.load(context.redis).table
        return try await cache.resolve(selector, groups: groups, explain: explain, budget: EvaluationBudget(milliseconds: budgetMs), lane: lane)
    }

    /// `hosts.changed` on fleet.events, for listeners; losing one is harmless (the stream is the record).
    private func announce(_ event: HostsChanged) async { await context.announce(EventRoute.hostsChanged, event) }
}
