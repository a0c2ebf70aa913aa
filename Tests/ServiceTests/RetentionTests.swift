import FleetBus
import FleetContracts
import FleetCore
import FleetMessaging
import FleetRuntime
import FleetStore
import FleetTestSupport
import Foundation
import Testing

/// Finished operations, rollouts and schedule runs expire after the retention, and their owners
/// trim the indexes with them. A stack of its own (slot 5) with a retention of 2 s.
@Suite("retention", .serialized)
struct RetentionTests {
    @Test func finishedRecordsExpireAndTheirIndexesAreTrimmed() async throws {
        let stack = try await IsolatedStack.make(slot: 5)
        defer { Task { await stack.close() } }
        let (bus, redis) = (stack.bus, stack.redis)
        let env = stack.environment.merging(["FLEET_RETENTION_SECONDS": "2", "FLEET_METRICS_PORT": "0"]) { $1 }
        let processes = try ["fleet-selector", "fleet-bulk-dispatcher", "fleet-rollout-controller", "fleet-scheduler"].map {
            try ServiceProcess($0, environment: env)
        }
        let agent = try ServiceProcess("fleet-agent", arguments: ["--simulate", "3", "--prefix", "rt"], environment: env)
        defer {
            agent.stop()
            processes.forEach { $0.stop() }
        }
        for service in [ServiceName.selector, .bulkDispatcher, .rolloutController, .scheduler] { try await ServiceStack.waitUntilReady(bus, service) }
        #expect(await TestEnvironment.eventually(timeout: .seconds(60)) { await bus.call(Route.selectorResolve, ["tags": ["rt"]]).body?["count"] == 3 })
        let operation: JSONValue = ["operation_type": "run_script", "selector": ["tags": ["rt"]], "parameters": ["content": "true"]]

        // A bulk operation: finished, kept for the retention, then gone with its index entry.
        let op = try #require(await bus.call(Route.bulkCreate, operation).body?["id"]?.stringValue)
        #expect(await TestEnvironment.eventually(timeout: .seconds(30)) { await bus.call(Route.bulkGet, ["id": .string(op)]).body?["status"] == "succeeded" })
        // Set with the status in one script, so it is there as soon as the status is (-2: a slow
        // machine took the whole retention between the two reads, and the keys are already gone).
        let pttl = try await redis.send("PTTL", RedisKeys.bulkHosts(op)).int ?? -3
        #expect(pttl == -2 || (1...2_000).contains(pttl), "a finished operation's keys expire after the retention: PTTL \(pttl)")
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(20)) {
                let gone = await bus.call(Route.bulkGet, ["id": .string(op)]).status == 404
                let trimmed = (try? await redis.send("ZSCORE", RedisKeys.bulkIndex, op).isNull) ?? false
                let keys = (try? await redis.send("KEYS", "fleet:bulk:{\(op)}:*").array?.count) ?? -1
                return gone && trimmed && keys == 0
            }, "the operation, its keys and its index entry are gone")

        // A rollout, the same, and its by-operation entry.
        var rolling = operation.objectValue!
        rolling["batch_size"] = 1
        let rollout = try #require(await bus.call(Route.rollingCreate, .object(rolling)).body)
        let id = try #require(rollout["id"]?.stringValue)
        let rolloutOp = try #require(rollout["bulk_operation_id"]?.stringValue)
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(60)) { await bus.call(Route.rollingGet, ["id": .string(id)]).body?["status"] == "succeeded" })
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(20)) {
                let gone = await bus.call(Route.rollingGet, ["id": .string(id)]).status == 404
                let trimmed = (try? await redis.send("ZSCORE", RedisKeys.rollingIndex, id).isNull) ?? false
                let unlinked = (try? await redis.send("HGET", RedisKeys.rollingByOperation, rolloutOp).isNull) ?? false
                return gone && trimmed && unlinked
            }, "the rollout, its index entry and its by-operation entry are gone")

        // Schedule runs: a final run forgets its operation; a run past the retention goes when the
        // schedule writes a newer one.
        var schedule = operation.objectValue!
        schedule["name"] = "retention"
        schedule["cron"] = "0 0 1 1 *"
        let sid = try #require(await bus.call(Route.schedulesCreate, .object(schedule)).body?["id"])
        #expect(await bus.call(Route.schedulesRun, ["id": sid]).status == 201)
        var first = ""
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(30)) {
                // A loaded machine may answer the run still pending; its operation comes after.
                let run = await bus.call(Route.schedulesRuns, ["id": sid]).body?["runs"]?.arrayValue?.first
                first = run?["operation_id"]?.stringValue ?? ""
                let forgotten = (try? await redis.send("HGET", RedisKeys.schedulesByOperation, first).isNull) ?? false
                return run?["status"] == "succeeded" && !first.isEmpty && forgotten
            })
        try await Task.sleep(for: .milliseconds(2_500))
        _ = await bus.call(Route.schedulesRun, ["id": sid])
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(30)) {
                let runs = await bus.call(Route.schedulesRuns, ["id": sid]).body?["runs"]?.arrayValue ?? []
                return runs.count == 1 && runs.first?["operation_id"]?.stringValue != first
            }, "the run older than the retention went when the newer one was written")
        #expect(await bus.call(Route.schedulesGet, ["id": sid]).status == 200, "the schedule itself is not a finished record")

        // The fleet-wide gauges after this run of four operations (bulk, rollout, two schedule
        // runs; 3 hosts each): nothing in flight once they have finished, and the totals add up.
        var stats: [String: Int64] = [:]
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(30)) {
                stats = ((try? await redis.send("HGETALL", RedisKeys.fleetStats).dictionary) ?? [:]).compactMapValues(\.int)
                return stats["operations_succeeded_total"] == 4
            }, "\(stats)")
        let expected: [String: Int64] = [
            FleetStats.hostsQueued: 0, FleetStats.hostsInFlight: 0, FleetStats.operationsRunning: 0,
            "operations_created_total": 4, "hosts_targeted_total": 12, "hosts_started_total": 12, "hosts_succeeded_total": 12,
        ]
        #expect(expected.allSatisfy { stats[$0.key] == $0.value }, "\(stats)")
    }
}
