import FleetContracts
import FleetCore
import FleetMessaging
import FleetRuntime
import FleetStore
import Foundation

/// A schedule as stored.
struct StoredSchedule: Sendable {
    let id: String
    let definition: [String: JSONValue]
    let nextRunMs: Int64?
    let lastRunMs: Int64?
    let fields: [String: String]

    var request: ScheduleRequest? { try? ScheduleRequest(json: .object(definition)) }
}

/// One run: a fire instant (or a manual run) and what it created.
struct ScheduleRun: Sendable {
    typealias Status = ScheduleRunStatus
    var fireMs: Int64
    var json: [String: JSONValue]
    var status: Status? { json["status"]?.stringValue.flatMap(Status.init(rawValue:)) }
    var operationID: String? { json["operation_id"]?.stringValue }
    var isOpen: Bool { status == .pending || status == .running }
}

/// The scheduler's records in Redis (`fleet:schedules:*`).
struct ScheduleStore: Sendable {
    let redis: RedisClient
    /// Runs kept per schedule.
    static let history = 100
    /// Runs this much older than the one being written are past their retention, and go.
    var retentionMs: Int64 = 30 * 86_400_000

    /// Writes a new schedule; false (and nothing written) if one with `id` exists. The record is
    /// written only where none is, in one script, so two creates of one id (a redelivery beside
    /// the first delivery, two clients) make one schedule.
    func create(id: String, definition: JSONValue, nextRunMs: Int64?, enabled: Bool, nowMs: Int64) async throws -> Bool {
        let now = Events.timestamp(Date(timeIntervalSince1970: Double(nowMs) / 1000))
        let written = try await redis.eval(
            Self.createScript, keys: [RedisKeys.scheduleRecord(id)], arguments: [Self.text(definition), nextRunMs.map(String.init) ?? "", now])
        guard written.int == 1 else { return false }
        var commands = [RedisCommand(["ZADD", RedisKeys.schedulesIndex, String(nowMs), id])]
        if enabled, let nextRunMs { commands.append(RedisCommand(["ZADD", RedisKeys.schedulesDue, String(nextRunMs), id])) }
        try await redis.pipelineChecked(commands)
        return true
    }

    /// KEYS: record. ARGV: definition JSON, next_run ('' = none), now (ISO 8601).
    static let createScript = RedisScript(
        """
        if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
        redis.call('HSET', KEYS[1], 'definition', ARGV[1], 'next_run', ARGV[2], 'last_run', '', 'last_status', '',
          'last_operation_id', '', 'created_at', ARGV[3], 'updated_at', ARGV[3])
        return 1
        """)

    /// Replaces the definition and the next run (an update).
    func replace(id: String, definition: JSONValue, nextRunMs: Int64?, enabled: Bool, nowMs: Int64) async throws {
        var commands = [
            RedisCommand([
                "HSET", RedisKeys.scheduleRecord(id), "definition", Self.text(definition), "next_run", nextRunMs.map(String.init) ?? "",
                "updated_at", Events.timestamp(Date(timeIntervalSince1970: Double(nowMs) / 1000)),
            ])
        ]
        if enabled, let nextRunMs {
            commands.append(RedisCommand(["ZADD", RedisKeys.schedulesDue, String(nextRunMs), id]))
        } else {
            commands.append(RedisCommand(["ZREM", RedisKeys.schedulesDue, id]))
        }
        try await redis.pipelineChecked(commands)
    }

    func delete(_ id: String) async throws {
        try await redis.pipelineChecked([
            RedisCommand(["DEL", RedisKeys.scheduleRecord(id), RedisKeys.scheduleRuns(id)]),
            RedisCommand(["ZREM", RedisKeys.schedulesIndex, id]), RedisCommand(["ZREM", RedisKeys.schedulesDue, id]),
        ])
    }

    func load(_ id: String) async throws -> StoredSchedule? {
        guard let h = try await redis.send("HGETALL", RedisKeys.scheduleRecord(id)).dictionary, !h.isEmpty,
            let text = h["definition"]?.string, case .object(let definition)? = JSONCoding.decode(Array(text.utf8))
        else { return nil }
        let fields = h.compactMapValues(\.string)
        return StoredSchedule(
            id: id, definition: definition, nextRunMs: fields["next_run"].flatMap { Int64($0) },
            lastRunMs: fields["last_run"].flatMap { Int64($0) }, fields: fields)
    }

    /// Moves `next_run` from `expected` to `next` and, with `run`, claims the run of instant
    /// `fireMs` (sets `last_run`). False if `next_run` was not `expected` (another replica fired
    /// it, or the schedule was updated) or the instant already has a run.
    func claim(_ id: String, expected: Int64?, next: Int64?, fireMs: Int64?, run: JSONValue?) async throws -> Bool {
        let reply = try await redis.eval(
            Self.claimScript, keys: [RedisKeys.scheduleRecord(id), RedisKeys.scheduleRuns(id)],
            arguments: [
                expected.map(String.init) ?? "", next.map(String.init) ?? "",
                fireMs.map(String.init) ?? "", run.map(Self.text) ?? "",
            ])
        return reply.int == 1
    }

