import FleetBus
import FleetContracts
import FleetCore
import FleetMessaging
import FleetRuntime
import ServiceLifecycle

/// The scheduler's clock: every tick it fires the schedules whose instant has come (from the due
/// set in Redis, so a restarted scheduler or another replica picks them up), completes runs left
/// pending by a scheduler that died, and now and then checks the runs still open against their
/// operations (the backstop for a finish event the broker lost).
public struct ScheduleClock: Service {
    let firing: ScheduleFiring
    let interval: Duration

    init(firing: ScheduleFiring, interval: Duration = .milliseconds(100)) {
        self.firing = firing
        self.interval = interval
    }

    public func run() async throws {
        let reconciler = ScheduleReconciler(firing: firing)
        let ticksPerSweep = max(1, Int(firing.context.config.reconcileInterval / interval))
        await everyTick(interval) { count in
            await tick(reconcileOpenRuns: count % 20 == 0)
            if count % ticksPerSweep == 0 { await reconcileTimers(reconciler, atStart: count == 0) }
        }
    }

    /// The timers checked against the records (`ScheduleReconciler`); at start, the index too.
    func reconcileTimers(_ reconciler: ScheduleReconciler, atStart: Bool) async {
        do {
            let orphans = atStart ? try await reconciler.indexOrphans() : .init()
            var repairs = try await reconciler.sweep(nowMs: firing.context.clock.nowMs)
            repairs.indexEntriesAdded = orphans.indexEntriesAdded
            if repairs.any {
                firing.context.logger.warning(
                    "schedule timers repaired",
                    metadata: [
                        "due_set": "\(repairs.dueSet)", "next_run_set": "\(repairs.nextRunSet)",
                        "index_removed": "\(repairs.indexEntriesRemoved)", "index_added": "\(repairs.indexEntriesAdded)",
                    ])
            }
        } catch {
            firing.context.logger.warning("schedule timers not reconciled; tried again later", metadata: ["error": "\(error)"])
        }
    }

    func tick(reconcileOpenRuns: Bool) async {
        let now = firing.context.clock.nowMs
        let redis = firing.context.redis
        do {
            let due = try await redis.send("ZRANGEBYSCORE", RedisKeys.schedulesDue, "-inf", String(now), "LIMIT", "0", "500").array?.compactMap(\.string) ?? []
            let stale =
                try await redis.send(
                    "ZRANGEBYSCORE", RedisKeys.schedulesPending, "-inf", String(now - ScheduleFiring.pendingRetryMs),
                    "LIMIT", "0", "100"
                ).array?.compactMap(\.string) ?? []
            let open = reconcileOpenRuns ? try await redis.send("SRANDMEMBER", RedisKeys.schedulesOpen, "200").array?.compactMap(\.string) ?? [] : []
            await withDiscardingTaskGroup { group in
                for id in due { group.addTask { await attempt("fire", id) { try await firing.fireIfDue(id, nowMs: now) } } }
                for member in stale {
                    let parts = member.split(separator: "|")
                    guard parts.count == 2, let fireMs = Int64(parts[1]) else { continue }
                    group.addTask { await attempt("retry", member) { try await firing.start(String(parts[0]), fireMs) } }
                }
                for op in open { group.addTask { await attempt("reconcile", op) { try await firing.reconcile(op) } } }
            }
        } catch {
            firing.context.logger.warning("schedule timers unreadable", metadata: ["error": "\(error)"])
        }
    }

    private func attempt(_ what: String, _ subject: String, _ body: () async throws -> Void) async {
        do { try await body() } catch {
            firing.context.logger.warning("schedule \(what) failed; retried on a later tick", metadata: ["subject": "\(subject)", "error": "\(error)"])
        }
    }
}

/// Finishes of bulk operations and rollouts (on `fleet.events`): the run that created one records
/// its final status, and the schedule its `last_status`.
public struct FinishedEventsConsumer: Service {
    let firing: ScheduleFiring
    var context: ServiceContext { firing.context }

    static let topology = Topology.eventsQueue(BusNames.schedulerEventsQueue, keys: ["bulk.*.finished", "rolling.*.finished"])

    public func run() async throws {
        try await context.consume(BusNames.schedulerEventsQueue, topology: Self.topology, prefetch: 200) { await handle($0) }
    }

    func handle(_ delivery: Delivery) async -> RequestOutcome {
        let op: String, status: String
        do {
            if delivery.routingKey.hasPrefix("rolling.") {
                let finished = try delivery.decode(RollingFinished.self)
                (op, status) = (finished.rollingID, finished.status.rawValue)
            } else {
                let finished = try delivery.decode(BulkFinished.self)
                (op, status) = (finished.opID, finished.status.rawValue)
            }
        } catch {
            return .deadLetter(reason: "\(error)")
        }
        do {
            try await firing.reconcile(op, finished: status)
            return .done
        } catch {
            return .unavailable(reason: "\(error)")
        }
    }
}
