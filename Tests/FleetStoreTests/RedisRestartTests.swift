import FleetStore
import FleetTestSupport
import Testing

/// Stops and starts the real Redis, so `make test` runs this suite alone, after the others.
@Suite("RedisRestartTests: the client reconnects after redis-server restarts", .serialized)
struct RedisRestartTests {
    @Test func reconnectsAfterRestart() async throws {
        let r = try await RedisClient.connect(url: TestEnvironment.redisURL, poolSize: 2)
        defer { r.close() }
        let key = TestEnvironment.uniqueName("restart")
        _ = try await r.send("SET", key, "before")
        try await TestEnvironment.stack("stop-redis")

        do {
            _ = try await r.send("GET", key)
            Issue.record("a command while Redis is down must fail")
        } catch {
            #expect(error.isRetriable, "\(error)")
        }

        try await TestEnvironment.stack("start-redis")
        let back = await TestEnvironment.eventually(timeout: .seconds(30)) {
            (try? await r.send("PING")) == .status("PONG")
        }
        #expect(back)
        // Every pool connection recovers, not only the first one tried.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<50 { group.addTask { _ = try await r.send("SET", "\(key):\(i)", "after") } }
            try await group.waitForAll()
        }
        #expect(try await r.send("GET", "\(key):7").string == "after")
        for i in 0..<50 { _ = try await r.send("DEL", "\(key):\(i)") }
    }
}
