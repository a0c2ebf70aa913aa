import FleetContracts
import FleetCore
import FleetMessaging
import FleetRuntime
import FleetStore
import Foundation
import ServiceLifecycle

/// The rollout controller's commands: create (validate, create the bulk operation with nothing
/// dispatched, snapshot its hosts in order, plan, start), get, list, progress, pause, resume,
/// cancel. The per-host tracking is the bulk dispatcher's; the controller owns the batches.
public struct RolloutHandlers: Sendable {
    let driver: RolloutDriver
    var context: ServiceContext { driver.context }
    var store: RolloutStore { driver.store }

    init(driver: RolloutDriver) { self.driver = driver }

    /// The command handlers and the background services that drive rollouts, sharing one driver.
    @Sendable public static func assemble(_ context: ServiceContext) -> ServiceAssembly {
        let driver = RolloutDriver(context: context, coalescer: Coalescer())
        let handlers = RolloutHandlers(driver: driver)
        return ServiceAssembly(
            routes: handlers.routes,
            background: [
                BulkEventsConsumer(driver: driver), RolloutTimers(driver: driver), RolloutRetentionSweeper(driver: driver),
                RolloutReconciler(driver: driver),
            ])
    }

    var routes: [String: CommandHandler] {
        [
            Route.rollingCreate: { r in await create(r) },
            Route.rollingGet: { r in await answer(context.logger) { try await view(r.requiredString()).json } },
            Route.rollingProgress: { r in await answer(context.logger) { try await progress(r.requiredString()).json } },
            Route.rollingList: { r in await answer(context.logger) { try await list(r).json } },
            Route.rollingPause: { r in await answer(context.logger) { try await act(.pause, r.requiredString()).json } },
            Route.rollingResume: { r in await answer(context.logger) { try await act(.resume, r.requiredString()).json } },
            Route.rollingCancel: { r in await answer(context.logger) { try await act(.cancel, r.requiredString()).json } },
        ]
    }

    /// 201 with the rollout and its plan. The bulk operation is created with the same
    /// Idempotency-Key (prefixed), so a repeated create finds its operation and the rollout made
    /// for it: 200 with the original, or 409 if the body differs.
    func create(_ r: BusRequest) async -> BusReply {
        let request: RolloutRequest
        do { request = try RolloutRequest(json: r.body) } catch { return .validation(error) }
        let canonical = String(decoding: JSONCoding.encode(r.body), as: UTF8.self)
        let operation: BulkOperation
        switch await context.bus.call(
            Route.bulkCreate, BulkCreate(request.operation, dispatch: false), replying: BulkOperation.self,
            messageID: r.messageID.map { "rolling:" + $0 })
        {
        case .success(let created): operation = created
        case .failure(let failure): return failure.reply
        }
        let op = operation.id
        if let existing = try? await store.rollout(forOperation: op), let stored = try? await store.load(existing) {
            guard stored.record["request"]?.stringValue == canonical else {
                return .conflict(ConflictError(code: "idempotency_conflict", "this Idempotency-Key was used with another body"))
            }
            return await answer(context.logger) { try await view(existing).json }
        }
        return await answer(context.logger) {
            let hosts = try await BulkRecords(context.redis).hostIDs(op)
            let plan = request.settings.plan(total: hosts.count)
            let id = newID(prefix: "ro-")
            let now = context.clock.nowMs
            var record: [String: JSONValue] = [
                "id": .string(id), "operation_type": .string(request.operation.type.rawValue),
                "selector": request.operation.selectorJSON, "parameters": operation.parameters,
                "batch_size": request.settings.batchSize.json, "batch_delay_seconds": .int(Int64(request.settings.batchDelaySeconds)),
                "failure_threshold_pct": .double(request.settings.failureThresholdPct), "plan": plan.json,
                "bulk_operation_id": .string(op), "created_at": .string(Self.iso(now)), "request": .string(canonical),
            ]
            record["batches"] = request.settings.ramp.map { .array($0.map(\.json)) } ?? .null
            let state = RolloutState(createdAtMs: now)
            try await store.create(
                record: record, hosts: hosts, state: state,
                progress: RolloutDriver.dashboard(state, plan: plan, counts: ProgressCounters(total: hosts.count)), nowMs: now)
            await driver.poke(id)  // the first batch goes out now
            return try await view(id).json
        }.created
    }

    /// The rollout: what was asked, the plan, where it stands, and its progress.
    func view(_ id: String) async throws -> RollingDeployment {
        guard let r = try await store.load(id) else { throw BusReplyError.notFound("no rolling deployment '\(id)'") }
        var o = r.record
        o["request"] = nil
        o["status"] = .string(r.state.status.rawValue)
        o["halted_reason"] = r.state.haltedReason.map { .string($0) } ?? .null
        o["progress"] = try await progress(r).json
        return try RollingDeployment(json: .object(o))
    }

    /// Bulk progress plus `current_batch` (1-based; 0 before the first), `total_batches`,
    /// `failure_budget`, `failed_counted` and `next_batch_at` (null unless a delay is running).
    func progress(_ id: String) async throws -> RollingProgress {
        guard let r = try await store.load(id) else { throw BusReplyError.notFound("no rolling deployment '\(id)'") }
        return try await progress(r)
    }

    private func progress(_ r: StoredRollout) async throws -> RollingProgress {
        let c = try await driver.bulkCounters(r.operationID)
        return RollingProgress(
            counters: BulkProgress(c), status: r.state.status, currentBatch: r.state.batch + 1, totalBatches: r.plan.batches.count,
            failureBudget: r.plan.failureBudget, failedCounted: c.failed, nextBatchAt: r.state.nextAtMs.map(Self.iso))
    }

    /// Newest first.
    func list(_ r: BusRequest) async throws -> RollingDeploymentList {
        let limit = try r.limit(default: 50, max: 500)
        var deployments: [RollingDeployment] = []
        for id in try await store.list(limit: limit) { if let v = try? await view(id) { deployments.append(v) } }
        return RollingDeploymentList(deployments: deployments)
    }

    /// Pause, resume or cancel: 409 `invalid_transition` unless docs/domain.md, "Rollouts" allows it.
    func act(_ action: RolloutAction, _ id: String) async throws -> RollingDeployment {
        for _ in 0..<16 {
            guard let r = try await store.load(id) else { throw BusReplyError.notFound("no rolling deployment '\(id)'") }
            let now = context.clock.nowMs
            let (next, effects) = try r.state.apply(action, nowMs: now)
            let counts = try await driver.bulkCounters(r.operationID)
            guard try await store.save(id, next, ifRev: r.rev, progress: RolloutDriver.dashboard(next, plan: r.plan, counts: counts)) else { continue }
            try await store.wake(id, atMs: next.wakeAtMs(nowMs: now, recheckMs: RolloutDriver.recheckMs))
            try await driver.perform(effects, rollout: r, state: next)
            if action == .resume { await driver.poke(id) }  // a batch that finished while paused: the next may be due now
            return try await view(id)
        }
        throw ConflictError(code: "busy", "the rollout changed too often to apply \(action.rawValue); retry")
    }

    static func iso(_ ms: Int64) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
    }
}
