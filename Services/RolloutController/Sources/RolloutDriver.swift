import FleetBus
import FleetContracts
import FleetCore
import FleetMessaging
import FleetRuntime
import FleetStore
import Foundation

/// Moves rollouts on. Whenever something may have changed (a host result, a due timer, an
/// operator's action) it reads the rollout and its operation's counters, asks FleetCore's
/// `RolloutState.advance` what follows, writes that with a compare-and-set, and performs the
/// effects only if its write won. Effects are safe to repeat, and the state records which are
/// still owed, so a controller killed at any point leaves nothing undone: the rollout's timer
/// brings it back to a controller, which performs what is owed.
struct RolloutDriver: Sendable {
    let context: ServiceContext
    let store: RolloutStore
    let coalescer: Coalescer
    let retention: Retention
    /// How often a rollout with a batch in flight is looked at without an event (events are not
    /// persistent; a broker restart can lose one).
    static let recheckMs: Int64 = 5_000

    init(context: ServiceContext, coalescer: Coalescer) {
        self.context = context
        store = RolloutStore(redis: context.redis)
        self.coalescer = coalescer
        retention = Retention(context.config)
    }

    /// Looks at the rollout; at most one look per rollout runs at a time in this process, and
    /// pokes that arrive during a look make it look once more.
    func poke(_ id: String) async {
        guard await coalescer.enter(id) else { return }
        repeat {
            do { try await evaluate(id) } catch {
                context.logger.warning("rollout not advanced; retrying shortly", metadata: ["rolling.id": "\(id)", "error": "\(error)"])
                try? await store.wake(id, atMs: context.clock.nowMs + 1_000)
            }
        } while await coalescer.exit(id)
    }

    func evaluate(_ id: String) async throws {
        for _ in 0..<16 {
            guard let r = try await store.load(id) else { return }
            let plan = r.plan
            let seen = try await observe(r)
            let now = context.clock.nowMs
            let window = try await windowView(r, nowMs: now)
            let (next, effects) = r.state.advance(nowMs: now, seen, plan: plan, delayMs: r.delayMs, window: window)
            let dashboard = Self.dashboard(next, plan: plan, seen: seen)
            if next == r.state && effects.isEmpty {
                try await store.mirror(id, progress: dashboard, wakeAtMs: next.wakeAtMs(nowMs: now, recheckMs: Self.recheckMs))
                return
            }
            guard try await store.save(id, next, ifRev: r.rev, progress: dashboard) else { continue }  // another writer won: look again
            try await store.wake(id, atMs: next.wakeAtMs(nowMs: now, recheckMs: Self.recheckMs))
            try await perform(effects, rollout: r, state: next)
            // A dispatch or a skip changes what there is to see (a batch of undeliverable hosts
            // is done at once): look again. Otherwise this look is complete.
            guard effects.contains(where: { if case .batchStarted = $0 { true } else if case .skipQueued = $0 { true } else { false } }) else { return }
        }
    }

    /// The rollout's maintenance window as it stands now (read at every look: an operator may
    /// move or delete it); nil for a rollout without one.
    func windowView(_ r: StoredRollout, nowMs: Int64) async throws -> RolloutState.WindowView? {
        guard let name = r.record["window"]?.stringValue else { return nil }
        return WindowRecords.view(try await WindowRecords.load(context.redis, name), nowMs: nowMs)
    }

    /// Performs what the state write decided, in order.
    func perform(_ effects: [RolloutState.Effect], rollout r: StoredRollout, state: RolloutState) async throws {
        let id = r.id
        for effect in effects {
            switch effect {
            case .dispatch(let k):
                let hosts = try await store.hosts(id, r.plan.range(ofBatch: k))
                let reply = await context.bus.call(
                    Route.bulkDispatch, BulkDispatch(id: r.operationID, hostIDs: hosts), replying: BulkDispatched.self)
                if case .failure(let failure) = reply { throw BusReplyError(failure.reply) }
                try await update(id) { s in
                    guard s.batch == k, s.phase == .batch, !s.dispatched else { return nil }
                    s.dispatched = true
                    return s
                }
            case .skipQueued(let reason):
                let cancel = BulkCancel(id: r.operationID, reason: reason == .cancelled ? .cancelled : .halted)
                let reply = await context.bus.call(Route.bulkCancel, cancel, replying: BulkOperation.self)
                if case .failure(let failure) = reply, failure.reply.status != 409 { throw BusReplyError(failure.reply) }  // 409: it had ended anyway
                try await update(id) { s in
                    guard s.status.isTerminal, !s.closed else { return nil }
                    s.closed = true
                    return s
                }
            case .batchStarted(let k):
                await context.announce(
                    EventRoute.rollingBatch(id),
                    RollingBatchStarted(rollingID: id, batch: k + 1, totalBatches: r.plan.batches.count, hosts: r.plan.batches[k]))
            case .runGates(let k):
                // Off the look: a gate may take its whole timeout, and looks run inline in the
                // events consumer and the timer loop. The state's gate deadline covers a run lost
                // with its process.
                Task {
                    do { try await runGates(afterBatch: k, rollout: r) } catch {
                        context.logger.warning("gate outcome not written", metadata: ["rolling.id": "\(id)", "error": "\(error)"])
                    }
                }
            case .finished(let status):
                if let reason = state.haltedReason {
                    let failed = try await bulkCounters(r.operationID).failed
                    await context.announce(
                        EventRoute.rollingHalted(id),
                        RollingHalted(rollingID: id, haltedReason: reason, failed: failed, failureBudget: r.plan.failureBudget))
                }
                try await expire(id)
                await context.announce(EventRoute.rollingFinished(id), RollingFinished(rollingID: id, status: status, haltedReason: state.haltedReason))
                if let json = r.record["notify"], let notify = try? Notify(json: json, path: "notify") {
                    let counters = try await bulkCounters(r.operationID)
                    let body: JSONValue = [
                        "kind": "rolling", "id": .string(id), "status": .string(status.rawValue), "progress": BulkProgress(counters).json,
                        "halted_reason": state.haltedReason.map { .string($0) } ?? .null, "finished_at": .string(Events.timestamp(context.clock.now)),
                    ]
                    try await Webhooks(context: context, service: .rolloutController).enqueue(notify, body: body)
                }
            }
        }
    }

