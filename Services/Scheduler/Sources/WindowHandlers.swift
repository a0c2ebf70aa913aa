import FleetContracts
import FleetCore
import FleetMessaging
import FleetRuntime
import FleetStore
import Foundation

/// `windows.*`: named maintenance windows (`fleet:windows`). The scheduler owns them (it owns the
/// cron), fires schedules only inside theirs, and the rollout controller reads them.
struct WindowHandlers: Sendable {
    let context: ServiceContext

    var routes: [String: CommandHandler] {
        [
            Route.windowsPut: { r in await answer(context.logger) { try await put(MaintenanceWindow(json: r.body)) } },
            Route.windowsGet: { r in await answer(context.logger) { try await get(r.requiredString("name")) } },
            Route.windowsList: { _ in await answer(context.logger) { try await list() } },
            Route.windowsDelete: { r in await answer(context.logger) { try await delete(r.requiredString("name")) } },
        ]
    }

    /// Creates or replaces the window of that name.
    func put(_ window: MaintenanceWindow) async throws -> JSONValue {
        _ = try await context.redis.send("HSET", RedisKeys.windows, window.name, String(decoding: JSONCoding.encode(window.json), as: UTF8.self))
        return view(window)
    }

    func get(_ name: String) async throws -> JSONValue {
        guard let window = try await WindowRecords.load(context.redis, name) else { throw BusReplyError.notFound("no window '\(name)'") }
        return view(window)
    }

    func list() async throws -> JSONValue {
        ["windows": .array(try await WindowRecords.all(context.redis).map(view))]
    }

    /// Rollouts and schedules that name a deleted window wait for one of that name again (a
    /// rollout stays paused `window_closed`; a schedule's fires are skipped).
    func delete(_ name: String) async throws -> JSONValue {
        guard try await context.redis.send("HDEL", RedisKeys.windows, name).int == 1 else { throw BusReplyError.notFound("no window '\(name)'") }
        return ["name": .string(name), "deleted": true]
    }

    /// The definition, and where it stands now: `open`, `closes_at` while open, `next_opening`.
    func view(_ window: MaintenanceWindow) -> JSONValue {
        guard case .object(var o) = window.json else { return window.json }
        let now = context.clock.now
        switch window.state(at: now) {
        case .open(let until):
            o["open"] = true
            o["closes_at"] = .string(Events.timestamp(until))
            o["next_opening"] = window.schedule.nextFire(after: now).map { .string(Events.timestamp($0)) } ?? .null
        case .closed(let opensAt):
            o["open"] = false
            o["closes_at"] = .null
            o["next_opening"] = opensAt.map { .string(Events.timestamp($0)) } ?? .null
        }
        return .object(o)
    }
}
