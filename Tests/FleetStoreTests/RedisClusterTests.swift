import FleetStore
import FleetTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// FleetStore against a real Redis Cluster (`scripts/cluster.sh start-redis-cluster`: 6 nodes on
/// 127.0.0.1:7101-7106, 3 primaries and 3 replicas), including a slot moved under it, a key asked
/// for mid-migration and a primary killed. Serialized: those change the cluster for what runs beside.
@Suite("Redis Cluster", .serialized)
struct RedisClusterTests {
    /// A client, once every node says the cluster is ok (a test before may have killed a node).
    private func cluster() async throws -> RedisClient {
        try #require(await ClusterNodes.allOK(), "the local Redis Cluster is not ok: scripts/cluster.sh start-redis-cluster")
        return try await RedisClient.connect(url: TestEnvironment.redisClusterURL)
    }

    @Test func everyCommandReachesItsSlotsPrimary() async throws {
        let r = try await cluster()
        defer { r.close() }
        let prefix = TestEnvironment.uniqueName("cluster")
        let keys = (0..<300).map { "\(prefix):\($0)" }
        let written = try await r.pipeline(keys.map { RedisCommand("SET", $0, "v-\($0)") })
        #expect(written.allSatisfy { $0 == .status("OK") }, "\(written.filter { $0 != .status("OK") }.prefix(3))")
        #expect(try await r.pipeline(keys.map { RedisCommand("GET", $0) }) == keys.map { .bulk(Array("v-\($0)".utf8)) }, "in order")
        #expect(Set(keys.map(RedisSlot.of)).count > 250, "spread over the slots, so over every primary")
        for key in keys.prefix(40) { #expect(try await r.send("CLUSTER", "KEYSLOT", key).int == Int64(RedisSlot.of(key)), "\(key)") }

        // A script whose keys share a hash tag runs where they live.
        let script = RedisScript("redis.call('SET', KEYS[1], ARGV[1]); return redis.call('INCRBY', KEYS[2], ARGV[1])")
        let tagged = ["\(prefix):{t}:a", "\(prefix):{t}:b"]
        #expect(try await r.eval(script, keys: tagged, arguments: ["5"]).int == 5)
        #expect(try await r.eval(script, keys: tagged, arguments: ["2"]).int == 7)
        // Keys in two slots are refused by the cluster, in place, as one node would refuse them.
        let spanning = try await r.pipeline([RedisCommand("DEL", keys[0], keys[1]), RedisCommand("GET", keys[2])])
        #expect(spanning[0].isCrossSlot, "\(spanning[0])")
        #expect(spanning[1] == .bulk(Array("v-\(keys[2])".utf8)))

        // A transaction runs on its slot's node, what is around it on theirs (the rollout store's shape).
        let around = try await r.pipeline([
            RedisCommand("SET", keys[3], "before"), RedisCommand("MULTI"), RedisCommand("SET", tagged[0], "in"),
            RedisCommand("INCR", tagged[1]), RedisCommand("EXEC"), RedisCommand("SET", keys[4], "after"),
        ])
        #expect(around[0] == .status("OK") && around[5] == .status("OK"), "\(around)")
        #expect(around[4] == .array([.status("OK"), .integer(8)]), "\(around)")

        #expect(Set(try await r.keys(matching: "\(prefix):*")) == Set(keys + tagged), "SCAN on every primary")
        _ = try await r.pipeline((keys + tagged).map { RedisCommand("DEL", $0) })
    }

    /// A slot moved from one primary to another under a client that knew the old map: mid-way, a
    /// key already moved is answered by the new owner after ASK; once it has moved, MOVED.
    @Test func aSlotMovedUnderTheClientIsFollowed() async throws {
        let r = try await cluster()
        defer { r.close() }
        let key = TestEnvironment.uniqueName("moving"), other = key + ":stays-behind"
        let slot = RedisSlot.of(key)
        _ = try await r.pipeline([RedisCommand("SET", key, "here"), RedisCommand("SET", other, "x")])
        let nodes = try await ClusterNodes.read(r)
        let source = try #require(nodes.first { $0.slots.contains(slot) }, "\(nodes)")
        let target = try #require(nodes.first { $0.isPrimary && $0.id != source.id })
        let from = try await RedisClient.connect(url: "redis://127.0.0.1:\(source.port)/0")
        let to = try await RedisClient.connect(url: "redis://127.0.0.1:\(target.port)/0")
        defer {
            from.close()
            to.close()
        }
        try await Self.move(slot, from: (source, from), to: (target, to), primaries: nodes.filter(\.isPrimary), first: key) { () async throws in
            let midway = try await r.send("GET", key).string
            #expect(midway == "here", "ASK: the key has moved, its slot not yet")
        }
        #expect(try await r.send("GET", key).string == "here", "MOVED: followed to the new owner")
        #expect(try await r.send("SET", key, "again") == .status("OK"))
        #expect(try await to.send("GET", key).string == "again", "written on the new owner")
        // Back where it was, so the cluster is as the next test expects it.
        try await Self.move(slot, from: (target, to), to: (source, from), primaries: nodes.filter(\.isPrimary), first: key) {}
        #expect(try await r.send("GET", key).string == "again")
        _ = try await r.pipeline([RedisCommand("DEL", key), RedisCommand("DEL", other)])
    }

    /// What `redis-cli --cluster reshard` does for one slot: the target importing, the source
    /// migrating, `midway` once `first` moved, the rest moved, then the new owner told to
    /// the target first (it bumps its epoch), the source, and the other primaries.
    private static func move(
        _ slot: Int, from source: (node: ClusterNodes.Node, client: RedisClient), to target: (node: ClusterNodes.Node, client: RedisClient),
        primaries: [ClusterNodes.Node], first: String, midway: () async throws -> Void
    ) async throws {
        let s = String(slot)
        #expect(try await target.client.send("CLUSTER", "SETSLOT", s, "IMPORTING", source.node.id) == .status("OK"))
        #expect(try await source.client.send("CLUSTER", "SETSLOT", s, "MIGRATING", target.node.id) == .status("OK"))
        let keys = try await source.client.send("CLUSTER", "GETKEYSINSLOT", s, "1000").array?.compactMap(\.string) ?? []
        func migrate(_ keys: [String]) async throws {
            guard !keys.isEmpty else { return }
            let reply = try await source.client.send(
                RedisCommand(["MIGRATE", "127.0.0.1", String(target.node.port), "", "0", "5000", "KEYS"] + keys))
            #expect(reply == .status("OK"), "\(reply)")
        }
        try await migrate([first])
        try await midway()
        try await migrate(keys.filter { $0 != first })
        _ = try await target.client.send("CLUSTER", "SETSLOT", s, "NODE", target.node.id)
        _ = try await source.client.send("CLUSTER", "SETSLOT", s, "NODE", target.node.id)
        for node in primaries where node.id != source.node.id && node.id != target.node.id {
            let c = try await RedisClient.connect(url: "redis://127.0.0.1:\(node.port)/0")
            _ = try await c.send("CLUSTER", "SETSLOT", s, "NODE", target.node.id)
            c.close()
        }
    }

    /// SIGKILL of a primary: within the cluster's node timeout (2 s) its replica takes over, and
    /// the same client, retrying as the services do, finds it; what was written and replicated is
    /// there. The killed node then comes back as a replica.
    @Test(.timeLimit(.minutes(1))) func aPrimaryKilledIsReplacedByItsReplicaUnderTheSameClient() async throws {
        let r = try await cluster()
        defer { r.close() }
        let key = TestEnvironment.uniqueName("failover")
        let nodes = try await ClusterNodes.read(r)
        let primary = try #require(nodes.first { $0.slots.contains(RedisSlot.of(key)) })
        let direct = try await RedisClient.connect(url: "redis://127.0.0.1:\(primary.port)/0")
        _ = try await direct.pipelineChecked([RedisCommand("SET", key, "kept")])
        #expect(try await direct.send("WAIT", "1", "2000").int == 1, "replicated before the kill")
        direct.close()

        let pidFile = TestEnvironment.repositoryRoot.appendingPathComponent(".run/cluster/redis\(primary.port)/redis/redis.pid").path
        let pid = try #require(Int32(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(kill(pid, SIGKILL) == 0)
        let killed = ContinuousClock.now
        var lastError = ""
        let found = await TestEnvironment.eventually(timeout: .seconds(30)) {
            do { return try await r.send("GET", key).string == "kept" } catch {
                lastError = "\(error)"
                return false
            }
        }
        #expect(found, "the replica serves the slot: \(lastError)")
        print("redis cluster: a killed primary's slot answered again after \(killed.duration(to: .now))")
        #expect(try await r.send("SET", key, "after") == .status("OK"))

        try await TestEnvironment.cluster("start-redis-node", String(primary.port))
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(20)) {
                let back = try? await RedisClient.connect(url: "redis://127.0.0.1:\(primary.port)/0")
                defer { back?.close() }
                // A replica, and in sync: the next kill may be of its primary.
                let info = (try? await back?.send("INFO", "replication"))?.string ?? ""
                return info.contains("role:slave") && info.contains("master_link_status:up")
            }, "the killed node rejoined as a replica")
        #expect(await ClusterNodes.allOK(), "and the cluster is whole again")
        _ = try await r.send("DEL", key)
    }
}

