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
                RolloutReconciler(driver: driver), WebhookSender(Webhooks(context: context, service: .rolloutController), context: context),
                FleetGauges(redis: context.redis, logger: context.logger, read: FleetGauges.rollouts),
            ])
    }

    var routes: [String: CommandHandler] {
        [
            Route.rollingCreate: { r in await create(body: r.body, messageID: r.messageID) },
            Route.rollingRerun: { r in await rerun(r) },
            Route.rollingGet: { r in await answer(context.logger) { try await view(r.requiredString()).json } },
            Route.rollingProgress: { r in await answer(context.logger) { try await progress(r.requiredString()).json } },
            Route.rollingList: { r in await answer(context.logger) { try await list(r).json } },
            Route.rollingPause: { r in await answer(context.logger) { try await act(.pause, r.requiredString()).json } },
            Route.rollingResume: { r in await answer(context.logger) { try await act(.resume, r.requiredString()).json } },
            Route.rollingCancel: { r in await answer(context.logger) { try await act(.cancel, r.requiredString()).json } },
            Route.rollingPromote: { r in await answer(context.logger) { try await act(.promote, r.requiredString()).json } },
            Route.rollingHalt: { r in await halt(r) },
        ]
    }

    /// 201 with the rollout and its plan. The bulk operation is created with the same
    /// Idempotency-Key (prefixed), so a repeated create finds its operation and the rollout made
    /// for it: 200 with the original, or 409 if the body differs.
    func create(body: JSONValue, messageID: String?, parentID: String? = nil) async -> BusReply {
        let request: RolloutRequest
        do { request = try RolloutRequest(json: body) } catch { return .validation(error) }
        let refused = request.settings.gates.enumerated().filter { !$0.element.isAllowed(by: context.config.gateHosts) }
        if !refused.isEmpty {
            return .validation(
                ValidationError(refused.map { FieldError("gates[\($0.offset)].url", .invalidValue, "the gate's host is not one FLEET_GATE_HOSTS lists") }))
        }
        if let notify = request.settings.notify, !notify.isAllowed(by: context.config.webhookHosts) {
            return .validation(ValidationError("notify.url", .invalidValue, "the webhook's host is not one FLEET_WEBHOOK_HOSTS lists"))
        }
        if let name = request.settings.window {
            do {
                if try await WindowRecords.load(context.redis, name) == nil {
                    return .validation(ValidationError("window", .unknownWindow, "no maintenance window '\(name)'"))
                }
            } catch { return .failure(503, "unavailable", "Redis is unavailable: \(error)") }
        }
        if request.operation.dryRun { return await plan(request) }
        let canonical = String(decoding: JSONCoding.encode(body), as: UTF8.self)
        let operation: BulkOperation
        switch await context.bus.call(
            Route.bulkCreate, BulkCreate(request.operation, dispatch: false), replying: BulkOperation.self,
            messageID: messageID.map { "rolling:" + $0 })
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
            let (hosts, plan) = try await arrange(request, try await BulkRecords(context.redis).hostIDs(op))
            let id = newID(prefix: "ro-")
            let now = context.clock.nowMs
            var record = request.settings.json
            record.merge([
                "id": .string(id), "operation_type": .string(request.operation.type.rawValue),
                "selector": request.operation.selectorJSON, "parameters": operation.parameters, "plan": plan.json,
                "bulk_operation_id": .string(op), "created_at": .string(Self.iso(now)), "request": .string(canonical),
            ]) { _, new in new }
            if let parentID { record["parent_id"] = .string(parentID) }
            let state = RolloutState(createdAtMs: now)
            let none = RolloutState.Observation(counters: ProgressCounters(total: hosts.count), reasons: [:], batchDone: false)
            try await store.create(record: record, hosts: hosts, state: state, progress: RolloutDriver.dashboard(state, plan: plan, seen: none), nowMs: now)
            await driver.poke(id)  // the first batch goes out now
            return try await view(id).json
        }.created
    }

    /// `rolling.rerun`: a new rollout with the original's type, parameters and whole policy
    /// (batches, budget, canary, gates) over exactly its hosts whose final status (and reason)
    /// the request names, `parent_id` naming the original. 404 for no such rollout; 422
    /// `no_hosts_match` when none matches.
    func rerun(_ r: BusRequest) async -> BusReply {
        let rerun: RerunRequest
        do { rerun = try RerunRequest(json: r.body) } catch { return .validation(error) }
        let stored: StoredRollout?
        let hosts: [String]
        do {
            stored = try await store.load(rerun.id)
            if let stored { hosts = try await BulkRecords(context.redis).matching(stored.operationID, rerun) } else { hosts = [] }
        } catch { return .failure(503, "unavailable", "Redis is unavailable: \(error)") }
        guard let stored, let text = stored.record["request"]?.stringValue, case .object(let body)? = JSONCoding.decode(Array(text.utf8)) else {
            return .failure(404, "not_found", "no rolling deployment '\(rerun.id)'")
        }
        if let refusal = RerunRequest.refusal(matching: hosts.count) { return refusal }
        let again = RerunRequest.create(rerunning: body, hosts: hosts, messageID: r.messageID)
        return await create(body: again.body, messageID: again.messageID, parentID: rerun.id)
    }

    /// A dry run: 200 with the batches as the rollout would cut them (the dispatcher's own dry
    /// run says which hosts, and which it would skip); nothing is created or sent.
    func plan(_ request: RolloutRequest) async -> BusReply {
        switch await context.bus.call(Route.bulkCreate, BulkCreate(request.operation, dispatch: false), replying: PlanPreview.self) {
        case .success(let bulk):
            let skipped = Set(bulk.ineligible.map(\.hostID))
            return await answer(context.logger) {
                let (hosts, plan) = try await arrange(request, (bulk.batches.flatMap(\.hostIDs) + skipped).sorted())
                return PlanPreview(rollout: plan, hostIDs: hosts, notApproved: skipped).json
            }
        case .failure(let failure): return failure.reply
        }
    }

    /// The hosts in the order the rollout takes them, and its plan. With failure domains the
    /// selector says each host's domain (hosts it no longer selects count as having none).
    func arrange(_ request: RolloutRequest, _ hosts: [String]) async throws -> ([String], RolloutPlan) {
        guard let domains = request.settings.domains else { return (hosts, request.settings.plan(total: hosts.count)) }
        let resolve = ResolveRequest(selector: request.operation.selectorJSON, domainOf: domains.spreadBy)
        let values: [String: String]
        switch await context.bus.call(Route.selectorResolve, resolve, replying: ResolveReply.self) {
        case .success(let reply): values = reply.domains ?? [:]
        case .failure(let failure): throw BusReplyError(failure.reply)
        }
        return request.settings.plan(hosts: hosts, domain: { values[$0] })
    }

    /// The rollout: what was asked, the plan, where it stands, and its progress.
    func view(_ id: String) async throws -> RollingDeployment {
        guard let r = try await store.load(id) else { throw BusReplyError.notFound("no rolling deployment '\(id)'") }
        var o = r.record
        o["request"] = nil
        o["status"] = .string(r.state.status.rawValue)
        o["halted_reason"] = r.state.haltedReason.map { .string($0) } ?? .null
        o["halt_code"] = r.state.haltCode.map { .string($0.rawValue) } ?? .null
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
        let (c, reasons) = try await BulkRecords(context.redis).countersAndReasons(r.operationID)
        let seen = RolloutState.Observation(counters: c, reasons: reasons, batchDone: false)
        var progress = RollingProgress(
            counters: BulkProgress(c), status: r.state.status, currentBatch: r.state.batch + 1, totalBatches: r.plan.batches.count,
            failureBudget: r.plan.failureBudget, failedCounted: seen.counted(r.plan), unreached: seen.unreached,
            unreachedBudget: r.plan.unreachedBudget, nextBatchAt: r.state.nextBatchAtMs.map(Self.iso))
        progress.pausedReason = r.state.status == .paused ? r.state.pausedReason : nil
        return progress
    }

    /// Newest first.
    func list(_ r: BusRequest) async throws -> RollingDeploymentList {
        let limit = try r.limit(default: 50, max: 500)
        let (cursor, status) = (try r.indexCursor(), try r.statusFilter(RolloutStatus.self))
        let (deployments, next) = try await NewestFirstIndex(context.redis, key: RedisKeys.rollingIndex).page(after: cursor, limit: limit) {
            id -> RollingDeployment? in
            guard let v = try? await view(id), status.map({ v.status == $0 }) ?? true else { return nil }
            return v
        }
        return RollingDeploymentList(deployments: deployments, nextCursor: next?.text)
    }

    /// Pause, resume, cancel or promote: 409 `invalid_transition` unless docs/domain.md, "Rollouts" allows it.
    func act(_ action: RolloutAction, _ id: String) async throws -> RollingDeployment {
        try await transition(id, action.rawValue) { r, now in try r.state.apply(action, nowMs: now, plan: r.plan, delayMs: r.delayMs) }
    }

    /// `{"id", "reason"}`: halts the rollout exactly as its failure budget would, with the reason
    /// recorded (an alerting system's, an operator's). 409 once it has ended.
    func halt(_ r: BusRequest) async -> BusReply {
        let request: RolloutHaltRequest
        do { request = try RolloutHaltRequest(json: r.body) } catch { return .validation(error) }
        return await answer(context.logger) {
            try await transition(request.id, "halt") { stored, _ in try stored.state.halt(reason: "halted: \(request.reason)") }.json
        }
    }

    /// Applies `change` through the driver; the rollout as it then stands.
    private func transition(
        _ id: String, _ name: String, _ change: (StoredRollout, Int64) throws -> (RolloutState, [RolloutState.Effect])
    ) async throws -> RollingDeployment {
        guard try await driver.transition(id, name, change) else { throw BusReplyError.notFound("no rolling deployment '\(id)'") }
        return try await view(id)
    }

    static func iso(_ ms: Int64) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
    }
}
