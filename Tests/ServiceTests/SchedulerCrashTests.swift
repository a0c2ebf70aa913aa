import FleetBus
import FleetContracts
import FleetCore
import FleetMessaging
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
        let stack = try await IsolatedStack.make(slot: 3)
        defer { Task { await stack.close() } }
        let env = stack.environment, bus = stack.bus
        let selector = try ServiceProcess("fleet-selector", environment: env)
        let dispatcher = try ServiceProcess("fleet-bulk-dispatcher", environment: env)
        var scheduler = try ServiceProcess("fleet-scheduler", environment: env)
        defer {
            scheduler.stop()
            dispatcher.stop()
            selector.stop()
        }
        try await ServiceStack.waitUntilReady(bus, .scheduler)
        try await ServiceStack.waitUntilReady(bus, .selector)
        _ = await bus.call(Route.hostsUpsert, ["id": "crash-host", "tags": ["crash"], "approval_status": "approved"])
        let created = await bus.call(
            Route.schedulesCreate,
            [
                "name": "every minute", "operation_type": "reboot", "selector": ["tags": ["crash"]],
                "cron": "* * * * *",
            ])
        let id = try #require(created.body?["id"])
        var instant = try #require(created.body?["next_run"]?.stringValue.flatMap { try? Date($0, strategy: .iso8601) })
        if instant.timeIntervalSinceNow < 8 { instant += 60 }  // room to kill it before the instant
        try await Task.sleep(for: .seconds(instant.timeIntervalSinceNow - 4))
        await scheduler.kill9()
        try await Task.sleep(for: .seconds(instant.timeIntervalSinceNow + 4))  // down across the instant
        scheduler = try ServiceProcess("fleet-scheduler", environment: env)

        var runs: [JSONValue] = []
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(30)) {
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
