import FleetStore
import FleetTestSupport
import Testing

@Suite("Redis client against a real server")
struct RedisClientTests {
    private func client(poolSize: Int = 2) async throws -> RedisClient {
        try await RedisClient.connect(url: TestEnvironment.redisURL, poolSize: poolSize)
    }

    @Test func setGetDelete() async throws {
        let r = try await client()
        defer { r.close() }
        let key = TestEnvironment.uniqueName("kv")
        #expect(try await r.send("SET", key, "v1") == .status("OK"))
        #expect(try await r.send("GET", key).string == "v1")
        #expect(try await r.send("DEL", key).int == 1)
        #expect(try await r.send("GET", key) == .null)
    }

    @Test func argumentsAreBinarySafe() async throws {
        let r = try await client()
        defer { r.close() }
        let key = TestEnvironment.uniqueName("bin")
        let value: [UInt8] = [0, 13, 10, 255, 36, 42, 0]
        _ = try await r.send(RedisCommand(bytes: [Array("SET".utf8), Array(key.utf8), value]))
        #expect(try await r.send("GET", key) == .bulk(value))
        _ = try await r.send("DEL", key)
    }

    @Test func pipelineOfThousandCommandsKeepsOrderAndInlineErrors() async throws {
        let r = try await client()
        defer { r.close() }
        let key = TestEnvironment.uniqueName("pipe")
        var commands = (0..<1000).map { RedisCommand("RPUSH", key, "item-\($0)") }
        commands.append(RedisCommand("HSET", key, "f", "v"))  // wrong type: an error reply in place
        commands.append(RedisCommand("LLEN", key))
        let replies = try await r.pipeline(commands)
        #expect(replies.count == 1002)
        #expect(replies[0] == .integer(1))
        #expect(replies[999] == .integer(1000))
        if case .error(let e) = replies[1000] { #expect(e.hasPrefix("WRONGTYPE")) } else { Issue.record("expected WRONGTYPE") }
        #expect(replies[1001] == .integer(1000))
        let all = try await r.send("LRANGE", key, "0", "-1").array ?? []
        #expect(all.map { $0.string } == (0..<1000).map { "item-\($0)" })
        _ = try await r.send("DEL", key)
    }

    @Test func errorReplyThrowsTypedError() async throws {
        let r = try await client()
        defer { r.close() }
        do {
            _ = try await r.send("NOSUCHCOMMAND")
            Issue.record("expected an error reply")
        } catch {
            #expect(error.kind == .reply)
            #expect(!error.isRetriable)
        }
    }

    @Test func concurrentCallersEachGetTheirOwnReply() async throws {
        let r = try await client(poolSize: 3)
        defer { r.close() }
        let prefix = TestEnvironment.uniqueName("conc")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<500 {
                group.addTask {
                    let key = "\(prefix):\(i)"
                    _ = try await r.send("SET", key, "value-\(i)")
                    let got = try await r.send("GET", key).string
                    #expect(got == "value-\(i)")
                    _ = try await r.send("DEL", key)
                }
            }
            try await group.waitForAll()
        }
    }

    @Test func luaScriptRunsAtomicallyAndReloadsAfterFlush() async throws {
        let r = try await client()
        defer { r.close() }
        let key = "\(TestEnvironment.uniqueName("lua")):{x}"
        // Moves a counter only from the expected value, as per-host status transitions will.
        let transition = RedisScript(
            """
            local cur = redis.call('HGET', KEYS[1], 'status') or 'queued'
            if cur ~= ARGV[1] then return 0 end
            redis.call('HSET', KEYS[1], 'status', ARGV[2])
            redis.call('HINCRBY', KEYS[1], ARGV[2], 1)
            return 1
            """)
        #expect(try await r.eval(transition, keys: [key], arguments: ["queued", "running"]) == .integer(1))
        #expect(try await r.eval(transition, keys: [key], arguments: ["queued", "running"]) == .integer(0))
        _ = try await r.send("SCRIPT", "FLUSH")
        #expect(try await r.eval(transition, keys: [key], arguments: ["running", "succeeded"]) == .integer(1))
        let h = try await r.send("HGETALL", key).dictionary
        #expect(h?["status"]?.string == "succeeded")
        #expect(h?["running"]?.int == 1)
        #expect(h?["succeeded"]?.int == 1)
        do {
            _ = try await r.eval(RedisScript("return redis.call('NOSUCH')"), keys: [], arguments: [])
            Issue.record("expected a script error")
        } catch {
            #expect(error.kind == .reply)
        }
        _ = try await r.send("DEL", key)
    }

    @Test func authenticatesWithUserAndPasswordAndSelectsDatabase() async throws {
        let admin = try await client()
        defer { admin.close() }
        let user = TestEnvironment.uniqueName("user").replacingOccurrences(of: ".", with: "_")
        _ = try await admin.send("ACL", "SETUSER", user, "on", ">s3cret", "~*", "+@all")
        defer { Task { _ = try? await admin.send("ACL", "DELUSER", user) } }
        let base = TestEnvironment.redisURL.replacingOccurrences(of: "redis://", with: "redis://\(user):s3cret@")
        let url = base.replacingOccurrences(of: "/0", with: "/3")
        let scoped = try await RedisClient.connect(url: url)
        defer { scoped.close() }
        let key = TestEnvironment.uniqueName("db3")
        _ = try await scoped.send("SET", key, "in-db-3")
        #expect(try await admin.send("GET", key) == .null, "db 0 must not see db 3's key")
        #expect(try await scoped.send("GET", key).string == "in-db-3")
        _ = try await scoped.send("DEL", key)

        let wrong = base.replacingOccurrences(of: "s3cret", with: "wrong")
        await #expect(throws: RedisError.self) { _ = try await RedisClient.connect(url: wrong) }
    }

    @Test(arguments: ["http://127.0.0.1", "redis://", "redis://127.0.0.1/x", "redis://127.0.0.1/-1"])
    func rejectsBadURLs(url: String) {
        #expect(throws: RedisError.self) { try RedisConfig(url: url) }
    }

    @Test func parsesURL() throws {
        let c = try RedisConfig(url: "redis://:p%40ss@10.1.2.3:6380/5")
        #expect(c.host == "10.1.2.3")
        #expect(c.port == 6380)
        #expect(c.password == "p@ss")
        #expect(c.username == nil)
        #expect(c.database == 5)
    }

    @Test func closedClientRefusesWork() async throws {
        let r = try await client()
        r.close()
        do {
            _ = try await r.send("PING")
            Issue.record("expected closed")
        } catch {
            #expect(error.kind == .closed)
        }
    }
}
