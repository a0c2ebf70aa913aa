import Crypto
import FleetContracts
import FleetCore
import FleetMessaging
import FleetRuntime
import FleetStore
import Foundation
import ServiceLifecycle

/// The scheduler's commands: create, get, list, update (replaces the definition), delete, run
/// (now, obeying the overlap policy), runs (history, newest first).
public struct ScheduleHandlers: Sendable {
    let firing: ScheduleFiring
    var context: ServiceContext { firing.context }
    var store: ScheduleStore { firing.store }

    /// The command handlers and the background services that fire schedules, sharing one firing.
    @Sendable public static func assemble(_ context: ServiceContext) -> ServiceAssembly {
        let firing = ScheduleFiring(context: context)
        return ServiceAssembly(
            routes: ScheduleHandlers(firing: firing).routes.merging(WindowHandlers(context: context).routes) { a, _ in a },
            background: [
                ScheduleClock(firing: firing), FinishedEventsConsumer(firing: firing),
                WebhookSender(Webhooks(context: context, service: .scheduler), context: context),
            ])
    }

    var routes: [String: CommandHandler] {
        [
            Route.schedulesCreate: { r in
                // 201 for a new schedule, 200 for the same create again (its message id).
                var created = true
                let reply = await answer(context.logger) {
                    let (schedule, isNew) = try await create(r)
                    created = isNew
                    return schedule
                }
                return created ? reply.created : reply
            },
            Route.schedulesGet: { r in await answer(context.logger) { try await view(r.requiredString()) } },
            Route.schedulesList: { r in await answer(context.logger) { try await list(r) } },
            Route.schedulesUpdate: { r in await answer(context.logger) { try await update(r) } },
            Route.schedulesDelete: { r in await answer(context.logger) { try await delete(r.requiredString()) } },
            Route.schedulesRun: { r in await answer(context.logger) { .object(try await firing.runNow(r.requiredString()).json) }.created },
            Route.schedulesRuns: { r in await answer(context.logger) { try await runs(r) } },
        ]
    }

    /// The definition as stored: the request's fields with defaults filled in.
    static func definition(_ request: ScheduleRequest, id: String) -> JSONValue {
        var o = request.operationJSON
        o["id"] = .string(id)
        o["name"] = .string(request.name)
        o["cron"] = .string(request.cron)
        o["timezone"] = .string(request.timezone)
        o["enabled"] = .bool(request.enabled)
        o["misfire_policy"] = .string(request.misfirePolicy.rawValue)
        o["overlap_policy"] = .string(request.overlapPolicy.rawValue)
        o["rolling"] = request.rollingJSON ?? .null
        if let window = request.window { o["window"] = .string(window) }
        if let notify = request.notify { o["notify"] = notify.json }
        return .object(o)
    }

    /// The new schedule (true), or the one this same create made before (false). Without an `id`
    /// in the body the id comes from the command's `message_id` (the Idempotency-Key, or the id
    /// every bus request carries), so a create delivered twice after a crash makes one schedule;
    /// the same key with another body is a 409.
    func create(_ r: BusRequest) async throws -> (JSONValue, Bool) {
        let request = try ScheduleRequest(json: r.body)
        try await requireWindow(request.window)
        try requireWebhookHost(request.notify)
        let given = try RecordID.optional(r.body["id"], field: "id")
        let id = given ?? r.messageID.map(Self.id(forMessageID:)) ?? newID(prefix: "sch-")
        let definition = Self.definition(request, id: id)
        let now = context.clock.nowMs
        let next = ScheduleTiming.firstRun(request.schedule, now: ScheduleFiring.date(now)).map(ScheduleFiring.ms)
        if try await store.create(id: id, definition: definition, nextRunMs: next, enabled: request.enabled, nowMs: now) {
            return (try await view(id), true)
        }
        guard given == nil, r.messageID != nil else {
            throw ConflictError(code: "exists", "schedule '\(id)' exists; update it with schedules.update")
        }
        guard let existing = try await store.load(id), JSONValue.object(existing.definition) == definition else {
            throw ConflictError(code: "idempotency_conflict", "this Idempotency-Key was used with another body")
        }
        return (try await view(id), false)
    }

    /// A schedule may name only a window that exists (422 naming `window`).
    func requireWindow(_ name: String?) async throws {
        guard let name, try await WindowRecords.load(context.redis, name) == nil else { return }
        throw ValidationError("window", .unknownWindow, "no maintenance window '\(name)'")
    }

