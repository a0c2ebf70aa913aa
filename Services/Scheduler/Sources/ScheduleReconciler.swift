import FleetContracts
import FleetCore
import FleetRuntime
import FleetStore
import Foundation

/// Puts the scheduler's timers back in line with its records, which is what losing writes can
/// break (Redis restarted on its append-only file keeps all but the last second, in order; a
/// pipeline is not atomic): a schedule that is enabled but not in `fleet:schedules:due` would never
/// fire again, and one whose due score is later than its `next_run` would fire late. Every other
/// drift already heals itself: `fireIfDue` reads the record before it fires, so a due entry that
/// is too early or names a disabled or deleted schedule only costs a look.
///
/// A sweep walks `fleet:schedules:index`: a schedule without a record leaves the index; an
/// enabled one without `next_run` gets one from its cron; an enabled one whose due score is not
/// its `next_run` gets it. At start, records missing from the index (their create's last write
/// was lost) are listed again.
struct ScheduleReconciler: Sendable {
    let firing: ScheduleFiring
    var redis: RedisClient { firing.context.redis }
    static let page = 500

    struct Repairs: Equatable, Sendable {
        var dueSet = 0
        var nextRunSet = 0
        var indexEntriesRemoved = 0
        var indexEntriesAdded = 0
        var any: Bool { self != Repairs() }
    }

    func sweep(nowMs: Int64) async throws -> Repairs {
        var repairs = Repairs()
        var start = 0
        while true {
            let ids =
                try await redis.send("ZRANGE", RedisKeys.schedulesIndex, String(start), String(start + Self.page - 1)).array?.compactMap(\.string)
                ?? []
            if ids.isEmpty { return repairs }
            let removedBefore = repairs.indexEntriesRemoved
            // One round trip reads the page: each record's definition and next_run, and its due score.
            let replies = try await redis.pipeline(
                ids.flatMap { id in
                    [
                        RedisCommand(["HMGET", RedisKeys.scheduleRecord(id), "definition", "next_run"]),
                        RedisCommand(["ZSCORE", RedisKeys.schedulesDue, id]),
                    ]
                })
            guard replies.count == 2 * ids.count else { throw RedisError(.reply, "unexpected reconcile reply") }
            for (n, id) in ids.enumerated() { try await reconcile(id, record: replies[2 * n], due: replies[2 * n + 1], nowMs: nowMs, &repairs) }
            if ids.count < Self.page { return repairs }
            start += ids.count - (repairs.indexEntriesRemoved - removedBefore)  // removed entries shift the rest down
        }
    }

    private func reconcile(_ id: String, record: RedisValue, due dueScore: RedisValue, nowMs: Int64, _ repairs: inout Repairs) async throws {
        guard let fields = record.array, fields.count == 2 else { return }
        guard let text = fields[0].string else {
            // No record: deleted (its index entry outlived it), or lost with its create.
            _ = try await redis.pipeline([
                RedisCommand(["ZREM", RedisKeys.schedulesIndex, id]), RedisCommand(["ZREM", RedisKeys.schedulesDue, id]),
            ])
            repairs.indexEntriesRemoved += 1
            return
        }
        guard let definition = JSONCoding.decode(Array(text.utf8)), let request = try? ScheduleRequest(json: definition), request.enabled else {
            return  // a disabled schedule's due entry, if any, goes when it comes due
        }
        var next = fields[1].string.flatMap { Int64($0) }
        if next == nil {
            guard let computed = ScheduleTiming.firstRun(request.schedule, now: ScheduleFiring.date(nowMs)).map(ScheduleFiring.ms) else { return }
            next = try await redis.eval(Self.setNextRunScript, keys: [RedisKeys.scheduleRecord(id)], arguments: [String(computed)]).int
            repairs.nextRunSet += 1
        }
        guard let next else { return }
        let due = dueScore.string.flatMap { Double($0) }.map { Int64($0) }
        if due != next {
            _ = try await redis.send("ZADD", RedisKeys.schedulesDue, String(next), id)
            repairs.dueSet += 1
        }
    }

    /// Records missing from the index, found by a scan of the keyspace (at start only: it reads
    /// every key name once).
    func indexOrphans() async throws -> Repairs {
        var repairs = Repairs()
        repairs.indexEntriesAdded = try await IndexRepair.relist(redis, recordsOf: "fleet:schedules:", into: RedisKeys.schedulesIndex) { id in
            IndexRepair.milliseconds(try await redis.send("HGET", RedisKeys.scheduleRecord(id), "created_at").string)
        }
        return repairs
    }

    /// KEYS: record. ARGV: next_run (ms). Sets `next_run` only where it is still empty; answers the
    /// one in force (nil without a record).
    static let setNextRunScript = RedisScript(
        """
        local current = redis.call('HGET', KEYS[1], 'next_run')
        if current == false then return false end
        if current ~= '' then return tonumber(current) end
        redis.call('HSET', KEYS[1], 'next_run', ARGV[1])
        return tonumber(ARGV[1])
        """)
}
