import FleetContracts
import Testing

@testable import FleetStore

/// Redis Cluster's key space as FleetStore computes it: no server needed. The vectors are the
/// Redis Cluster specification's (CRC16 of "123456789" is 0x31C3) and `CLUSTER KEYSLOT`'s answers;
/// `RedisClusterTests` checks random keys against a real cluster too.
@Suite("Redis Cluster slots and routing")
struct RedisSlotTests {
    @Test func crc16IsXmodem() {
        #expect(RedisSlot.crc16(Array("123456789".utf8)) == 0x31C3)
        #expect(RedisSlot.crc16([UInt8]()) == 0)
    }

    @Test(arguments: [
        ("foo", 12182), ("bar", 5061), ("123456789", 0x31C3 & 0x3FFF),
        // A hash tag: only what is between the first `{` and the next `}` is hashed...
        ("{user1000}.following", 3443), ("{user1000}.followers", 3443), ("foo{bar}{zap}", 5061),
        // ...unless it is empty, when all of the key is; and `{` inside a tag is part of it.
        ("foo{}{bar}", 8363), ("foo{{bar}}zap", 4015), ("{bar", 4015),
        // No closing brace after the opening one, or a `}` before any `{`: all of the key.
        ("a{b", 13340), ("}{", 12793), ("{}x", 10595),
    ])
    func slotsAreCLUSTERKEYSLOTs(key: String, slot: Int) {
        #expect(RedisSlot.of(key) == slot)
    }

    /// What lets each Lua script run unchanged on a cluster: the keys of one record share a tag.
    @Test func theKeysOfOneRecordShareASlot() {
        let op = "8f1c2a", id = "sched-1"
        let bulk = [
            RedisKeys.bulkHosts(op), RedisKeys.bulkOrder(op), RedisKeys.bulkResults(op), RedisKeys.bulkProgress(op), RedisKeys.bulkClaims(op),
            RedisKeys.bulkSent(op), RedisKeys.bulkPending(op), RedisKeys.bulkOperation(op), RedisKeys.bulkParameters(op),
        ]
        #expect(Set(bulk.map(RedisSlot.of)).count == 1)
        #expect(Set([RedisKeys.rollingRecord(id), RedisKeys.rollingHosts(id), RedisKeys.rollingProgress(id)].map(RedisSlot.of)).count == 1)
        #expect(RedisSlot.of(RedisKeys.scheduleRecord(id)) == RedisSlot.of(RedisKeys.scheduleRuns(id)))
        #expect(RedisSlot.of(RedisKeys.hosts) == RedisSlot.of(RedisKeys.hostChanges))
        #expect(RedisSlot.of(RedisKeys.groups) == RedisSlot.of(RedisKeys.groupsVersion))
    }

    @Test func routingFindsTheKeys() {
        #expect(RedisCommand("GET", "k").routing == .keys([1]))
        #expect(RedisCommand("EVALSHA", "abc", "2", "a", "b", "x").routing == .keys([3, 4]))
        #expect(RedisCommand("eval", "return 1", "0").routing == .anyNode)
        #expect(RedisCommand("DEL", "a", "b", "c").routing == .keys([1, 2, 3]))
        #expect(RedisCommand("MSET", "a", "1", "b", "2").routing == .keys([1, 3]))
        #expect(RedisCommand("XINFO", "STREAM", "s").routing == .keys([2]))
        #expect(RedisCommand("ZUNIONSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "2").routing == .keys([1, 3, 4]))
        #expect(RedisCommand("PING").routing == .anyNode)
        #expect(RedisCommand("MULTI").routing == .anyNode)
        for everywhere in ["FLUSHDB", "KEYS", "SCRIPT"] { #expect(RedisCommand(everywhere, "x").routing == .everyPrimary) }
    }

    /// A command goes to its first key's slot; one whose keys span slots is refused there by the
    /// cluster itself (`RedisClusterTests`), not guessed at here.
    @Test func aCommandGoesToItsFirstKeysSlot() {
        #expect(RedisCommand("DEL", "{a}1", "{a}2").slot == RedisSlot.of("a"))
        #expect(RedisCommand("EVALSHA", "abc", "2", "foo", "bar").slot == 12182)
        #expect(RedisCommand("XINFO", "STREAM", "bar").slot == 5061)
        #expect(RedisCommand("PING").slot == nil)
        #expect(RedisCommand("EVAL", "return 1", "0").slot == nil)
    }

    @Test func redirectionsAreRead() {
        #expect(Redirect("MOVED 3999 127.0.0.1:6381") == .moved(slot: 3999, RedisNode(host: "127.0.0.1", port: 6381)))
        #expect(Redirect("ASK 3999 10.0.0.2:7000") == .ask(RedisNode(host: "10.0.0.2", port: 7000)))
        #expect(Redirect("MOVED 1 [::1]:7000") == .moved(slot: 1, RedisNode(host: "::1", port: 7000)))
        #expect(Redirect("TRYAGAIN Multiple keys request during rehashing of slot") == .tryAgain)
        #expect(Redirect("WRONGTYPE Operation against a key holding the wrong kind of value") == nil)
        #expect(Redirect("MOVED x y") == nil)
    }

    @Test func theSlotMapIsReadFromCLUSTERSLOTS() throws {
        let asked = RedisNode(host: "10.0.0.9", port: 7000)
        let reply: RedisValue = .array([
            .array([.integer(0), .integer(8191), .array([.bulk(Array("10.0.0.1".utf8)), .integer(7001), .bulk([])])]),
            // An empty host is the node that was asked.
            .array([.integer(8192), .integer(16383), .array([.bulk([]), .integer(7002)]), .array([.bulk(Array("10.0.0.3".utf8)), .integer(7003)])]),
        ])
        let map = try RedisClusterRouter.slotMap(reply, askedAt: asked)
        #expect(map.nodes == [RedisNode(host: "10.0.0.1", port: 7001), RedisNode(host: "10.0.0.9", port: 7002)])
        #expect(map.slots[0] == 0 && map.slots[8191] == 0 && map.slots[8192] == 1 && map.slots[16383] == 1)
        #expect(throws: RedisError.self) { try RedisClusterRouter.slotMap(.array([]), askedAt: asked) }
        #expect(throws: RedisError.self) { try RedisClusterRouter.slotMap(.array([.array([.integer(5), .integer(2), .array([])])]), askedAt: asked) }
    }

    @Test func clusterURLsAreRead() throws {
        let c = try RedisConfig(url: "redis+cluster://fleet:s%40cret@10.0.0.1:7001,10.0.0.2:7002, [::1]:7003")
        #expect(c.clusterSeeds == [RedisNode(host: "10.0.0.1", port: 7001), RedisNode(host: "10.0.0.2", port: 7002), RedisNode(host: "::1", port: 7003)])
        #expect(c.username == "fleet" && c.password == "s@cret" && c.database == 0)
        #expect(try RedisConfig(url: "redis+cluster://127.0.0.1:7001/0").clusterSeeds == [RedisNode(host: "127.0.0.1", port: 7001)])
        #expect(try RedisConfig(url: "redis://127.0.0.1:6379/3").clusterSeeds == nil)
        for bad in ["redis+cluster://", "redis+cluster://127.0.0.1:7001/2", "redis+cluster://a:7001,/x:1"] {
            #expect(throws: RedisError.self, "\(bad)") { try RedisConfig(url: bad) }
        }
        #expect {
            try RedisConfig(url: "rediss://user:hunter2@h:1/0")
        } throws: { error in
            let message = (error as? RedisError)?.message ?? ""
            return !message.contains("hunter2") && message.contains("***")
        }
    }
}
