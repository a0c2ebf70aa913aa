import FleetContracts
import FleetCore
import FleetMessaging
import FleetRuntime
import FleetStore
import Foundation
import ServiceLifecycle

/// Puts a rollout's triggers back where lost writes took them (Redis restarted on its append-only
/// file keeps all but the last second; the create's last writes are a pipeline after its
/// transaction): a rollout still going with no timer and no `fleet:rolling:by-operation` entry is
/// looked at by nothing, since the events of its operation no longer lead to it, and would stay
/// where it is for good.
///
/// Every `FLEET_RECONCILE_INTERVAL_MS` it walks `fleet:rolling:index`: a rollout queued or
/// running without a timer is looked at now (the look sets its next timer), and its operation
/// leads to it again. At start it also lists again the records missing from the index.
public struct RolloutReconciler: Service {
    let driver: RolloutDriver
    var context: ServiceContext { driver.context }
    static let page = 500

    public func run() async throws {
        var first = true
        await everyTick(context.config.reconcileInterval) { _ in
            do {
                let listed = first ? try await indexOrphans() : 0
                let woken = try await sweep()
                first = false
                if listed + woken > 0 {
                    context.logger.warning("rollout triggers repaired", metadata: ["woken": "\(woken)", "index_added": "\(listed)"])
                }
            } catch {
                context.logger.warning("rollouts not reconciled; tried again later", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Rollouts queued or running without a timer: given one now, and their operation's entry.
    func sweep() async throws -> Int {
        let redis = context.redis
        var woken = 0
        var start = 0
        while true {
            let ids =
                try await redis.send("ZRANGE", RedisKeys.rollingIndex, String(start), String(start + Self.page - 1)).array?.compactMap(\.string) ?? []
            if ids.isEmpty { return woken }
            let timers = try await redis.pipeline(ids.map { RedisCommand(["ZSCORE", RedisKeys.rollingTimers, $0]) })
            for (id, timer) in zip(ids, timers) where timer.isNull {
                guard let stored = try await driver.store.load(id), [.queued, .running].contains(stored.state.status) else { continue }
                var commands = [RedisCommand(["ZADD", RedisKeys.rollingTimers, "NX", String(context.clock.nowMs), id])]
                if let op = stored.record["bulk_operation_id"]?.stringValue {
                    commands.append(RedisCommand(["HSETNX", RedisKeys.rollingByOperation, op, id]))
                }
                try await redis.pipelineChecked(commands)
                woken += 1
            }
            if ids.count < Self.page { return woken }
            start += ids.count
        }
    }

    /// Records missing from the index, found by a scan of the keyspace (at start only).
    func indexOrphans() async throws -> Int {
        try await IndexRepair.relist(context.redis, recordsOf: "fleet:rolling:", into: RedisKeys.rollingIndex) { id in
            guard let stored = try await driver.store.load(id) else { return nil }
            return IndexRepair.milliseconds(stored.record["created_at"]?.stringValue)
        }
    }
}
