import FleetContracts
import FleetCore
import FleetMessaging
import FleetRuntime
import FleetStore
import Foundation

/// A rollout as stored: what was asked and planned (fixed at creation), and where it stands.
struct StoredRollout: Sendable {
    let record: [String: JSONValue]
    var state: RolloutState
    let rev: Int64

    var id: String { record["id"]?.stringValue ?? "" }
    var operationID: String { record["bulk_operation_id"]?.stringValue ?? "" }
    /// Decoded once per load: every look reads it.
    let plan: RolloutPlan

    init(record: [String: JSONValue], state: RolloutState, rev: Int64, plan: RolloutPlan) {
        self.record = record
        self.state = state
        self.rev = rev
        self.plan = plan
    }
    var delayMs: Int64 { (record["batch_delay_seconds"]?.intValue ?? 0) * 1000 }
}

/// The controller's records in Redis (`fleet:rolling:*`). Every state write names the `rev` it
/// read and fails if another writer (a replica, a restarted process, an operator's pause) got
/// there first: the caller reads again and decides again. So whatever runs concurrently, each
/// state is decided once, and only the writer that won acts on it.
struct RolloutStore: Sendable {
    let redis: RedisClient
    /// Facts that never change once written (a batch's hosts, an operation's rollout), remembered
    /// so a look costs fewer round trips.
    let remembered = Remembered()

    func create(record: [String: JSONValue], hosts: [String], state: RolloutState, progress: [String: String], nowMs: Int64) async throws {
        let id = record["id"]?.stringValue ?? ""
        // The record, its hosts and its progress in one transaction (one hash slot): never half-written.
        var commands = [RedisCommand(["MULTI"])]
        commands += RedisCommand.chunked(["RPUSH", RedisKeys.rollingHosts(id)], hosts)
        commands.append(
            RedisCommand([
                "HSET", RedisKeys.rollingRecord(id), "record", String(decoding: JSONCoding.encode(.object(record)), as: UTF8.self),
                "state", try Self.encode(state), "rev", "0",
            ]))
        commands.append(RedisCommand(["HSET", RedisKeys.rollingProgress(id)] + progress.flatMap { [$0.key, $0.value] }))
        commands.append(RedisCommand(["EXEC"]))
        commands.append(RedisCommand(["HSET", RedisKeys.rollingByOperation, record["bulk_operation_id"]?.stringValue ?? "", id]))
        commands.append(RedisCommand(["ZADD", RedisKeys.rollingIndex, String(nowMs), id]))
        commands.append(RedisCommand(["ZADD", RedisKeys.rollingTimers, String(nowMs), id]))
        try await redis.pipelineChecked(commands)
    }

    func load(_ id: String) async throws -> StoredRollout? {
        let parts = try await redis.send("HMGET", RedisKeys.rollingRecord(id), "record", "state", "rev").array ?? []
        guard parts.count == 3, let text = parts[0].string, case .object(let record)? = JSONCoding.decode(Array(text.utf8)),
            let stateText = parts[1].string, let state = try? JSONDecoder().decode(RolloutState.self, from: Data(stateText.utf8)),
            let rev = parts[2].string.flatMap({ Int64($0) }),
            let planJSON = record["plan"], let plan = try? JSONDecoder().decode(RolloutPlan.self, from: Data(JSONCoding.encode(planJSON)))
        else { return nil }
        return StoredRollout(record: record, state: state, rev: rev, plan: plan)
    }

    /// Writes `state` if the rollout is still at `rev`; also the dashboard fields. True if written.
    func save(_ id: String, _ state: RolloutState, ifRev rev: Int64, progress: [String: String]) async throws -> Bool {
        let reply = try await redis.eval(
            Self.compareAndSet, keys: [RedisKeys.rollingRecord(id), RedisKeys.rollingProgress(id)],
            arguments: [String(rev), try Self.encode(state)] + progress.flatMap { [$0.key, $0.value] })
        return reply.int == 1
    }

    /// After a look that changed nothing: the dashboard fields (the bulk counters as last seen)
    /// and the next look, in one round trip.
    func mirror(_ id: String, progress: [String: String], wakeAtMs: Int64?) async throws {
        try await redis.pipelineChecked([
            RedisCommand(["HSET", RedisKeys.rollingProgress(id)] + progress.flatMap { [$0.key, $0.value] }),
            wakeCommand(id, atMs: wakeAtMs),
        ])
    }

    /// The host ids of positions `range`, in order.
    func hosts(_ id: String, _ range: Range<Int>) async throws -> [String] {
        guard !range.isEmpty else { return [] }
        let key = "hosts|\(id)|\(range.lowerBound)|\(range.upperBound)"
        if let known = await remembered.value(key) { return known }
        let hosts =
            try await redis.send("LRANGE", RedisKeys.rollingHosts(id), String(range.lowerBound), String(range.upperBound - 1)).array?.compactMap(\.string) ?? []
        if hosts.count == range.count { await remembered.set(key, hosts) }
        return hosts
    }

    /// When to look at the rollout again (nil: never; it is done).
    func wake(_ id: String, atMs: Int64?) async throws {
        _ = try await redis.send(wakeCommand(id, atMs: atMs))
    }

    private func wakeCommand(_ id: String, atMs: Int64?) -> RedisCommand {
        atMs.map { RedisCommand(["ZADD", RedisKeys.rollingTimers, String($0), id]) } ?? RedisCommand(["ZREM", RedisKeys.rollingTimers, id])
    }

    func due(nowMs: Int64, limit: Int) async throws -> [String] {
        try await redis.send("ZRANGEBYSCORE", RedisKeys.rollingTimers, "-inf", String(nowMs), "LIMIT", "0", String(limit)).array?.compactMap(\.string) ?? []
    }

    /// The rollout an operation belongs to; only found answers are remembered (an operation
    /// that is no rollout's is asked again, which is rare enough: one per bulk event).
    func rollout(forOperation op: String) async throws -> String? {
        if let known = await remembered.value("op|\(op)")?.first { return known }
        let id = try await redis.send("HGET", RedisKeys.rollingByOperation, op).string
        if let id { await remembered.set("op|\(op)", [id]) }
        return id
    }

    static func encode(_ state: RolloutState) throws -> String {
        String(decoding: try JSONEncoder().encode(state), as: UTF8.self)
    }

    /// KEYS: record, progress. ARGV: expected rev, state JSON, then progress field/value pairs.
    static let compareAndSet = RedisScript(
        """
        if redis.call('HGET', KEYS[1], 'rev') ~= ARGV[1] then return 0 end
        redis.call('HSET', KEYS[1], 'state', ARGV[2])
        redis.call('HINCRBY', KEYS[1], 'rev', 1)
        if #ARGV > 2 then redis.call('HSET', KEYS[2], unpack(ARGV, 3)) end
        return 1
        """)
}

/// A bounded memory of values that never change once written; when full it forgets everything
/// (cheap, and correct: a forgotten value is read again).
actor Remembered {
    private var values: [String: [String]] = [:]
    private let capacity: Int

    init(capacity: Int = 10_000) { self.capacity = capacity }

    func value(_ key: String) -> [String]? { values[key] }

    func set(_ key: String, _ value: [String]) {
        if values.count >= capacity { values.removeAll(keepingCapacity: true) }
        values[key] = value
    }
}