    /// Runs the HTTP gates after batch `k` and writes their outcome: on to the promote or the
    /// delay, or a halt (`gate_failed`) whose skip and events follow at once. A controller that
    /// dies before writing it runs them again when the state's gate deadline passes.
    func runGates(afterBatch k: Int, rollout r: StoredRollout) async throws {
        let failure = await GateRunner(allowedHosts: context.config.gateHosts).run(r.plan.httpGates(afterBatch: k))
        _ = try await transition(r.id, "record the gate outcome of") { stored, now in
            if let failure { return stored.state.gateFailed(afterBatch: k, failure) }
            return stored.state.gatesPassed(afterBatch: k, nowMs: now, plan: stored.plan, delayMs: stored.delayMs).map { ($0, []) }
        }
    }

    /// Decides `change` on the rollout as read (nil: nothing to change) and writes it with
    /// compare-and-set, reading again if another writer won; then performs its effects and looks
    /// again (a batch done while paused, a promote or gate with no delay: the next may be due now).
    /// False when there is no such rollout. Operators' actions and gate outcomes come this way.
    func transition(
        _ id: String, _ name: String, _ change: (StoredRollout, Int64) throws -> (RolloutState, [RolloutState.Effect])?
    ) async throws -> Bool {
        for _ in 0..<16 {
            guard let r = try await store.load(id) else { return false }
            let now = context.clock.nowMs
            guard let (next, effects) = try change(r, now) else { return true }
            let seen = try await observe(r)
            guard try await store.save(id, next, ifRev: r.rev, progress: Self.dashboard(next, plan: r.plan, seen: seen)) else { continue }
            try await store.wake(id, atMs: next.wakeAtMs(nowMs: now, recheckMs: Self.recheckMs))
            try await perform(effects, rollout: r, state: next)
            await poke(id)
            return true
        }
        throw ConflictError(code: "busy", "the rollout changed too often to \(name) it; retry")
    }

    /// Applies `change` with compare-and-set until it writes or has nothing to change (nil).
    func update(_ id: String, _ change: (inout RolloutState) -> RolloutState?) async throws {
        for _ in 0..<16 {
            guard let r = try await store.load(id) else { return }
            var s = r.state
            guard let next = change(&s) else { return }
            // These changes (dispatch confirmed, operation told) show nowhere on the dashboard.
            if try await store.save(id, next, ifRev: r.rev, progress: [:]) {
                try await store.wake(id, atMs: next.wakeAtMs(nowMs: context.clock.nowMs, recheckMs: Self.recheckMs))
                return
            }
        }
    }

    /// The bulk operation's counters, from the dispatcher's published progress.
    func bulkCounters(_ op: String) async throws -> ProgressCounters { try await BulkRecords(context.redis).counters(op) }

    /// The operation's counters and whether every host of the current batch is terminal, read in
    /// that order in one round trip: the counters are then at least as new as the statuses, so a
    /// batch seen done never comes with a failure count that misses one of its hosts.
    func observe(_ r: StoredRollout) async throws -> RolloutState.Observation {
        let s = r.state
        let records = BulkRecords(context.redis)
        guard s.phase == .batch, s.dispatched, s.batch >= 0, !s.status.isTerminal else {
            let (counters, reasons) = try await records.countersAndReasons(r.operationID)
            return .init(counters: counters, reasons: reasons, batchDone: false)
        }
        let hosts = try await store.hosts(r.id, r.plan.range(ofBatch: s.batch))
        let (done, counters, reasons) = try await records.terminalThenCounters(r.operationID, hosts)
        return .init(counters: counters, reasons: reasons, batchDone: done)
    }

    /// The dashboard hash `fleet:rolling:{id}:progress`.
    static func dashboard(_ s: RolloutState, plan: RolloutPlan, seen: RolloutState.Observation) -> [String: String] {
        let c = seen.counters
        return [
            "total": "\(c.total)", "queued": "\(c.queued)", "running": "\(c.running)", "succeeded": "\(c.succeeded)",
            "failed": "\(c.failed)", "skipped": "\(c.skipped)", "status": s.status.rawValue, "current_batch": "\(s.batch + 1)",
            "total_batches": "\(plan.batches.count)", "failure_budget": "\(plan.failureBudget)", "failed_counted": "\(seen.counted(plan))",
            "unreached": "\(seen.unreached)", "unreached_budget": plan.unreachedBudget.map { "\($0)" } ?? "",
            "next_batch_at": s.nextBatchAtMs.map { "\($0)" } ?? "",
            "paused_reason": s.status == .paused ? s.pausedReason ?? "" : "",
        ]
    }
}

/// At most one look per rollout at a time in this process; pokes during a look ask for one more.
actor Coalescer {
    private var busy: [String: Bool] = [:]

    /// True if the caller should look now; false if a look is running (it will look once more).
    func enter(_ id: String) -> Bool {
        if busy[id] != nil {
            busy[id] = true
            return false
        }
        busy[id] = false
        return true
    }

    /// True if the caller should look once more.
    func exit(_ id: String) -> Bool {
        if busy[id] == true {
            busy[id] = false
            return true
        }
        busy[id] = nil
        return false
    }
}
