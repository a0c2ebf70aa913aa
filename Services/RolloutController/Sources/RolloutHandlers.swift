import FleetContracts
import FleetCore
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
        return ServiceAssembly(routes: handlers.routes, background: [BulkEventsConsumer(driver: driver), RolloutTimers(driver: driver)])
    }

    var routes: [String: CommandHandler] {
        [
            Route.rollingCreate: { r in await create(r) },
            Route.rollingGet: { r in await answer(context.logger) { try await view(r.requiredString()) } },
            Route.rollingProgress: { r in await answer(context.logger) { try await progress(r.requiredString()) } },
            Route.rollingList: { r in await answer(context.logger) { try await list(r) } },
            Route.rollingPause: { r in await answer(context.logger) { try await act(.pause, r.requiredString()) } },
            Route.rollingResume: { r in await answer(context.logger) { try await act(.resume, r.requiredString()) } },
            Route.rollingCancel: { r in await answer(context.logger) { try await act(.cancel, r.requiredString()) } },
        ]
    }

    /// 201 with the rollout and its plan. The bulk operation is created with the same
    /// Idempotency-Key (prefixed), so a repeated create finds its operation and the rollout made
    /// for it: 200 with the original, or 409 if the body differs.
    func create(_ r: BusRequest) async -> BusReply {
        let request: RolloutRequest
        do { request = try RolloutRequest(json: r.body) } catch { return .validation(error) }
        guard case .object(let fields) = r.body else { return .badRequest("the body is a JSON object") }
        let canonical = String(decoding: JSONCoding.encode(r.body), as: UTF8.self)
        var operation = fields.filter { BulkOperationRequest.keys.contains($0.key) }
        operation["dispatch"] = false
        let created = await context.bus.call(Route.bulkCreate, .object(operation), messageID: r.messageID.map { "rolling:" + $0 })
        guard created.status == 200 || created.status == 201, let op = created.body?["id"]?.stringValue else { return created }
        if let existing = try? await store.rollout(forOperation: op), let stored = try? await store.load(existing) {
            guard stored.record["request"]?.stringValue == canonical else {
                return .conflict(ConflictError(code: "idempotency_conflict", "this Idempotency-Key was used with another body"))
            }
            return await answer(context.logger) { try await view(existing) }
        }
        return await answer(context.logger) {
            let hosts = try await BulkRecords(context.redis).hostIDs(op)
            let plan = request.settings.plan(total: hosts.count)
            let id = newID(prefix: "ro-")
            let now = context.clock.nowMs
            var record: [String: JSONValue] = [
                "id": .string(id), "operation_type": .string(request.operation.type.rawValue),
                "selector": request.operation.selectorJSON, "parameters": created.body?["parameters"] ?? .null,
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
            return try await view(id)
        }.created
    }

    /// The rollout: what was asked, the plan, where it stands, and its progress.
    func view(_ id: String) async throws -> JSONValue {
        guard let r = try await store.load(id) else { throw BusReplyError.notFound("no rolling deployment '\(id)'") }
        var o = r.record
        o["request"] = nil
        o["status"] = .string(r.state.status.rawValue)
        o["halted_reason"] = r.state.haltedReason.map { .string($0) } ?? .null
        o["progress"] = try await progress(r)
        for key in ["current_batch", "total_batches", "failure_budget", "next_batch_at"] { o[key] = o["progress"]?[key] }
        return .object(o)
    }

    /// Bulk progress plus `current_batch` (1-based; 0 before the first), `total_batches`,
    /// `failure_budget`, `failed_counted` and `next_batch_at` (null unless a delay is running).
    func progress(_ id: String) async throws -> JSONValue {
        guard let r = try await store.load(id) else { throw BusReplyError.notFound("no rolling deployment '\(id)'") }
        return try await progress(r)
    }

    private func progress(_ r: StoredRollout) async throws -> JSONValue {
        let c = try await driver.bulkCounters(r.operationID)
        return [
            "total": .int(Int64(c.total)), "queued": .int(Int64(c.queued)), "running": .int(Int64(c.running)),
            "succeeded": .int(Int64(c.succeeded)), "failed": .int(Int64(c.failed)), "skipped": .int(Int64(c.skipped)),
            "percent_complete": .double(c.percentComplete), "status": .string(r.state.status.rawValue),
            "current_batch": .int(Int64(r.state.batch + 1)), "total_batches": .int(Int64(r.plan.batches.count)),
            "failure_budget": .int(Int64(r.plan.failureBudget)), "failed_counted": .int(Int64(c.failed)),
            "next_batch_at": r.state.nextAtMs.map { .string(Self.iso($0)) } ?? .null,
        ]
    }

    /// Newest first.
    func list(_ r: BusRequest) async throws -> JSONValue {
        let limit = try r.limit(default: 50, max: 500)
        var deployments: [JSONValue] = []
        for id in try await store.list(limit: limit) { if let v = try? await view(id) { deployments.append(v) } }
        return ["deployments": .array(deployments)]
    }

    /// Pause, resume or cancel: 409 `invalid_transition` unless docs/domain.md, "Rollouts" allows it.
    func act(_ action: RolloutAction, _ id: String) async throws -> JSONValue {
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