    func requireWebhookHost(_ notify: Notify?) throws(ValidationError) {
        guard let notify, !notify.isAllowed(by: context.config.webhookHosts) else { return }
        throw ValidationError("notify.url", .invalidValue, "the webhook's host is not one FLEET_WEBHOOK_HOSTS lists")
    }

    /// `sch-` and 64 bits of the message id's SHA-256: the same id for the same create, and no
    /// client-chosen key can aim at another's schedule.
    static func id(forMessageID messageID: String) -> String {
        "sch-" + SHA256.hash(data: Array(messageID.utf8)).prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    /// Replaces the definition; `next_run` is computed again from now.
    func update(_ r: BusRequest) async throws -> JSONValue {
        let id = try r.requiredString()
        guard try await store.load(id) != nil else { throw BusReplyError.notFound("no schedule '\(id)'") }
        var body = r.body
        if case .object(var o) = body {
            o["id"] = nil
            body = .object(o)
        }
        let request = try ScheduleRequest(json: body)
        try await requireWindow(request.window)
        try requireWebhookHost(request.notify)
        let now = context.clock.nowMs
        let next = ScheduleTiming.firstRun(request.schedule, now: ScheduleFiring.date(now)).map(ScheduleFiring.ms)
        try await store.replace(id: id, definition: Self.definition(request, id: id), nextRunMs: next, enabled: request.enabled, nowMs: now)
        return try await view(id)
    }

    func delete(_ id: String) async throws -> JSONValue {
        guard try await store.load(id) != nil else { throw BusReplyError.notFound("no schedule '\(id)'") }
        try await store.delete(id)
        return Deleted(id: id).json
    }

    /// The definition plus `next_run` (always shown: for a disabled schedule, when it would fire),
    /// `last_run`, `last_status`, `last_operation_id`, `created_at`, `updated_at`.
    func view(_ id: String) async throws -> JSONValue {
        guard let s = try await store.load(id) else { throw BusReplyError.notFound("no schedule '\(id)'") }
        var o = s.definition
        var next = s.nextRunMs
        if let request = s.request, !request.enabled {
            next = ScheduleTiming.firstRun(request.schedule, now: context.clock.now).map(ScheduleFiring.ms)
        }
        o["next_run"] = next.map { .string(Events.timestamp(ScheduleFiring.date($0))) } ?? .null
        o["last_run"] = s.lastRunMs.map { .string(Events.timestamp(ScheduleFiring.date($0))) } ?? .null
        for key in ["last_status", "last_operation_id"] { o[key] = s.fields[key].flatMap { $0.isEmpty ? nil : .string($0) } ?? .null }
        for key in ["created_at", "updated_at"] { o[key] = s.fields[key].map { .string($0) } ?? .null }
        return .object(o)
    }

    /// Newest first.
    func list(_ r: BusRequest) async throws -> JSONValue {
        let limit = try r.limit(default: 100, max: 1000)
        let (cursor, status) = (try r.indexCursor(), try r.statusFilter(ScheduleState.self))
        let (schedules, next) = try await NewestFirstIndex(context.redis, key: RedisKeys.schedulesIndex).page(after: cursor, limit: limit) {
            id -> JSONValue? in
            guard let v = try? await view(id), status.map({ ScheduleState(enabled: v["enabled"]) == $0 }) ?? true else { return nil }
            return v
        }
        return ScheduleList(schedules: schedules, nextCursor: next?.text).json
    }

    /// Newest first; `cursor` is the fire time (ms) the page before ended on.
    func runs(_ r: BusRequest) async throws -> JSONValue {
        let id = try r.requiredString()
        let limit = try r.limit(default: ScheduleStore.history, max: ScheduleStore.history)
        let status = try r.statusFilter(ScheduleRun.Status.self)
        let cursor: Int64?
        switch r.body["cursor"] {
        case nil, .null?: cursor = nil
        case .string(let text)? where Int64(text).map({ $0 >= 0 }) ?? false: cursor = Int64(text)
        default: throw ValidationError("cursor", .invalidValue, "cursor is the next_cursor of the page before (a fire time in ms)")
        }
        guard try await store.load(id) != nil else { throw BusReplyError.notFound("no schedule '\(id)'") }
        let runs = try await store.runs(id).filter { run in
            (cursor.map { run.fireMs < $0 } ?? true) && (status.map { run.status == $0 } ?? true)
        }
        let page = runs.prefix(limit)
        let next = runs.count > limit ? page.last.map { String($0.fireMs) } : nil
        return ScheduleRunList(runs: page.map { .object($0.json) }, nextCursor: next).json
    }

}
