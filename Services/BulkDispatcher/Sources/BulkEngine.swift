import FleetBus
import FleetContracts
import FleetCore
import FleetMessaging
import FleetObservability
import FleetRuntime
import FleetStore

/// The dispatcher's one engine per process, shared by the handlers, the results consumer and the
/// deadline sweeper: it sends hosts out (all at once or in a concurrency window) and owns what
/// follows a host's move to a terminal status (announce the host, free its slot, announce the
/// finish once).
struct BulkEngine: Sendable {
    let context: ServiceContext
    let store: HostTransitionStore
    let agents: AgentDispatch
    let retention: Retention
    let requests: OperationRequests
    var redis: RedisClient { context.redis }

    init(context: ServiceContext) {
        self.context = context
        retention = Retention(context.config)
        requests = OperationRequests(redis: context.redis)
        store = HostTransitionStore(redis: context.redis, retentionSeconds: retention.seconds)
        agents = AgentDispatch(publisher: context.publisher)
    }

    /// Starts an operation: all hosts at once, or with a `concurrency` window the first N, the rest
    /// waiting in the pending list for a slot.
    func start(op: String, hosts: [String], request: DispatchableRequest) async throws {
        guard let window = request.concurrency?.resolve(total: hosts.count), window < hosts.count else {
            return try await dispatch(op: op, hosts: hosts, request: request)
        }
        let waiting = Array(hosts[window...])
        try await redis.pipelineChecked(RedisCommand.chunked(["RPUSH", RedisKeys.bulkPending(op)], waiting))
        try await dispatch(op: op, hosts: Array(hosts[..<window]), request: request)
    }

    /// Sends the hosts' commands, with a claim deadline each; hosts whose command no queue takes
    /// fail `undeliverable` (and free their slots at once).
    func dispatch(op: String, hosts: [String], request: DispatchableRequest) async throws {
        guard !hosts.isEmpty else { return }
        let within = Duration.seconds(request.deliveryTimeoutSeconds)
        // The delivery deadlines, the hosts marked unconfirmed until the broker confirms (a
        // dispatcher that dies before then leaves them there, and the reconciler sends them again
        // instead of the deadline failing them), and when each went out: one round trip.
        let now = String(context.clock.nowMs)
        try await redis.pipelineChecked(
            Deadlines(redis: redis, clock: context.clock).claimDeadlines(op: op, hosts: hosts, within: within)
                + RedisCommand.chunked(["ZADD", RedisKeys.bulkUnconfirmed(op)], hosts) { [now, $0] }
                + RedisCommand.chunked(["HSET", RedisKeys.bulkDispatchedAt(op)], hosts) { [$0, now] })
        let (unroutable, unconfirmed) = await agents.publish(op: op, hosts: hosts, request: request)
        let settled = unconfirmed.isEmpty ? hosts : Array(Set(hosts).subtracting(unconfirmed))
        if !settled.isEmpty { try await redis.pipelineChecked(RedisCommand.chunked(["ZREM", RedisKeys.bulkUnconfirmed(op)], settled)) }
        if !unroutable.isEmpty {
            let outcome = try await store.move(operation: op, hosts: unroutable, to: .failed, reason: .undeliverable)
            try await hostsEnded(op: op, to: .failed, reason: .undeliverable, outcome)
        }
    }

    /// What follows hosts' move to a terminal status `to`: announce each host, free their slots of
    /// the concurrency window, and announce the finish (exactly one move finishes an operation).
    func hostsEnded(op: String, to: HostStatus, reason: HostReason?, _ outcome: HostTransitionStore.Outcome) async throws {
        guard outcome.applied > 0 else { return }
        FleetMetrics.count("fleet_bulk_hosts_ended_total", [("status", to.rawValue), ("reason", reason?.rawValue ?? "none")], by: outcome.applied)
        for host in outcome.movedHosts {
            await context.announce(EventRoute.bulkHost(op), BulkHostEnded(opID: op, hostID: host, status: to, reason: reason))
        }
        try await release(op: op, count: outcome.applied)
        // The move that finished the operation set its expiry too.
        if outcome.justFinished { await announceFinished(op: op, outcome.aggregate) }
    }

    /// Announces that an operation finished (exactly one caller does, once its expiry is set) and
    /// takes it off the open set (a crash before that leaves it to the reconciler to remove).
    func announceFinished(op: String, _ aggregate: AggregateStatus) async {
        await context.announce(EventRoute.bulkFinished(op), BulkFinished(opID: op, status: aggregate))
        _ = try? await redis.send("SREM", RedisKeys.bulkOpen, op)
    }

    /// `count` slots freed: dispatch as many hosts from the pending list (LPOP is atomic, so each
    /// pending host goes out once however many replicas release at the same time).
    func release(op: String, count: Int) async throws {
        let popped = try await redis.send(RedisCommand(["LPOP", RedisKeys.bulkPending(op), String(count)])).array?.compactMap(\.string) ?? []
        guard !popped.isEmpty else { return }
        guard let request = try await requests.request(op) else { return }
        try await dispatch(op: op, hosts: popped, request: request)
    }
}
