import FleetCore
import FleetStore
import FleetTestSupport
import Logging
@testable import SelectorService
import Testing

/// Two selector replicas over one Redis, with a change stream so short that one replica falls
/// behind the trimmed window and must reload. Redis database 7 is this suite's alone.
@Suite("selector replicas and the change feed", .serialized)
struct InventoryReplicaTests {
    @Test func aReplicaBehindTheTrimmedWindowReloadsAndConverges() async throws {
        let redis = try await RedisClient.connect(url: TestEnvironment.redisURL.replacingOccurrences(of: "/0", with: "/7"))
        defer { redis.close() }
        _ = try await redis.send("FLUSHDB")
        let store = InventoryStore(redis: redis, maxStreamLength: 10)
        let writer = InventoryCache(redis: redis, logger: Logger(label: "writer"))
        let laggard = InventoryCache(redis: redis, logger: Logger(label: "laggard"))
        func host(_ i: Int, _ tag: String) -> FleetHost { try! FleetHost(json: ["id": .string("h\(i)"), "tags": [.string(tag)]]) }

        _ = try await store.upsert((0..<5).map { host($0, "v1") })
        try await writer.sync()
        try await laggard.sync()
        #expect(await laggard.index.count == 5)
        #expect(await laggard.fullLoads == 1)

        // The writer keeps up, one change at a time; the laggard sleeps through 400 changes.
        for i in 0..<300 {
            _ = try await store.upsert([host(i, "v2")])
            try await writer.sync()
        }
        for i in stride(from: 0, to: 300, by: 3) {
            #expect(try await store.delete("h\(i)"))
            try await writer.sync()
        }
        let trimmed = try await redis.send("XLEN", "fleet:{hosts}:changes").int ?? 0
        #expect(trimmed < 300, "the stream was trimmed (\(trimmed) entries left)")

        try await laggard.sync()
        #expect(await laggard.fullLoads == 2, "fell behind the trim horizon: must reload")
        let expected = Set((0..<300).filter { $0 % 3 != 0 }.map { "h\($0)" })
        #expect(Set(await laggard.index.hosts.map(\.id)) == expected)
        #expect(Set(await writer.index.hosts.map(\.id)) == expected)
        #expect(await writer.fullLoads == 1, "a replica that keeps up never reloads")
        #expect(await laggard.index.hosts.allSatisfy { $0[.tags] == .strings(["v2"]) })
    }
}
