import FleetContracts
import FleetCore
import FleetMessaging
import FleetRuntime
import FleetStore
import Foundation

/// Fires schedules. A fire is claimed in Redis before anything is created (the run of that
/// instant is set once, atomically with moving `next_run`), and the operation is created with the
/// Idempotency-Key `schedule:<id>:<fire ms>`: a scheduler that dies between the two leaves a
/// pending run that any scheduler completes later, and the create, repeated, returns the same
/// operation. So each instant fires exactly once, whatever crashes or runs beside it.
struct ScheduleFiring: Sendable {
    let context: ServiceContext
    let store: ScheduleStore
    /// A pending run older than this is retried by whoever sees it.
    static let pendingRetryMs: Int64 = 3_000

    init(context: ServiceContext) {
        self.context = context
        var store = ScheduleStore(redis: context.redis)
        store.retentionMs = Int64(context.config.retentionSeconds) * 1000
        self.store = store
    }

    static func date(_ ms: Int64) -> Date { Date(timeIntervalSince1970: Double(ms) / 1000) }
    static func ms(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }
    static func member(_ id: String, _ fireMs: Int64) -> String { "\(id)|\(fireMs)" }

    /// The schedule's due instant has come (or it was only thought to have): fire it per the
    /// rules, or skip what was missed, and wait for the next.
    func fireIfDue(_ id: String, nowMs: Int64) async throws {
        guard let s = try await store.load(id), let request = s.request, request.enabled, let due = s.nextRunMs else {
            _ = try await context.redis.send("ZREM", RedisKeys.schedulesDue, id)
            return
        }
        if due > nowMs {  // not yet: the due set was stale
            _ = try await context.redis.send("ZADD", RedisKeys.schedulesDue, String(due), id)
            return
        }
        let decision = ScheduleTiming.onDue(request.schedule, due: Self.date(due), now: Self.date(nowMs), misfire: request.misfirePolicy)
        let next = decision.nextRun.map(Self.ms)
        if let fireAt = decision.fireAt {
            let fireMs = Self.ms(fireAt)
            // Recorded before the claim: if this process dies right after claiming, another finds it.
            _ = try await context.redis.send("ZADD", RedisKeys.schedulesPending, String(nowMs), Self.member(id, fireMs))
            let run = Self.newRun(fireMs: fireMs, trigger: "cron", request: request, missed: decision.missed)
            if try await store.claim(id, expected: due, next: next, fireMs: fireMs, run: run) {
                try await start(id, fireMs)
            } else {
                _ = try await context.redis.send("ZREM", RedisKeys.schedulesPending, Self.member(id, fireMs))
            }
        } else {
            if try await store.claim(id, expected: due, next: next, fireMs: nil, run: nil) {
                context.logger.info("missed fires skipped", metadata: ["schedule.id": "\(id)", "missed": "\(decision.missed)"])
            }
        }
        if let next {
            _ = try await context.redis.send("ZADD", RedisKeys.schedulesDue, String(next), id)
        } else {
            _ = try await context.redis.send("ZREM", RedisKeys.schedulesDue, id)
        }
    }

    /// `schedules.run`: a run now, outside the cron instants, obeying the overlap policy.
    func runNow(_ id: String) async throws -> ScheduleRun {
        guard let s = try await store.load(id), let request = s.request else { throw BusReplyError.notFound("no schedule '\(id)'") }
        var fireMs = context.clock.nowMs
        _ = try await context.redis.send("ZADD", RedisKeys.schedulesPending, String(fireMs), Self.member(id, fireMs))
        while try await !store.claim(
            id, expected: nil, next: nil, fireMs: fireMs, run: Self.newRun(fireMs: fireMs, trigger: "manual", request: request, missed: 0))
        {
            guard try await store.load(id) != nil else { throw BusReplyError.notFound("no schedule '\(id)'") }
            fireMs += 1  // that millisecond already has a run (a cron fire, another manual run)
        }
        do { try await start(id, fireMs) } catch {
            // Claimed and pending: the clock retries it (the caller sees it pending).
            context.logger.warning("run not started yet; retried shortly", metadata: ["schedule.id": "\(id)", "error": "\(error)"])
        }
        guard let run = try await store.run(id, fireMs) else { throw BusReplyError.notFound("no schedule '\(id)'") }
        return run
    }