    func runs(_ id: String) async throws -> [ScheduleRun] {
        let h = try await redis.send("HGETALL", RedisKeys.scheduleRuns(id)).dictionary ?? [:]
        return h.compactMap { key, value in
            guard let ms = Int64(key), let text = value.string, case .object(let o)? = JSONCoding.decode(Array(text.utf8)) else { return nil }
            return ScheduleRun(fireMs: ms, json: o)
        }.sorted { $0.fireMs > $1.fireMs }
    }

    func run(_ id: String, _ fireMs: Int64) async throws -> ScheduleRun? {
        guard let text = try await redis.send("HGET", RedisKeys.scheduleRuns(id), String(fireMs)).string,
            case .object(let o)? = JSONCoding.decode(Array(text.utf8))
        else { return nil }
        return ScheduleRun(fireMs: fireMs, json: o)
    }

    /// Writes a run's new state, and the schedule's `last_status`/`last_operation_id` when it is
    /// the latest run. Only runs still open change (a late event cannot undo a final status); with
    /// `from`, only a run in exactly that status (so of two replicas starting the same run, one
    /// moves it to running and announces the fire). True if written.
    @discardableResult
    func update(_ id: String, _ run: ScheduleRun, from: ScheduleRun.Status? = nil) async throws -> Bool {
        let reply = try await redis.eval(
            Self.updateScript, keys: [RedisKeys.scheduleRecord(id), RedisKeys.scheduleRuns(id)],
            arguments: [
                String(run.fireMs), Self.text(.object(run.json)), run.json["status"]?.stringValue ?? "",
                run.operationID ?? "", String(Self.history), from?.rawValue ?? "", String(run.fireMs - retentionMs),
            ])
        return reply.int == 1
    }

    /// Ends an open run with its operation's final status, whatever else moves it meanwhile: a
    /// starter can move it from pending to running between this read and this write (the finish
    /// event of a fast operation races the create's reply), so the write is conditional on the
    /// status read, and read again when that lost. A status only moves forward (pending, running,
    /// final), so this settles within two tries. Answers the status it ended from (pending: the
    /// caller announces the fire), or nil if the run is gone or had ended already.
    func end(_ id: String, _ fireMs: Int64, operation op: String, status: ScheduleRun.Status) async throws -> (run: ScheduleRun, from: ScheduleRun.Status)? {
        while var run = try await run(id, fireMs), let from = run.status, run.isOpen {
            run.json["status"] = .string(status.rawValue)
            run.json["operation_id"] = .string(op)
            if try await update(id, run, from: from) { return (run, from) }
        }
        return nil
    }

    static func text(_ v: JSONValue) -> String { String(decoding: JSONCoding.encode(v), as: UTF8.self) }

    /// KEYS: record, runs. ARGV: expected next_run ("" = do not check or move it), new next_run,
    /// fire ms ("" = no run), run JSON.
    static let claimScript = RedisScript(
        """
        if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
        if ARGV[1] ~= '' then
          if redis.call('HGET', KEYS[1], 'next_run') ~= ARGV[1] then return 0 end
        end
        if ARGV[3] ~= '' then
          if redis.call('HSETNX', KEYS[2], ARGV[3], ARGV[4]) == 0 then return 0 end
          redis.call('HSET', KEYS[1], 'last_run', ARGV[3])
        end
        if ARGV[1] ~= '' then redis.call('HSET', KEYS[1], 'next_run', ARGV[2]) end
        return 1
        """)

    /// KEYS: record, runs. ARGV: fire ms, run JSON, status, operation id, history size, required
    /// current status ('' = any open one), the fire ms before which runs are past their retention.
    static let updateScript = RedisScript(
        """
        local current = redis.call('HGET', KEYS[2], ARGV[1])
        if not current then return 0 end
        local status = string.match(current, '"status":"([a-z]+)"')
        if status ~= 'pending' and status ~= 'running' then return 0 end
        if ARGV[6] ~= '' and status ~= ARGV[6] then return 0 end
        redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
        if redis.call('HGET', KEYS[1], 'last_run') == ARGV[1] then
          redis.call('HSET', KEYS[1], 'last_status', ARGV[3], 'last_operation_id', ARGV[4])
        end
        local n = redis.call('HLEN', KEYS[2])
        if n > tonumber(ARGV[5]) then
          local keys = redis.call('HKEYS', KEYS[2])
          table.sort(keys, function(a, b) return tonumber(a) < tonumber(b) end)
          for i = 1, n - tonumber(ARGV[5]) do redis.call('HDEL', KEYS[2], keys[i]) end
        end
        local cutoff = tonumber(ARGV[7])
        for _, k in ipairs(redis.call('HKEYS', KEYS[2])) do
          if tonumber(k) < cutoff then redis.call('HDEL', KEYS[2], k) end
        end
        return 1
        """)
}