extension RedisValue {
    fileprivate var isCrossSlot: Bool { if case .error(let e) = self { e.hasPrefix("CROSSSLOT") } else { false } }
}

/// `CLUSTER NODES`, as far as the tests need it.
struct ClusterNodes {
    static let ports = 7101...7106

    /// Whether every node says `cluster_state:ok` within `timeout`.
    static func allOK(timeout: Duration = .seconds(20)) async -> Bool {
        await TestEnvironment.eventually(timeout: timeout) {
            for port in ports {
                guard let c = try? await RedisClient.connect(url: "redis://127.0.0.1:\(port)/0") else { return false }
                defer { c.close() }
                guard (try? await c.send("CLUSTER", "INFO"))?.string?.contains("cluster_state:ok") == true else { return false }
            }
            return true
        }
    }

    struct Node: CustomStringConvertible {
        let id: String
        let port: Int
        let isPrimary: Bool
        let slots: Set<Int>
        var description: String { "\(id.prefix(8))@\(port)\(isPrimary ? " primary" : "") \(slots.count) slots" }
    }

    static func read(_ r: RedisClient) async throws -> [Node] {
        let text = try await r.send("CLUSTER", "NODES").string ?? ""
        return text.split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ").map(String.init)
            guard f.count >= 8, let address = f[1].split(separator: "@").first, let port = address.split(separator: ":").last.flatMap({ Int($0) })
            else { return nil }
            guard !f[2].contains("fail") else { return nil }
            var slots = Set<Int>()
            for range in f.dropFirst(8) where !range.hasPrefix("[") {
                let ends = range.split(separator: "-").compactMap { Int($0) }
                if ends.count == 2 { slots.formUnion(ends[0]...ends[1]) } else if ends.count == 1 { slots.insert(ends[0]) }
            }
            return Node(id: f[0], port: port, isPrimary: f[2].contains("master"), slots: slots)
        }
    }
}
