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
    let gate: DispatchGate
    let webhooks: Webhooks
    var redis: RedisClient { context.redis }

    init(context: ServiceContext) {
        self.context = context
        retention = Retention(context.config)
        requests = OperationRequests(redis: context.redis)
        store = HostTransitionStore(redis: context.redis, retentionSeconds: retention.seconds)
        agents = AgentDispatch(publisher: context.publisher)
        gate = DispatchGate(redis: context.redis, clock: context.clock)
        webhooks = Webhooks(context: context, service: .bulkDispatcher)
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
        try await admitAndPublish(op: op, hosts: hosts, request: request)
    }

    /// Sends the hosts the gate admits (host locks, concurrency budgets); the others wait in the
    /// operation's waiting hash (`WaitingHosts` sends them once admitted), or, locked with
    /// `on_conflict: skip`, are skipped `locked`. `fromWaiting`: the hosts come out of the waiting
    /// hash, and only the caller whose HDEL takes a host off it sends that host. Answers the hosts
    /// this call sent.
    @discardableResult
    func admitAndPublish(op: String, hosts: [String], request: DispatchableRequest, fromWaiting: Bool = false) async throws -> [String] {
        let admission = try await gate.admit(op: op, hosts: hosts, request: request)
        let skipped = request.onConflict == .skip ? admission.locked : []
        let waiting = (request.onConflict == .skip ? [] : admission.locked.map { ($0, WaitReason.locked) }) + admission.overBudget.map { ($0, .budget) }
        var toSend = admission.admitted
        if fromWaiting {
            toSend = try await takeFromWaiting(op: op, hosts: toSend)
            if !skipped.isEmpty { _ = try await redis.send(RedisCommand(["HDEL", RedisKeys.bulkWaiting(op)] + skipped)) }
        }
        if fromWaiting, !waiting.isEmpty {
            // Still waiting: only its reason may have changed. Set only where the host is still in
            // the hash, so one another replica took and sent meanwhile is not put back.
            _ = try await redis.eval(
                Self.reasonScript, keys: [RedisKeys.bulkWaiting(op)], arguments: waiting.flatMap { [$0.0, $0.1.rawValue] })
        } else if !waiting.isEmpty {
            // Waiting first, then out of the unconfirmed set: a dispatcher that dies between the
            // two leaves a host the reconciler sends again through the gate, never one untracked.
            try await redis.pipelineChecked(
                RedisCommand.chunked(["HSET", RedisKeys.bulkWaiting(op)], waiting) { [$0.0, $0.1.rawValue] }
                    + RedisCommand.chunked(["ZREM", RedisKeys.bulkUnconfirmed(op)], waiting.map(\.0)))
            _ = try await redis.send("SADD", RedisKeys.waitingOperations, op)
        }
        if !skipped.isEmpty {
            _ = try await redis.send(RedisCommand(["ZREM", RedisKeys.bulkUnconfirmed(op)] + skipped))
            let outcome = try await store.move(operation: op, hosts: skipped, to: .skipped, reason: .locked)
            try await hostsEnded(op: op, to: .skipped, reason: .locked, outcome)
        }
        try await publish(op: op, hosts: toSend, request: request)
        return toSend
    }

    /// Of admitted hosts waiting, those this caller took off the waiting hash (marked unconfirmed
    /// and dispatched now in the same script): a replica retrying the same hosts gets none of them.
    private func takeFromWaiting(op: String, hosts: [String]) async throws -> [String] {
        guard !hosts.isEmpty else { return [] }
        let reply = try await redis.eval(
            Self.takeScript, keys: [RedisKeys.bulkWaiting(op), RedisKeys.bulkUnconfirmed(op), RedisKeys.bulkDispatchedAt(op)],
            arguments: [String(context.clock.nowMs)] + hosts)
        return reply.array?.compactMap(\.string) ?? []
    }

    /// KEYS: waiting, unconfirmed, dispatched-at. ARGV: now ms, hosts... Answers the hosts taken.
    static let takeScript = RedisScript(
        """
        local taken = {}
        for i = 2, #ARGV do
          if redis.call('HDEL', KEYS[1], ARGV[i]) == 1 then
            redis.call('ZADD', KEYS[2], ARGV[1], ARGV[i])
            redis.call('HSET', KEYS[3], ARGV[i], ARGV[1])
            taken[#taken + 1] = ARGV[i]
          end
        end
        return taken
        """)

    /// KEYS: waiting. ARGV: host, reason pairs. Sets the reason of hosts still in the hash.
    static let reasonScript = RedisScript(
        """
        for i = 1, #ARGV, 2 do
          if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 1 then redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
        end
        return 0
        """)

    /// Publishes admitted hosts' commands; those no queue takes fail `undeliverable` (and free
    /// their slots at once).
    private func publish(op: String, hosts: [String], request: DispatchableRequest) async throws {
        guard !hosts.isEmpty else { return }
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
        await context.announce(
            outcome.movedHosts.map { (EventRoute.bulkHost(op), BulkHostEnded(opID: op, hostID: $0, status: to, reason: reason)) })
        await context.announce(EventRoute.bulkHostsEnded(op), BulkHostsEnded(opID: op, status: to, reason: reason, count: outcome.applied))
        // The hosts' locks and budget slots first: another operation waiting for them goes on.
        try await gate.release(op: op, hosts: outcome.movedHosts, operationType: try await requests.type(op))
        try await release(op: op, count: outcome.applied)
        // The move that finished the operation set its expiry too.
        if outcome.justFinished { await announceFinished(op: op, outcome.aggregate) }
    }

    /// Announces that an operation finished (exactly one caller does, once its expiry is set) and
    /// takes it off the open set (a crash before that leaves it to the reconciler to remove).
    func announceFinished(op: String, _ aggregate: AggregateStatus) async {
        await context.announce(EventRoute.bulkFinished(op), BulkFinished(opID: op, status: aggregate))
        if let notify = try? await requests.request(op)?.notify, let (counters, _) = try? await store.progress(operation: op) {
            let body: JSONValue = [
                "kind": "bulk", "id": .string(op), "status": .string(aggregate.rawValue), "progress": BulkProgress(counters).json,
                "finished_at": .string(Events.timestamp(context.clock.now)),
            ]
            do { try await webhooks.enqueue(notify, body: body) } catch {
                context.logger.warning("completion webhook not queued", metadata: ["op.id": "\(op)", "error": "\(error)"])
            }
        }
        _ = try? await redis.send("SREM", RedisKeys.bulkOpen, op)
        _ = try? await redis.send("SREM", RedisKeys.waitingOperations, op)
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
