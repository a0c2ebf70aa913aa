import FleetCore
import FleetStore
import FleetTestSupport
import Logging
import Testing

@testable import SelectorService

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

    /// A burst of requests reaching a fresh replica shares one full load, and every one of them
    /// still sees what was written before it asked.
    @Test func aBurstOnAFreshReplicaSharesOneFullLoad() async throws {
        let redis = try await RedisClient.connect(url: TestEnvironment.redisURL.replacingOccurrences(of: "/0", with: "/7"))
        defer { redis.close() }
        _ = try await redis.send("FLUSHDB")
        let store = InventoryStore(redis: redis, maxStreamLength: 10_000)
        _ = try await store.upsert((0..<2_000).map { try! FleetHost(json: ["id": .string("b\($0)"), "tags": ["burst"]]) })
        let fresh = InventoryCache(redis: redis, logger: Logger(label: "fresh"))
        let counts = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<30 {
                group.addTask {
                    try await fresh.sync()
                    return await fresh.index.count
                }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(counts.count == 30 && counts.allSatisfy { $0 == 2_000 }, "\(Set(counts))")
        #expect(await fresh.fullLoads == 1, "30 callers, one full load")
        // Written after the load: the next sync catches up without another one.
        _ = try await store.upsert([try FleetHost(json: ["id": "b-late", "tags": ["burst"]])])
        try await fresh.sync()
        #expect(await fresh.index.count == 2_001)
        #expect(await fresh.fullLoads == 1)
    }
}