    static func newRun(fireMs: Int64, trigger: String, request: ScheduleRequest, missed: Int) -> JSONValue {
        [
            "fire_at": .string(Events.timestamp(date(fireMs))), "trigger": .string(trigger), "kind": .string(request.rolling == nil ? "bulk" : "rolling"),
            "operation_id": .null, "status": "pending", "reason": .null, "missed": .int(Int64(missed)),
        ]
    }

    /// Creates the operation of a claimed run (idempotent: safe to repeat after a crash).
    func start(_ id: String, _ fireMs: Int64) async throws {
        let member = Self.member(id, fireMs)
        guard let s = try await store.load(id), let request = s.request, var run = try await store.run(id, fireMs), run.status == .pending else {
            _ = try await context.redis.send("ZREM", RedisKeys.schedulesPending, member)
            return
        }
        if let name = request.window, run.json["trigger"] == "cron",
            try await WindowRecords.load(context.redis, name)?.state(at: Self.date(fireMs)).isOpen != true
        {
            // Fires only inside its window (a manual run is the operator's call, and runs).
            run.json["status"] = "skipped"
            run.json["reason"] = .string("window_closed: the maintenance window '\(name)' is not open at \(run.json["fire_at"]?.stringValue ?? "?")")
            try await store.update(id, run)
            _ = try await context.redis.send("ZREM", RedisKeys.schedulesPending, member)
            return
        }
        if request.overlapPolicy == .forbid, let previous = try await openRunBefore(id, fireMs) {
            run.json["status"] = "skipped"
            run.json["reason"] = .string("overlap: the run of \(previous.json["fire_at"]?.stringValue ?? "?") is still running")
            try await store.update(id, run)
            _ = try await context.redis.send("ZREM", RedisKeys.schedulesPending, member)
            return
        }
        let created = await create(request, key: "schedule:\(id):\(fireMs)")
        // Unavailable, or the same create still in flight elsewhere (a replica retrying a run it
        // thought abandoned): the run stays pending and is retried later; the key makes it one operation.
        if case .failure(let failure) = created, failure.reply.status >= 500 || failure.reply.error?.error == "idempotency_in_progress" {
            throw BusReplyError(failure.reply)
        }
        switch created {
        case .success(let op):
            try await context.redis.pipelineChecked([
                RedisCommand(["HSET", RedisKeys.schedulesByOperation, op, member]),
                RedisCommand(["SADD", RedisKeys.schedulesOpen, op]),
            ])
            run.json["operation_id"] = .string(op)
            run.json["status"] = "running"
            // A replica retrying this run while it was being started gets the same operation (the
            // Idempotency-Key); only the one that moves the run out of pending announces the fire.
            if try await store.update(id, run, from: .pending) { await announceFired(id, run, op) }
            // It may have ended at creation (an empty or undeliverable selection).
            try await reconcile(op)
        case .failure(let failure):
            // The selector resolved to nothing (`skipped`), or the definition no longer holds
            // (a deleted group, say): recorded, not retried.
            let reply = failure.reply
            run.json["status"] = reply.error?.error == "no_targets" ? "skipped" : "failed"
            run.json["reason"] = .string(reply.error.map { "\($0.error): \($0.message)" } ?? "status \(reply.status)")
            try await store.update(id, run)
        }
        _ = try await context.redis.send("ZREM", RedisKeys.schedulesPending, member)
    }

    /// Creates the run's operation: a rolling deployment when the schedule has rollout settings,
    /// else a bulk operation. Answers its id.
    private func create(_ request: ScheduleRequest, key: String) async -> Result<String, BusReplyFailure> {
        let operation = BulkCreate(request.operation)
        if let settings = request.rolling {
            let create = RollingCreate(operation: operation, settings: settings)
            return await context.bus.call(Route.rollingCreate, create, replying: RollingDeployment.self, messageID: key).map(\.id)
        }
        return await context.bus.call(Route.bulkCreate, operation, replying: BulkOperation.self, messageID: key).map(\.id)
    }

