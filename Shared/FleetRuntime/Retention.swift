import FleetMessaging
import FleetStore

/// How long finished records are kept (`FLEET_RETENTION_SECONDS`, default 30 days), and the two
/// moves every owner makes with it: expire a finished record's keys, and trim its index of
/// entries whose record has expired. Each owner runs them on its own keys only.
public struct Retention: Sendable {
    public let seconds: Int

    public init(_ config: ServiceConfig) { seconds = config.retentionSeconds }

    public init(seconds: Int) { self.seconds = seconds }

    /// How often owners sweep: often enough that an index lags its records by a quarter of the
    /// retention at most, and at least every minute.
    public var sweepInterval: Duration { .seconds(max(1, min(60, seconds / 4))) }

    /// Sets every key to expire after the retention (a key written later keeps its expiry: HSET
    /// and ZADD do not clear it).
    public func expire(_ keys: [String], on redis: RedisClient) async throws {
        try await redis.pipelineChecked(keys.map { RedisCommand(["EXPIRE", $0, String(seconds)]) })
    }

    /// One sweep of an owner's index (scored by creation, in ms): the entries older than the
    /// retention whose `record` key has expired go, and an old record that is `finished` but has no
    /// expiry (a crash came between its finish and its `expire`) gets one.
    public func sweep(
        index: String, record: (String) -> String, on redis: RedisClient, nowMs: Int64,
        finished: (String) async throws -> Bool, expire: (String) async throws -> Void
    ) async throws {
        for id in try await trim(index: index, record: record, on: redis, nowMs: nowMs) where try await redis.send("TTL", record(id)).int == -1 {
            if try await finished(id) { try await expire(id) }
        }
    }

    /// Removes from `index` the entries older than the retention whose `record` key is gone, at
    /// most `limit` a call; answers the old entries whose record is still there.
    private func trim(index: String, record: (String) -> String, on redis: RedisClient, nowMs: Int64, limit: Int = 500) async throws -> [String] {
        let cutoff = nowMs - Int64(seconds) * 1000
        let old =
            try await redis.send(RedisCommand(["ZRANGEBYSCORE", index, "-inf", "(\(cutoff)", "LIMIT", "0", String(limit)])).array?.compactMap(\.string) ?? []
        guard !old.isEmpty else { return [] }
        let exists = try await redis.pipeline(old.map { RedisCommand(["EXISTS", record($0)]) })
        let gone = zip(old, exists).filter { $0.1.int == 0 }.map(\.0)
        if !gone.isEmpty { _ = try await redis.send(RedisCommand(["ZREM", index] + gone)) }
        return zip(old, exists).filter { $0.1.int == 1 }.map(\.0)
    }
}
