import FleetBus
import FleetContracts
import FleetCore
import FleetMessaging
import FleetRuntime
import FleetTestSupport
import Foundation
import Testing

/// A maintenance window end to end, on an injected clock: every service of the stack reads its
/// time from `FLEET_CLOCK_OFFSET_FILE`, which the test rewrites to jump hours and a day ahead
/// between batches (nothing is in flight then), instead of sleeping. The window opens at 02:00 UTC
/// for 60 minutes.
@Suite("maintenance windows across the bus", .serialized)
struct MaintenanceWindowServiceTests {
    /// Jumps the stack's clock to `fake` (the file holds the offset from the machine's clock).
    private func setClock(_ file: URL, to fake: Date) throws {
        let offsetMs = Int64((fake.timeIntervalSinceNow * 1000).rounded())
        try Data(String(offsetMs).utf8).write(to: file, options: .atomic)
    }

    @Test(.timeLimit(.minutes(3))) func aRolloutPausesWhenItsWindowClosesAndGoesOnAtTheNextOpening() async throws {
        let stack = try await IsolatedStack.make(slot: 6)
        defer { Task { await stack.close() } }
        let bus = stack.bus
        let clockFile = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-clock-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: clockFile) }
        // The next 02:00 UTC, plus 5 minutes: inside the window.
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = TimeZone(identifier: "UTC")!
        let opening = utc.nextDate(after: Date(), matching: DateComponents(hour: 2, minute: 0, second: 0), matchingPolicy: .strict)!
        try setClock(clockFile, to: opening.addingTimeInterval(5 * 60))
        let env = stack.environment.merging(["FLEET_CLOCK_OFFSET_FILE": clockFile.path, "FLEET_RESULT_GRACE_MS": "300"]) { $1 }
        let services = try ["fleet-selector", "fleet-bulk-dispatcher", "fleet-rollout-controller", "fleet-scheduler"].map {
            try ServiceProcess($0, environment: env)
        }
        let rolloutHosts = try ServiceProcess("fleet-agent", arguments: ["--simulate", "3", "--prefix", "winroll"], environment: env)
        let scheduleHosts = try ServiceProcess("fleet-agent", arguments: ["--simulate", "2", "--prefix", "winsched"], environment: env)
        defer { (services + [rolloutHosts, scheduleHosts]).forEach { $0.stop() } }
        for service in [ServiceName.selector, .bulkDispatcher, .rolloutController, .scheduler] { try await ServiceStack.waitUntilReady(bus, service) }
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(60)) {
                await bus.call(Route.selectorResolve, ["tags": ["winroll", "winsched"]]).body?["count"] == 5
            })

        let window = await bus.call(Route.windowsPut, ["name": "nightly", "cron": "0 2 * * *", "duration_minutes": 60])
        #expect(window.status == 200 && window.body?["open"] == true, "\(window)")
        #expect(window.body?["closes_at"]?.stringValue == Events.timestamp(opening.addingTimeInterval(3600)))
        let unknown = await bus.call(
            Route.rollingCreate, ["operation_type": "reboot", "selector": ["tags": ["winroll"]], "batch_size": 1, "window": "weekend"])
        #expect(unknown.status == 422 && unknown.errorFields == ["window"], "\(unknown)")

        // Three batches of one, 30 minutes apart, in the window.
        let created = await bus.call(
            Route.rollingCreate,
            [
                "operation_type": "run_script", "selector": ["tags": ["winroll"]], "parameters": ["content": "true"], "batch_size": 1,
                "batch_delay_seconds": 1800, "window": "nightly",
            ])
        let id = try #require(created.body?["id"]?.stringValue, "\(created)")
        #expect(created.body?["window"] == "nightly")
        let schedule = await bus.call(
            Route.schedulesCreate,
            [
                "name": "in-window", "cron": "*/20 * * * *", "operation_type": "run_script", "selector": ["tags": ["winsched"]],
                "parameters": ["content": "true"], "window": "nightly",
            ])
        let scheduleID = try #require(schedule.body?["id"]?.stringValue, "\(schedule)")
        #expect(schedule.body?["window"] == "nightly")

        func progress() async -> JSONValue? { await bus.call(Route.rollingProgress, ["id": .string(id)]).body }
        func settled(succeeded n: Int) async -> Bool {
            await TestEnvironment.eventually(timeout: .seconds(30)) {
                let p = await progress()
                return p?["succeeded"]?.intValue == Int64(n) && p?["next_batch_at"] != nil && p?["next_batch_at"] != .null
            }
        }
        func runs() async -> [JSONValue] {
            await bus.call(Route.schedulesRuns, ["id": .string(scheduleID)]).body?["runs"]?.arrayValue ?? []
        }
        #expect(await settled(succeeded: 1), "batch 1 ran in the window")

        // 02:36: the delay is over inside the window: batch 2 goes; the schedule's 02:20 fires.
        try setClock(clockFile, to: opening.addingTimeInterval(36 * 60))
        #expect(await settled(succeeded: 2), "batch 2 ran in the window")
        #expect(await TestEnvironment.eventually(timeout: .seconds(30)) { await runs().first?["status"] == "succeeded" }, "the 02:20 fire ran")

        // 03:07: the delay ended after the window closed at 03:00: paused, waiting for tomorrow.
        try setClock(clockFile, to: opening.addingTimeInterval(67 * 60))
        var paused: JSONValue?
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(30)) {
                paused = await progress()
                return paused?["status"] == "paused"
            }, "\(String(describing: paused))")
        #expect(paused?["paused_reason"] == "window_closed" && paused?["succeeded"] == 2 && paused?["current_batch"] == 2)
        #expect(paused?["next_batch_at"]?.stringValue == Events.timestamp(opening.addingTimeInterval(86_400)), "the next opening")
        // The schedule's 03:00 fire fell outside: recorded, skipped.
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(30)) {
                let latest = await runs().first
                return latest?["status"] == "skipped" && latest?["reason"]?.stringValue?.hasPrefix("window_closed") == true
            }, "the 03:00 fire was skipped, window_closed")
        try await Task.sleep(for: .seconds(1))
        #expect(await progress()?["status"] == "paused", "no batch starts while the window is closed")

        // Tomorrow 02:01: it goes on where it stopped, and the schedule fires again.
        try setClock(clockFile, to: opening.addingTimeInterval(86_400 + 60))
        var final: JSONValue?
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(30)) {
                final = await bus.call(Route.rollingGet, ["id": .string(id)]).body
                return final?["status"] == "succeeded"
            }, "\(String(describing: final))")
        #expect(final?["progress"]?["succeeded"] == 3 && final?["progress"]?["paused_reason"] == nil)
        #expect(await TestEnvironment.eventually(timeout: .seconds(30)) { await runs().first?["status"] == "succeeded" }, "the 02:00 fire ran")
        #expect(await bus.call(Route.windowsList, [:]).body?["windows"]?.arrayValue?.count == 1)
        #expect(await bus.call(Route.windowsDelete, ["name": "nightly"]).status == 200)
        #expect(await bus.call(Route.windowsGet, ["name": "nightly"]).status == 404)
    }
}