    /// The latest earlier run of the schedule still going, checked against its operation's live
    /// status (not only the events), or nil.
    func openRunBefore(_ id: String, _ fireMs: Int64) async throws -> ScheduleRun? {
        for run in try await store.runs(id) where run.fireMs < fireMs && run.isOpen {
            guard let op = run.operationID else { return run }  // being created right now
            try await reconcile(op)
            if let again = try await store.run(id, run.fireMs), again.isOpen { return again }
        }
        return nil
    }

    /// Records the final status of a run's operation if it has ended: the status its finish event
    /// announced (`finished`), else its owner's records, else a finish announced before the run
    /// knew its operation.
    ///
    /// An operation can finish before `start` has written which run created it (an empty
    /// selection finishes inside the create; a fast one within milliseconds), and its records
    /// can be gone by the time anyone looks (retention). So a finish event for an operation no run
    /// is known to have created is kept (`scheduleEarlyFinish`) while any run is being started
    /// (`schedulesPending`, which a run enters before its create and leaves after `start` has
    /// read what was kept), then the mapping is read once more: `start` writes the mapping before
    /// it reads what was kept, so one of the two sides always sees the other, in whatever order
    /// they run. Operations no schedule started (most) leave nothing behind once no run is pending.
    func reconcile(_ op: String, finished: String? = nil) async throws {
        var member = try await context.redis.send("HGET", RedisKeys.schedulesByOperation, op).string
        if member == nil, let finished {
            if try await context.redis.send("ZCARD", RedisKeys.schedulesPending).int ?? 0 > 0 {
                _ = try await context.redis.send("SET", RedisKeys.scheduleEarlyFinish(op), finished, "EX", "86400")
            }
            member = try await context.redis.send("HGET", RedisKeys.schedulesByOperation, op).string
        }
        guard let member else {
            _ = try await context.redis.send("SREM", RedisKeys.schedulesOpen, op)
            return
        }
        let parts = member.split(separator: "|")
        guard parts.count == 2, let fireMs = Int64(parts[1]) else { return }
        let id = String(parts[0])
        guard let run = try await store.run(id, fireMs) else {
            _ = try await context.redis.send("SREM", RedisKeys.schedulesOpen, op)
            return
        }
        var status = finished
        if status == nil { status = try await liveStatus(op, kind: run.json["kind"]?.stringValue ?? "bulk") }
        if status == nil { status = try await context.redis.send("GET", RedisKeys.scheduleEarlyFinish(op)).string }
        guard let status, let final = ScheduleRun.Status(rawValue: status), final != .pending, final != .running else { return }
        // Finished before `start` recorded it running: this move out of pending announces the fire.
        if let ended = try await store.end(id, fireMs, operation: op, status: final) {
            if ended.from == .pending { await announceFired(id, ended.run, op) }
            // The call that ended the run is the one that tells the schedule's webhook.
            if let notify = try await store.load(id)?.request?.notify {
                let body: JSONValue = [
                    "kind": "schedule_run", "id": .string(id), "status": .string(final.rawValue), "operation_id": .string(op),
                    "fire_at": ended.run.json["fire_at"] ?? .null, "finished_at": .string(Events.timestamp(context.clock.now)),
                ]
                try await Webhooks(context: context, service: .scheduler).enqueue(notify, body: body)
            }
        }
        // Final: nothing will ask for this operation's run again.
        try await context.redis.pipelineChecked([
            RedisCommand(["SREM", RedisKeys.schedulesOpen, op]), RedisCommand(["HDEL", RedisKeys.schedulesByOperation, op]),
            RedisCommand(["DEL", RedisKeys.scheduleEarlyFinish(op)]),
        ])
    }

    private func announceFired(_ id: String, _ run: ScheduleRun, _ op: String) async {
        let fired = ScheduleFired(
            scheduleID: id, fireAt: run.json["fire_at"]?.stringValue ?? "", trigger: run.json["trigger"]?.stringValue ?? "", operationID: op)
        await context.announce(EventRoute.scheduleFired(id), fired)
    }

    /// The aggregate status of a bulk operation or a rollout, from the records their owners publish.
    func liveStatus(_ op: String, kind: String) async throws -> String? {
        if kind == "rolling" {
            guard let status = try await RolloutRecords(context.redis).status(op) else { return nil }
            return status.isTerminal ? status.rawValue : "running"
        }
        guard let status = try await BulkRecords(context.redis).aggregate(op) else { return nil }
        return status.isTerminal ? status.rawValue : "running"
    }
}
