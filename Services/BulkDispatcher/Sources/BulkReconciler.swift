import FleetContracts
import FleetCore
import FleetMessaging
import FleetRuntime
import FleetStore
import ServiceLifecycle

/// Finds hosts that nothing would ever move on, and moves them on: the repair for a dispatcher
/// that died, or a Redis that lost its last second of writes, between two steps of a dispatch.
///
/// Every non-terminal host must have an owner or a timer: a queued host waits in the pending list
/// (a concurrency window), or has a delivery deadline (its command went out), or has not been sent
/// yet by the rollout controller (`dispatch: false`); a running host has a run deadline. A queued
/// host with none of these was popped off the pending list by a dispatcher that died before it
/// sent the command: it is sent now. A running host without a run deadline gets one. A host must
/// look orphaned on two sweeps in a row, so a dispatch in flight between its two writes is left
/// alone. Operations come from `fleet:bulk:open`, from which the finished ones are removed.
actor BulkReconciler {
    let engine: BulkEngine
    /// Hosts that looked orphaned on the last sweep, by operation.
    private var suspects: [String: Set<String>] = [:]

    init(engine: BulkEngine) { self.engine = engine }

    /// One sweep over every open operation; answers the hosts it sent again, by operation.
    @discardableResult
    func sweep() async throws -> [String: [String]] {
        let redis = engine.redis
        let open = try await redis.send("SMEMBERS", RedisKeys.bulkOpen).array?.compactMap(\.string) ?? []
        var resent: [String: [String]] = [:]
        var seen: [String: Set<String>] = [:]
        for op in open {
            guard let (counters, status) = try await engine.store.progress(operation: op) else {
                _ = try await redis.send("SREM", RedisKeys.bulkOpen, op)  // expired, or never written
                continue
            }
            if status.isTerminal && counters.queued + counters.running == 0 {
                _ = try await redis.send("SREM", RedisKeys.bulkOpen, op)
                continue
            }
            let orphans = try await orphanedQueuedHosts(op)
            let confirmed = orphans.intersection(suspects[op] ?? [])
            seen[op] = orphans.subtracting(confirmed)
            try await giveRunningHostsADeadline(op)
            guard !confirmed.isEmpty else { continue }
            let hosts = confirmed.sorted()
            engine.context.logger.warning(
                "reconciling hosts no one would move on; sending them again", metadata: ["op.id": "\(op)", "hosts": "\(hosts.count)"])
            if let request = try await engine.requests.request(op) {
                try await engine.dispatch(op: op, hosts: hosts, request: request)
            } else {
                let outcome = try await engine.store.move(operation: op, hosts: hosts, to: .failed, reason: .undeliverable)
                try await engine.hostsEnded(op: op, to: .failed, reason: .undeliverable, outcome)
            }
            resent[op] = hosts
        }
        suspects = seen.filter { !$0.value.isEmpty }
        return resent
    }

    /// Queued hosts that are neither pending, nor sent with a delivery deadline, nor waiting for
    /// the rollout controller to send them.
    private func orphanedQueuedHosts(_ op: String) async throws -> Set<String> {
        let redis = engine.redis
        let statuses = try await engine.store.statuses(operation: op)
        var queued = Set(statuses.filter { $0.value == HostStatus.queued.rawValue }.keys)
        guard !queued.isEmpty else { return [] }
        queued.subtract(try await redis.send("LRANGE", RedisKeys.bulkPending(op), "0", "-1").array?.compactMap(\.string) ?? [])
        if try await sentByCaller(op) {
            queued.formIntersection(try await redis.send("SMEMBERS", RedisKeys.bulkSent(op)).array?.compactMap(\.string) ?? [])
        }
        let hosts = queued.sorted()
        let deadlines = try await redis.pipeline(hosts.map { RedisCommand(["ZSCORE", RedisKeys.bulkDeadlines, "\(op)|\($0)|delivery"]) })
        return Set(zip(hosts, deadlines).filter { $0.1.isNull }.map(\.0))
    }

    /// A running host always has a run deadline (the claim writes it first); should Redis have lost
    /// it, it gets one from now.
    private func giveRunningHostsADeadline(_ op: String) async throws {
        let redis = engine.redis
        let running = try await engine.store.statuses(operation: op).filter { $0.value == HostStatus.running.rawValue }.keys.sorted()
        guard !running.isEmpty else { return }
        let deadlines = try await redis.pipeline(running.map { RedisCommand(["ZSCORE", RedisKeys.bulkDeadlines, "\(op)|\($0)|run"]) })
        let missing = zip(running, deadlines).filter { $0.1.isNull }.map(\.0)
        guard !missing.isEmpty else { return }
        let timeout = Int(try await redis.send("HGET", RedisKeys.bulkOperation(op), "timeout_seconds").int ?? 300)
        try await Deadlines(redis: redis, clock: engine.context.clock).expectResults(op: op, hosts: missing, within: .seconds(timeout))
    }

    /// Whether the operation's hosts are sent by `bulk.dispatch` (created with `dispatch: false`).
    private func sentByCaller(_ op: String) async throws -> Bool {
        guard let text = try await engine.redis.send("HGET", RedisKeys.bulkOperation(op), "request").string,
            case .object(let request)? = JSONCoding.decode(Array(text.utf8))
        else { return false }
        return request["dispatch"] == .bool(false)
    }
}

/// Runs the reconciler every `FLEET_RECONCILE_INTERVAL_MS` (default 10 s).
public struct BulkReconcilerService: Service {
    let reconciler: BulkReconciler
    let interval: Duration
    let context: ServiceContext

    init(engine: BulkEngine) {
        reconciler = BulkReconciler(engine: engine)
        context = engine.context
        interval = engine.context.config.reconcileInterval
    }

    public func run() async throws {
        await everyTick(interval) { _ in
            do { try await reconciler.sweep() } catch { context.logger.warning("reconcile sweep failed", metadata: ["error": "\(error)"]) }
        }
    }
}
