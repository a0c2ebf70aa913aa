import FleetContracts
import FleetCore
import FleetMessaging
import FleetRuntime
import FleetStore
import ServiceLifecycle

/// A finished rollout's keys expire after the retention (set when it finishes); this sweep trims
/// `fleet:rolling:index` and `fleet:rolling:by-operation` of rollouts that have expired, and sets
/// the expiry of a finished one whose finish a crash interrupted before it did.
public struct RolloutRetentionSweeper: Service {
    let driver: RolloutDriver
    let cursor = ScanCursor()
    var context: ServiceContext { driver.context }

    public func run() async throws {
        await everyTick(driver.retention.sweepInterval) { _ in
            do { try await sweep() } catch { context.logger.warning("retention sweep failed", metadata: ["error": "\(error)"]) }
        }
    }

    func sweep() async throws {
        let redis = context.redis
        try await driver.retention.sweep(
            index: RedisKeys.rollingIndex, record: RedisKeys.rollingRecord, on: redis, nowMs: context.clock.nowMs,
            finished: { try await driver.store.load($0)?.state.status.isTerminal == true }, expire: driver.expire)
        // By-operation entries of expired rollouts, a page per sweep.
        let page = try await redis.send("HSCAN", RedisKeys.rollingByOperation, await cursor.value, "COUNT", "500").array ?? []
        await cursor.set(page.first?.string ?? "0")
        let pairs = page.count > 1 ? (page[1].array ?? []) : []
        let entries = stride(from: 0, to: pairs.count - 1, by: 2).compactMap { i in pairs[i].string.flatMap { op in pairs[i + 1].string.map { (op, $0) } } }
        guard !entries.isEmpty else { return }
        let exists = try await redis.pipeline(entries.map { RedisCommand(["EXISTS", RedisKeys.rollingRecord($0.1)]) })
        let gone = zip(entries, exists).filter { $0.1.int == 0 }.map(\.0.0)
        if !gone.isEmpty { _ = try await redis.send(RedisCommand(["HDEL", RedisKeys.rollingByOperation] + gone)) }
    }
}

/// Where an HSCAN walk stands between sweeps.
actor ScanCursor {
    private(set) var value = "0"
    func set(_ v: String) { value = v }
}

extension RolloutDriver {
    /// The rollout has finished: its records are kept for the retention, then expire.
    func expire(_ id: String) async throws {
        try await retention.expire([RedisKeys.rollingRecord(id), RedisKeys.rollingHosts(id), RedisKeys.rollingProgress(id)], on: context.redis)
    }
}
