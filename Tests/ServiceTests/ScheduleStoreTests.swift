import FleetContracts
import FleetCore
import FleetStore
import FleetTestSupport
import Testing

@testable import SchedulerService

/// The scheduler's run records against a real Redis.
@Suite("schedule store")
struct ScheduleStoreTests {
    /// Two replicas starting the same pending run (one retrying it as stale while the other is
    /// still creating its operation) both get the same operation back; only one may move the run
    /// to running, so the fire is announced once.
    @Test func onlyOneStarterMovesARunOutOfPending() async throws {
        _ = try await ServiceStack.shared.handle()  // its start empties the database: not under this test
        let redis = try await RedisClient.connect(url: TestEnvironment.serviceRedisURL)
        defer { redis.close() }
        let store = ScheduleStore(redis: redis)
        let id = unique("store-")
        // A complete definition (the gateway tests list schedules while this runs), disabled, so
        // the running schedulers leave it to this test.
        let request = try ScheduleRequest(json: [
            "name": .string(id), "cron": "0 3 * * *", "operation_type": "reboot",
            "selector": ["tags": [.string(id)]], "enabled": false,
        ])
        #expect(try await store.create(id: id, definition: ScheduleHandlers.definition(request, id: id), nextRunMs: 2_000, enabled: false, nowMs: 1_000))
        #expect(
            try await !store.create(id: id, definition: ScheduleHandlers.definition(request, id: id), nextRunMs: 9_000, enabled: false, nowMs: 1_500),
            "a second create of the id writes nothing")
        #expect(try await redis.send("HGET", RedisKeys.scheduleRecord(id), "next_run").string == "2000")
        let pending: JSONValue = ["fire_at": "1970-01-01T00:00:02Z", "trigger": "cron", "kind": "bulk", "operation_id": .null, "status": "pending"]
        #expect(try await store.claim(id, expected: 2_000, next: 62_000, fireMs: 2_000, run: pending))
        var running = ScheduleRun(fireMs: 2_000, json: pending.objectValue ?? [:])
        running.json["status"] = "running"
        running.json["operation_id"] = "op-1"
        #expect(try await store.update(id, running, from: .pending), "the first starter moves it")
        #expect(try await !store.update(id, running, from: .pending), "the second finds it running already")
        #expect(try await store.run(id, 2_000)?.status == .running)
        // Without `from`, an open run still takes later news (its operation's final status).
        var done = running
        done.json["status"] = "succeeded"
        #expect(try await store.update(id, done))
        #expect(try await !store.update(id, running), "a final status is never undone")
        try await store.delete(id)
    }

    /// The race `SchedulerCrashTests` lost in CI: a run's operation announces its finish while
    /// the starter is moving the run from pending to running. Whichever lands first, the run ends
    /// with the announced status, and exactly one side (the one that moved it out of pending)
    /// announces the fire. Many rounds (the runs a schedule keeps), the two writes sent at once, so both orders happen.
    @Test func aFinishRacingTheStarterStillEndsTheRun() async throws {
        _ = try await ServiceStack.shared.handle()
        let redis = try await RedisClient.connect(url: TestEnvironment.serviceRedisURL)
        let other = try await RedisClient.connect(url: TestEnvironment.serviceRedisURL)
        defer {
            redis.close()
            other.close()
        }
        let store = ScheduleStore(redis: redis), starter = ScheduleStore(redis: other)
        let id = unique("race-")
        let request = try ScheduleRequest(json: [
            "name": .string(id), "cron": "0 3 * * *", "operation_type": "reboot", "selector": ["tags": [.string(id)]], "enabled": false,
        ])
        #expect(try await store.create(id: id, definition: ScheduleHandlers.definition(request, id: id), nextRunMs: nil, enabled: false, nowMs: 1_000))
        var endedFromPending = 0, endedFromRunning = 0
        for round in 1...ScheduleStore.history {
            let fireMs = Int64(round) * 1_000
            let pending: JSONValue = ["fire_at": "x", "trigger": "manual", "kind": "bulk", "operation_id": .null, "status": "pending"]
            #expect(try await store.claim(id, expected: nil, next: nil, fireMs: fireMs, run: pending))
            var running = ScheduleRun(fireMs: fireMs, json: pending.objectValue ?? [:])
            running.json["status"] = "running"
            running.json["operation_id"] = .string("op-\(round)")
            async let started = starter.update(id, running, from: .pending)
            async let ended = store.end(id, fireMs, operation: "op-\(round)", status: .partial)
            let (moved, end) = try await (started, ended)
            #expect(moved != (end?.from == .pending), "round \(round): one side moves it out of pending")
            if end?.from == .pending { endedFromPending += 1 } else if end?.from == .running { endedFromRunning += 1 }
            let run = try await store.run(id, fireMs)
            #expect(run?.status == .partial && run?.operationID == "op-\(round)", "round \(round): \(String(describing: run?.json))")
        }
        #expect(endedFromPending + endedFromRunning == ScheduleStore.history)
        #expect(try await store.end(id, 1_000, operation: "op-1", status: .failed) == nil, "an ended run is not ended again")
        #expect(try await store.run(id, 1_000)?.status == .partial)
        #expect(try await store.end(id, 999, operation: "op-0", status: .failed) == nil, "nor is a run that never was")
        try await store.delete(id)
    }
}
