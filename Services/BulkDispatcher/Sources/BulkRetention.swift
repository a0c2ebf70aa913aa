import FleetContracts
import FleetCore
import FleetMessaging
import FleetRuntime
import FleetStore
import ServiceLifecycle

/// A finished operation's keys expire after the retention; this sweep trims `fleet:bulk:index`
/// of operations that have expired, and sets the expiry of a finished one whose finish a crash
/// interrupted before it did.
public struct BulkRetentionSweeper: Service {
    let engine: BulkEngine
    var context: ServiceContext { engine.context }

    public func run() async throws {
        await everyTick(engine.retention.sweepInterval) { _ in
            do { try await sweep() } catch { context.logger.warning("retention sweep failed", metadata: ["error": "\(error)"]) }
        }
    }

    func sweep() async throws {
        let redis = context.redis
        try await engine.retention.sweep(
            index: RedisKeys.bulkIndex, record: RedisKeys.bulkOperation, on: redis, nowMs: context.clock.nowMs,
            finished: { try await BulkRecords(redis).aggregate($0)?.isTerminal == true }, expire: engine.expire)
    }
}

extension BulkEngine {
    /// The operation has finished: its records are kept for the retention, then expire.
    func expire(_ op: String) async throws { try await retention.expire(HostTransitionStore.keys(op), on: context.redis) }
}
