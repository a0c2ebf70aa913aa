import FleetBus
import FleetContracts
import FleetCore
import FleetRuntime
import FleetStore
import FleetTestSupport
import Foundation
import Testing

/// Kills the only scheduler with SIGKILL a few seconds before a fire instant and starts it again a
/// few seconds after: the instant fires exactly once. Runs in a vhost and Redis database (10) of
/// its own, so the killing disturbs no other test.
@Suite("scheduler crash", .serialized)
struct SchedulerCrashTests {
    @Test func killedAcrossAFireInstantFiresItExactlyOnce() async throws {
        try TestEnvironment.stack("ensure-vhost", "fleet-test-scheduler-crash")
        let amqp = TestEnvironment.serviceAMQPURL.replacingOccurrences(of: "/fleet-test", with: "/fleet-test-scheduler-crash")
        let redisURL = TestEnvironment.redisURL.replacingOccurrences(of: "/0", with: "/10")
        let redis = try await RedisClient.connect(url: redisURL)
        defer { redis.close() }
        _ = try await redis.send("FLUSHDB")
        let env = ["FLEET_AMQP_URL": amqp, "FLEET_REDIS_URL": redisURL]
        let selector = try ServiceProcess("fleet-selector", environment: env)
        let dispatcher = try ServiceProcess("fleet-bulk-dispatcher", environment: env)
        var scheduler = try ServiceProcess("fleet-scheduler", environment: env)
        defer {
            scheduler.terminate()
            dispatcher.terminate()
            selector.terminate()
        }
        let connection = try await AMQPConnection.connect(url: amqp, name: "scheduler-crash-test")
        defer { Task { await connection.close() } }
        let bus = BusClient(rpc: try await RPCClient.start(on: connection), timeout: .seconds(15))
        try await ServiceStack.waitUntilReady(bus, .scheduler)
        try await ServiceStack.waitUntilReady(bus, .selector)
        _ = await bus.call(Route.hostsUpsert, ["id": "crash-host", "tags": ["crash"], "approval_status": "approved"])
        let created = await bus.call(Route.schedulesCreate, ["name": "every minute", "operation_type": "reboot", "selector": ["tags": ["crash"]],
                                                             "cron": "* * * * *"])
        let id = try #require(created.body?["id"])
        var instant = try #require(created.body?["next_run"]?.stringValue.flatMap { try? Date($0, strategy: .iso8601) })
        if instant.timeIntervalSinceNow < 8 { instant += 60 }  // room to kill it before the instant
        try await Task.sleep(for: .seconds(instant.timeIntervalSinceNow - 4))
        scheduler.kill9()
        try await Task.sleep(for: .seconds(instant.timeIntervalSinceNow + 4))  // down across the instant
        scheduler = try ServiceProcess("fleet-scheduler", environment: env)

        var runs: [JSONValue] = []
        #expect(await TestEnvironment.eventually(timeout: .seconds(30)) {
            runs = await bus.call(Route.schedulesRuns, ["id": id]).body?["runs"]?.arrayValue ?? []
            return runs.contains { $0["fire_at"]?.stringValue.flatMap { try? Date($0, strategy: .iso8601) } == instant && $0["status"] == "failed" }
        }, "\(runs)")
        let atInstant = runs.filter { $0["fire_at"]?.stringValue.flatMap { try? Date($0, strategy: .iso8601) } == instant }
        #expect(atInstant.count == 1 && atInstant.first?["missed"] == 0, "\(runs)")
        // Nothing else fired: the instant before the kill (if any) and this one only.
        #expect(runs.count <= 2)
        _ = await bus.call(Route.schedulesDelete, ["id": id])
    }
}
