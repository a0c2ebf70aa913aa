import FleetContracts
import FleetRuntime
import FleetStore
import FleetTestSupport
import Testing

/// `IndexRepair`: records an index lost are listed again, once, in creation order; timestamps
/// with or without fractional seconds.
@Suite("index repair")
struct IndexRepairTests {
    @Test func timestampsWithAndWithoutFractionsAreRead() {
        #expect(IndexRepair.milliseconds("1970-01-01T00:00:01.250Z") == 1_250)
        #expect(IndexRepair.milliseconds("1970-01-01T00:00:02Z") == 2_000)
        #expect(IndexRepair.milliseconds("yesterday") == 0)
        #expect(IndexRepair.milliseconds(nil) == 0)
    }

    @Test func recordsMissingFromTheIndexAreListedAgainOnce() async throws {
        _ = try await ServiceStack.shared.handle()  // its start empties the database: not under this test
        let redis = try await RedisClient.connect(url: TestEnvironment.serviceRedisURL)
        defer { redis.close() }
        let prefix = unique("test:relist:") + ":"
        let index = prefix + "index"
        for (id, created) in [("a", 3_000), ("b", 1_000), ("skipped", 2_000)] {
            _ = try await redis.send("HSET", "\(prefix){\(id)}:record", "created_at", "\(created)")
        }
        _ = try await redis.send("ZADD", index, "5", "a")  // listed already: keeps its place
        let relist = {
            try await IndexRepair.relist(redis, recordsOf: prefix, into: index) { id in
                id == "skipped" ? nil : Int64(try await redis.send("HGET", "\(prefix){\(id)}:record", "created_at").string ?? "")
            }
        }
        #expect(try await relist() == 1)
        #expect(try await relist() == 0, "a second pass adds nothing")
        let listed = try await redis.send("ZRANGE", index, "0", "-1", "WITHSCORES").array?.compactMap(\.string) ?? []
        #expect(listed == ["a", "5", "b", "1000"])
        for id in ["a", "b", "skipped"] { _ = try await redis.send("DEL", "\(prefix){\(id)}:record") }
        _ = try await redis.send("DEL", index)
    }
}
