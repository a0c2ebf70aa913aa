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
/// sent the command: it is sent now. A running host without a run deadline gets one. A concurrency
/// window with free slots while hosts are pending lost a release: the slots are freed. Either must
/// be seen on two sweeps in a row, so a dispatch or a release in flight between its writes is left
/// alone. Operations come from `fleet:bulk:open`, from which the finished ones are removed.
actor BulkReconciler {
    let engine: BulkEngine
    /// Hosts that looked orphaned on the last sweep, by operation.
    private var suspects: [String: Set<String>] = [:]
    /// Free slots of a concurrency window with hosts still pending, on the last sweep, by operation.
    private var idleSlots: [String: Int] = [:]

    /// How often it sweeps (so a host whose publish is being retried right now is left alone).
    let interval: Duration

    init(engine: BulkEngine) {
        self.engine = engine
        interval = engine.context.config.reconcileInterval
    }

    private var deadlines: Deadlines { Deadlines(redis: engine.redis, clock: engine.context.clock) }

    /// The status of hosts skipped at creation: they never had a slot of the window.
    private let notApproved = "\(HostStatus.skipped.rawValue):\(HostReason.notApproved.rawValue)"

    /// What one sweep did to one operation.
    struct Repair: Equatable, Sendable {
        var resent: [String] = []
        var unconfirmedResent: [String] = []
        /// Orphans put back in the pending list: the window had no free slot for them.
        var queuedForSlot = 0
        var slotsFreed = 0
    }

    /// One sweep over every open operation; answers what it repaired, by operation.
    @discardableResult
    func sweep() async throws -> [String: Repair] {
        let redis = engine.redis
        let open = try await redis.send("SMEMBERS", RedisKeys.bulkOpen).array?.compactMap(\.string) ?? []
        var repairs: [String: Repair] = [:]
        var seenSuspects: [String: Set<String>] = [:]
        var seenIdle: [String: Int] = [:]
        for op in open {
            guard let (counters, status) = try await engine.store.progress(operation: op) else {
                _ = try await redis.send("SREM", RedisKeys.bulkOpen, op)  // expired, or never written
                continue
            }
            if status.isTerminal && counters.queued + counters.running == 0 {
                _ = try await redis.send("SREM", RedisKeys.bulkOpen, op)
                continue
            }
            // Without its request (a create that died before writing the record) nothing can be
            // sent: its orphans fail, which finishes the operation and starts its expiry.
            let request = try await engine.requests.request(op)
            let statuses = try await engine.store.statuses(operation: op)
            let running = statuses.filter { $0.value == HostStatus.running.rawValue }.keys.sorted()
            let queued = Set(statuses.filter { $0.value == HostStatus.queued.rawValue }.keys)
            let pending = try await redis.send("LRANGE", RedisKeys.bulkPending(op), "0", "-1").array?.compactMap(\.string) ?? []
            let outOfPending = queued.subtracting(pending)
            try await giveADeadline(op, running: running, timeoutSeconds: request?.timeoutSeconds ?? 300)

            var repair = Repair()
            repair.unconfirmedResent = try await resendUnconfirmed(op, queued: queued, request)
            let orphans = try await orphaned(op, outOfPending, sentByCaller: request.map { !$0.dispatchesItself } ?? false)
            let confirmed = orphans.intersection(suspects[op] ?? [])
            seenSuspects[op] = orphans.subtracting(confirmed)
            if !confirmed.isEmpty {
                // Orphans take only the window's free slots; the rest wait in the pending list, as
                // they would have had the create or the release not died between its writes.
                var orphansToSend = confirmed.sorted()
                if let request, let window = request.concurrency?.resolve(total: statuses.values.count { $0 != notApproved }) {
                    let inFlight = outOfPending.count - orphans.count
                    let free = max(0, window - running.count - inFlight)
                    if orphansToSend.count > free {
                        let waiting = Array(orphansToSend[free...])
                        orphansToSend = Array(orphansToSend[..<free])
                        try await redis.pipelineChecked(RedisCommand.chunked(["RPUSH", RedisKeys.bulkPending(op)], waiting))
                        repair.queuedForSlot = waiting.count
                    }
                }
                repair.resent = orphansToSend
                if !orphansToSend.isEmpty { try await resend(op, orphansToSend, request) }
            }
            // A window whose slots are free while hosts wait: a result whose move applied but whose
            // release did not (the dispatcher died, or Redis went away, between the two). The
            // redelivered result applies nothing and frees nothing, so the slot is freed here.
            if !pending.isEmpty, let window = request?.concurrency?.resolve(total: statuses.values.count { $0 != notApproved }) {
                let idle = window - running.count - outOfPending.count
                if idle > 0, let before = idleSlots[op] {
                    repair.slotsFreed = min(idle, before)
                    try await engine.release(op: op, count: repair.slotsFreed)
                } else if idle > 0 {
                    seenIdle[op] = idle
                }
            }
            if repair != Repair() {
                engine.context.logger.warning(
                    "reconciled hosts no one would move on",
                    metadata: [
                        "op.id": "\(op)", "hosts.resent": "\(repair.resent.count)", "hosts.unconfirmed_resent": "\(repair.unconfirmedResent.count)",
                        "hosts.queued_for_slot": "\(repair.queuedForSlot)", "slots.freed": "\(repair.slotsFreed)",
                    ])
                repairs[op] = repair
            }
        }
        suspects = seenSuspects.filter { !$0.value.isEmpty }
        idleSlots = seenIdle
        return repairs
    }

    /// Hosts whose publish was never confirmed, long enough ago that no dispatcher is still
    /// retrying it (`AgentDispatch.retryFor` and a sweep): still queued, they are sent again (claim
    /// before run makes a copy that did go out harmless); the others leave the set.
    private func resendUnconfirmed(_ op: String, queued: Set<String>, _ request: DispatchableRequest?) async throws -> [String] {
        let before = engine.context.clock.nowMs - (AgentDispatch.retryFor + interval).wholeMilliseconds
        let stale =
            try await engine.redis.send("ZRANGEBYSCORE", RedisKeys.bulkUnconfirmed(op), "-inf", String(before), "LIMIT", "0", "1000").array?
            .compactMap(\.string) ?? []
        guard !stale.isEmpty else { return [] }
        let settled = stale.filter { !queued.contains($0) }
        if !settled.isEmpty { _ = try await engine.redis.send(RedisCommand(["ZREM", RedisKeys.bulkUnconfirmed(op)] + settled)) }
        let resend = stale.filter { queued.contains($0) }.sorted()
        if !resend.isEmpty { try await self.resend(op, resend, request) }
        return resend
    }

    /// Sends orphaned hosts their commands again; with the operation's request gone, they fail.
    private func resend(_ op: String, _ hosts: [String], _ request: DispatchableRequest?) async throws {
        if let request {
            try await engine.dispatch(op: op, hosts: hosts, request: request)
        } else {
            let outcome = try await engine.store.move(operation: op, hosts: hosts, to: .failed, reason: .undeliverable)
            try await engine.hostsEnded(op: op, to: .failed, reason: .undeliverable, outcome)
        }
    }

    /// Of the queued hosts not pending, those neither sent with a delivery deadline nor waiting
    /// for the rollout controller to send them.
    private func orphaned(_ op: String, _ outOfPending: Set<String>, sentByCaller: Bool) async throws -> Set<String> {
        var candidates = outOfPending
        if sentByCaller {
            candidates.formIntersection(try await engine.redis.send("SMEMBERS", RedisKeys.bulkSent(op)).array?.compactMap(\.string) ?? [])
        }
        return Set(try await deadlines.missing(.delivery, op: op, hosts: candidates.sorted()))
    }

    /// A running host always has a run deadline (the claim writes it first); should Redis have lost
    /// it, it gets one from now.
    private func giveADeadline(_ op: String, running: [String], timeoutSeconds: Int) async throws {
        let missing = try await deadlines.missing(.run, op: op, hosts: running)
        guard !missing.isEmpty else { return }
        try await deadlines.expectResults(op: op, hosts: missing, within: .seconds(timeoutSeconds))
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
