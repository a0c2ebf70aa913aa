import FleetBus
import FleetContracts
import FleetCore
import FleetMessaging
import FleetRuntime
import FleetTestSupport
import Foundation
import Synchronization
import Testing

@Suite("bulk operations over the bus")
struct BulkServiceTests {
    /// Four hosts (the last one pending approval), bound to a test agent that holds their commands
    /// without running them, so they stay queued.
    private func fleet(_ s: ServiceStack.Handle) async throws -> (String, TestAgent) {
        let tag = unique("bulk")
        let hosts: [JSONValue] = ["approved", "approved", "approved", "pending"].enumerated().map { i, a in
            ["id": .string("\(tag)-\(i)"), "tags": [.string(tag)], "approval_status": .string(a)]
        }
        _ = await s.bus.call(Route.hostsUpsert, ["hosts": .array(hosts)])
        return (tag, try await TestAgent.bind((0..<4).map { "\(tag)-\($0)" }))
    }

    @Test func createSnapshotsTargetsAndSkipsHostsNotApproved() async throws {
        let s = try await ServiceStack.shared.handle()
        let (tag, agent) = try await fleet(s)
        defer { Task { await agent.close() } }
        let r = await s.bus.call(
            Route.bulkCreate,
            [
                "operation_type": "run_script", "selector": ["tags": [.string(tag)]],
                "parameters": ["content": "uptime"],
            ])
        #expect(r.status == 201, "\(r)")
        let id = try #require(r.body?["id"]?.stringValue)
        #expect(r.body?["total"] == 4)
        #expect(r.body?["parameters"]?["shell"] == "bash", "stored with defaults filled in")
        let p = await s.bus.call(Route.bulkProgress, ["id": .string(id)])
        #expect(p.body?["percent_complete"]?.doubleValue == 25.0)
        guard case .object(var counts)? = p.body else {
            Issue.record("no progress")
            return
        }
        counts["percent_complete"] = nil
        #expect(counts == ["total": 4, "queued": 3, "running": 0, "succeeded": 0, "failed": 0, "skipped": 1])
        #expect(await s.bus.call(Route.bulkGet, ["id": .string(id)]).body?["status"] == "running")
        let skipped = await s.bus.call(Route.bulkHosts, ["id": .string(id), "status": "skipped"])
        #expect(skipped.body?["hosts"] == [["host_id": .string("\(tag)-3"), "status": "skipped", "reason": "not_approved"]])
        // An unknown status is refused, not answered with an empty page.
        let unknown = await s.bus.call(Route.bulkHosts, ["id": .string(id), "status": "done"])
        #expect(unknown.status == 422 && unknown.errorFields == ["status"], "\(unknown)")
        // Dashboards read the same counters straight from Redis.
        let fromRedis = try await s.redis.send("HGET", RedisKeys.bulkProgress(id), "queued").int
        #expect(fromRedis == 3)
        // A full page: the suites beside this one create operations too, newer than this one.
        let listed = await s.bus.call(Route.bulkList, ["limit": 500])
        #expect(listed.body?["operations"]?.arrayValue?.contains { $0["id"] == .string(id) } == true)
    }

    @Test func badRequestsAndEmptySelections() async throws {
        let s = try await ServiceStack.shared.handle()
        let cases: [(JSONValue, String)] = [
            (["selector": ["tags": ["x"]], "parameters": ["content": "x"]], "operation_type"),
            (["operation_type": "run_script", "selector": ["tags": ["x"]], "parameters": [:]], "parameters.content"),
            (["operation_type": "run_script", "selector": ["colour": "red"], "parameters": ["content": "x"]], "selector.colour"),
            (["operation_type": "install_package", "selector": ["tags": ["x"]], "parameters": ["packages": ["-rf"]]], "parameters.packages[0]"),
            (["operation_type": "reboot", "selector": ["tags": ["x"]], "delivery_timeout_seconds": 0], "delivery_timeout_seconds"),
            (["operation_type": "reboot"], "selector"),
        ]
        for (body, field) in cases {
            let r = await s.bus.call(Route.bulkCreate, body)
            #expect(r.status == 422)
            #expect(r.errorFields.contains(field), "\(field): \(r.errorFields)")
        }
        let nothing: JSONValue = ["operation_type": "reboot", "selector": ["tags": .string(unique("none")).arrayWrapped]]
        let empty = await s.bus.call(Route.bulkCreate, nothing)
        #expect(empty.status == 422)
        #expect(empty.error?.error == "no_targets")
        guard case .object(var allowed) = nothing else { return }
        allowed["allow_empty"] = true
        let events = try await EventRecorder(s.connection, pattern: "bulk.*.finished")
        defer { events.stop() }
        let ok = await s.bus.call(Route.bulkCreate, .object(allowed))
        #expect(ok.status == 201)
        let emptyID = ok.body?["id"]?.stringValue ?? "?"
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(30)) { events.received(EventRoute.bulkFinished(emptyID)).count == 1 },
            "an operation that ends at creation is announced too")
        #expect(ok.body?["status"] == "succeeded")
        #expect(ok.body?["progress"]?["percent_complete"]?.doubleValue == 0.0)
    }

    @Test func idempotencyKeyReturnsTheOriginalAndRefusesAnotherBody() async throws {
        let s = try await ServiceStack.shared.handle()
        let (tag, agent) = try await fleet(s)
        defer { Task { await agent.close() } }
        let key = unique("idem-")
        let body: JSONValue = ["operation_type": "reboot", "selector": ["tags": [.string(tag)]]]
        let first = await s.bus.call(Route.bulkCreate, body, messageID: key)
        let again = await s.bus.call(Route.bulkCreate, body, messageID: key)
        #expect(first.status == 201)
        #expect(again.status == 200)
        #expect(again.body?["id"] == first.body?["id"])
        let other = await s.bus.call(Route.bulkCreate, ["operation_type": "shutdown", "selector": ["tags": [.string(tag)]]], messageID: key)
        #expect(other.status == 409)
        #expect(other.error?.error == "idempotency_conflict")
        // A create that failed holds no key: the same key works for a good body afterwards.
        let failedKey = unique("idem-")
        #expect(
            await s.bus.call(Route.bulkCreate, ["operation_type": "reboot", "selector": ["tags": ["no-such-tag-anywhere"]]], messageID: failedKey).status == 422
        )
        #expect(await s.bus.call(Route.bulkCreate, body, messageID: failedKey).status == 201)
    }

    /// What a create that died leaves on its key blocks a retry for a lease at most (crash point 2
    /// of docs/crash-points.md): the keys are written here as a dispatcher that died would have
    /// left them, naming an operation that never got its record.
    @Test func aKeyLeftByACreateThatDiedBlocksARetryForALeaseAtMost() async throws {
        let s = try await ServiceStack.shared.handle()
        let (tag, agent) = try await fleet(s)
        defer { Task { await agent.close() } }
        let body: JSONValue = ["operation_type": "reboot", "selector": ["tags": [.string(tag)]]]
        let ttl = { (key: String) in try await s.redis.send("TTL", RedisKeys.bulkIdempotency(key)).int ?? -2 }

        // Died holding its lease (6 s of it left: a loaded machine's create must come inside it):
        // the retry waits for the lease, then creates.
        let leased = unique("lease-")
        _ = try await s.redis.send("SET", RedisKeys.bulkIdempotency(leased), "op-died-holding", "EX", "6")
        let blocked = await s.bus.call(Route.bulkCreate, body, messageID: leased)
        #expect(blocked.status == 409 && blocked.error?.error == "idempotency_in_progress", "\(blocked)")
        let leaseEnded = await TestEnvironment.eventually(timeout: .seconds(15)) {
            (try? await s.redis.send("EXISTS", RedisKeys.bulkIdempotency(leased)).int) == 0
        }
        #expect(leaseEnded)
        let created = await s.bus.call(Route.bulkCreate, body, messageID: leased)
        #expect(created.status == 201, "\(created)")
        #expect(try await s.redis.send("GET", RedisKeys.bulkIdempotency(leased)).string == created.body?["id"]?.stringValue)
        #expect(try await ttl(leased) > 86_000, "a recorded operation keeps its key a day")
        #expect(await s.bus.call(Route.bulkCreate, body, messageID: leased).body?["id"] == created.body?["id"])

        // Kept a day, but the record never came (its write failed after the key was kept): taken
        // over once a lease has passed since, not before (the record write may be in flight).
        let recent = unique("kept-"), stale = unique("kept-")
        _ = try await s.redis.send("SET", RedisKeys.bulkIdempotency(recent), "op-record-in-flight", "EX", "86390")
        _ = try await s.redis.send("SET", RedisKeys.bulkIdempotency(stale), "op-record-never-came", "EX", "86000")
        #expect(await s.bus.call(Route.bulkCreate, body, messageID: recent).error?.error == "idempotency_in_progress")
        let takenOver = await s.bus.call(Route.bulkCreate, body, messageID: stale)
        #expect(takenOver.status == 201, "\(takenOver)")
        #expect(try await s.redis.send("GET", RedisKeys.bulkIdempotency(stale)).string == takenOver.body?["id"]?.stringValue)
        #expect(try await ttl(stale) > 86_000)
        for op in [created, takenOver] { _ = await s.bus.call(Route.bulkCancel, ["id": op.body?["id"] ?? .null]) }
    }

    /// A create without an Idempotency-Key still carries a message id of its own (the bus client
    /// gives every request one), so a second delivery of that same message makes no second operation.
    @Test func theSameCreateMessageDeliveredTwiceMakesOneOperation() async throws {
        let s = try await ServiceStack.shared.handle()
        let (tag, agent) = try await fleet(s)
        defer { Task { await agent.close() } }
        let body: JSONValue = ["operation_type": "reboot", "selector": ["tags": [.string(tag)]]]
        let first = await s.bus.call(Route.bulkCreate, body)
        #expect(first.status == 201)
        var messageID: String?
        for key in try await s.redis.send("KEYS", RedisKeys.bulkIdempotency("rpc:*")).array?.compactMap(\.string) ?? []
        where try await s.redis.send("GET", key).string == first.body?["id"]?.stringValue {
            messageID = String(key.dropFirst(RedisKeys.bulkIdempotency("").count))
        }
        let redelivered = try #require(messageID, "the create's own message id holds its key")

        let again = await s.bus.call(Route.bulkCreate, body, messageID: redelivered)  // the same message, as a redelivery brings it
        #expect(again.status == 200 && again.body?["id"] == first.body?["id"], "\(again)")
        _ = await s.bus.call(Route.bulkCancel, ["id": first.body?["id"] ?? .null])
    }

    @Test func cancelSkipsQueuedHostsAndASecondCancelIs409() async throws {
        let s = try await ServiceStack.shared.handle()
        let (tag, agent) = try await fleet(s)
        defer { Task { await agent.close() } }
        let created = await s.bus.call(Route.bulkCreate, ["operation_type": "reboot", "selector": ["tags": [.string(tag)]]])
        let id = try #require(created.body?["id"])
        let cancelled = await s.bus.call(Route.bulkCancel, ["id": id])
        #expect(cancelled.status == 200)
        #expect(cancelled.body?["status"] == "cancelled")
        #expect(cancelled.body?["progress"]?["skipped"] == 4)
        #expect(await s.bus.call(Route.bulkCancel, ["id": id]).status == 409)
        #expect(await s.bus.call(Route.bulkCancel, ["id": id, "reason": "later"]).errorFields == ["reason"])
        #expect(await s.bus.call(Route.bulkGet, ["id": "op-missing"]).status == 404)
    }
}

extension BulkServiceTests {
    @Test func hostsArePagedInIdOrderWithAndWithoutAStatusFilter() async throws {
        let s = try await ServiceStack.shared.handle()
        let tag = unique("page")
        _ = await s.bus.call(
            Route.hostsUpsert,
            [
                "hosts": .array(
                    (0..<7).map {
                        ["id": .string("\(tag)-\($0)"), "tags": [.string(tag)], "approval_status": .string($0 == 2 || $0 == 5 ? "pending" : "approved")]
                    })
            ])
        let created = await s.bus.call(Route.bulkCreate, ["operation_type": "reboot", "selector": ["tags": [.string(tag)]], "dispatch": false])
        let op = try #require(created.body?["id"])
        func page(_ extra: [String: JSONValue]) async -> ([String], JSONValue?) {
            var body: [String: JSONValue] = ["id": op]
            for (k, v) in extra { body[k] = v }
            let r = await s.bus.call(Route.bulkHosts, .object(body)).body
            return ((r?["hosts"]?.arrayValue ?? []).compactMap { $0["host_id"]?.stringValue }, r?["next_cursor"])
        }
        var seen: [String] = []
        var cursor: JSONValue? = nil
        for _ in 0..<5 {
            var extra: [String: JSONValue] = ["limit": 3]
            if let cursor { extra["cursor"] = cursor }
            let (ids, next) = await page(extra)
            seen += ids
            guard let next, next != .null else { break }
            cursor = next
        }
        #expect(seen == (0..<7).map { "\(tag)-\($0)" }, "every host once, in id order")
        let (first, next) = await page(["limit": 1, "status": "skipped"])
        #expect(first == ["\(tag)-2"])
        let (second, _) = await page(["limit": 1, "status": "skipped", "cursor": next ?? .null])
        #expect(second == ["\(tag)-5"])
        #expect(await s.bus.call(Route.bulkHosts, ["id": op, "limit": 0]).errorFields == ["limit"])
        _ = await s.bus.call(Route.bulkCancel, ["id": op])
    }

    @Test func haltSkipsQueuedHostsHaltedAndLeavesTheAggregateToTheCounts() async throws {
        let s = try await ServiceStack.shared.handle()
        let (tag, agent) = try await fleet(s)
        defer { Task { await agent.close() } }
        let created = await s.bus.call(Route.bulkCreate, ["operation_type": "reboot", "selector": ["tags": [.string(tag)]]])
        let id = try #require(created.body?["id"])
        let halted = await s.bus.call(Route.bulkCancel, ["id": id, "reason": "halted"])
        #expect(halted.body?["status"] == "failed", "nothing succeeded: failed, not cancelled")
        let rows = await s.bus.call(Route.bulkHosts, ["id": id]).body?["hosts"]?.arrayValue ?? []
        #expect(rows.map { $0["reason"] } == ["halted", "halted", "halted", "not_approved"])
    }
}

@Suite("bulk operations end to end with an agent")
struct BulkDispatchTests {
    private func hosts(_ s: ServiceStack.Handle, _ n: Int) async -> (String, [String]) {
        let tag = unique("run")
        let ids = (0..<n).map { "\(tag)-\($0)" }
        _ = await s.bus.call(Route.hostsUpsert, ["hosts": .array(ids.map { ["id": .string($0), "tags": [.string(tag)], "approval_status": "approved"] })])
        return (tag, ids)
    }

    /// Claiming a running host again (the same agent: a lost reply, or a hostile agent stalling)
    /// is granted but does not push the host's run deadline on; a renewal starts only its lease.
    @Test func aRepeatedClaimKeepsTheRunDeadline() async throws {
        let s = try await ServiceStack.shared.handle()
        let (tag, ids) = await hosts(s, 1)
        let agent = try await TestAgent.bind(ids)  // holds the command, never claims it
        defer { Task { await agent.close() } }
        let created = await s.bus.call(Route.bulkCreate, ["operation_type": "reboot", "selector": ["tags": [.string(tag)]]])
        let op = try #require(created.body?["id"]?.stringValue)
        let host = try #require(ids.first)
        let claim = ClaimRequest(opID: op, hostIDs: [host], agentID: "stalling-agent", renews: true)
        #expect(await s.bus.call(Route.bulkClaim, claim.json).body?["claimed"] == [.string(host)])
        let deadline = { try await s.redis.send("ZSCORE", RedisKeys.bulkDeadlines, "\(op)|\(host)|run").string }
        let lease = { try await s.redis.send("ZSCORE", RedisKeys.bulkLeases, "\(op)|\(host)").string }
        let (firstDeadline, firstLease) = (try await deadline(), try await lease())
        #expect(firstDeadline != nil && firstLease != nil)
        try await Task.sleep(for: .milliseconds(20))
        #expect(await s.bus.call(Route.bulkClaim, claim.json).body?["claimed"] == [.string(host)], "granted again to the same agent")
        var renewal = claim
        renewal.renewal = true
        #expect(await s.bus.call(Route.bulkClaim, renewal.json).body?["claimed"] == [.string(host)])
        #expect(try await deadline() == firstDeadline, "the run deadline stays where the first claim put it")
        #expect(try await lease() != firstLease, "the lease started again")
        _ = await s.bus.call(Route.bulkCancel, ["id": .string(op)])
    }

    /// Polls the operation until its aggregate is `status`; returns its progress.
    private func waitFor(_ s: ServiceStack.Handle, _ op: JSONValue, _ status: String) async -> JSONValue? {
        var last: JSONValue?
        _ = await TestEnvironment.eventually(timeout: .seconds(30)) {
            last = await s.bus.call(Route.bulkGet, ["id": op]).body
            return last?["status"] == .string(status)
        }
        return last?["progress"]
    }

    @Test func hostsWithoutAnAgentFailUndeliverableAtOnce() async throws {
        let s = try await ServiceStack.shared.handle()
        let (tag, _) = await hosts(s, 3)
        let r = await s.bus.call(Route.bulkCreate, ["operation_type": "reboot", "selector": ["tags": [.string(tag)]]])
        #expect(r.body?["status"] == "failed")
        #expect(r.body?["progress"]?["failed"] == 3)
        let failed = await s.bus.call(Route.bulkHosts, ["id": r.body?["id"] ?? .null, "status": "failed"])
        #expect(failed.body?["hosts"]?.arrayValue?.allSatisfy { $0["reason"] == "undeliverable" } == true)
    }

    @Test func resultsLandAndTheAggregateIsPartial() async throws {
        let s = try await ServiceStack.shared.handle()
        let (tag, ids) = await hosts(s, 5)
        let agent = try await TestAgent.bind(ids)
        let running = try await agent.serve(bus: s.bus) { host in
            host.hasSuffix("-4") ? ["status": "failed", "exit_code": 3, "stderr": "boom"] : ["status": "succeeded", "exit_code": 0, "stdout": "ok"]
        }
        let events = try await EventRecorder(s.connection, pattern: "bulk.#")
        defer { events.stop() }
        let r = await s.bus.call(Route.bulkCreate, ["operation_type": "run_script", "selector": ["tags": [.string(tag)]], "parameters": ["content": "true"]])
        let op = try #require(r.body?["id"])
        let opID = try #require(op.stringValue)
        let p = await waitFor(s, op, "partial")
        #expect(p?["succeeded"] == 4)
        #expect(p?["failed"] == 1)
        #expect(p?["percent_complete"]?.doubleValue == 100.0)
        let result = try await s.redis.send("HGET", RedisKeys.bulkResults(op.stringValue!), "\(tag)-4").string
        #expect(result.flatMap { JSONCoding.decode(Array($0.utf8)) }?["exit_code"] == 3)
        // The bus is at-least-once: a result delivered twice is counted once.
        let duplicate = OutgoingMessage(
            exchange: BusNames.fromAgentsExchange, routingKey: BusNames.resultKey,
            body: JSONCoding.encode(["op_id": op, "host_id": .string("\(tag)-0"), "status": "failed"]))
        try await s.connection.publish(duplicate)
        try await Task.sleep(for: .milliseconds(300))
        #expect(await s.bus.call(Route.bulkProgress, ["id": op]).body?["succeeded"] == 4)
        // Listeners heard each host once, with its outcome, and the finish once.
        let hostEvents = events.received(EventRoute.bulkHost(opID))
        #expect(hostEvents.count == 5)
        #expect(hostEvents.contains(["op_id": op, "host_id": .string("\(tag)-4"), "status": "failed", "reason": "exit_code"]))
        #expect(events.received(EventRoute.bulkFinished(opID)) == [["op_id": op, "status": "partial"]])
        running.cancel()
        await agent.close()
    }

    @Test func cancelledHostsAreRefusedTheirClaimAndNeverRun() async throws {
        let s = try await ServiceStack.shared.handle()
        let (tag, ids) = await hosts(s, 3)
        let agent = try await TestAgent.bind(ids)  // holds the commands until told to serve
        let r = await s.bus.call(Route.bulkCreate, ["operation_type": "reboot", "selector": ["tags": [.string(tag)]]])
        let op = try #require(r.body?["id"])
        #expect(await s.bus.call(Route.bulkCancel, ["id": op]).body?["status"] == "cancelled")
        let ran = Mutex<[String]>([])
        let running = try await agent.serve(bus: s.bus) { host in
            ran.withLock { $0.append(host) }
            return ["status": "succeeded"]
        }
        try await Task.sleep(for: .seconds(1))
        #expect(ran.withLock { $0 }.isEmpty, "a cancelled host's command is dropped unrun")
        #expect(await s.bus.call(Route.bulkProgress, ["id": op]).body?["skipped"] == 3)
        running.cancel()
        await agent.close()
    }

    @Test func aSilentAgentTimesOut() async throws {
        let s = try await ServiceStack.shared.handle()
        let (tag, ids) = await hosts(s, 2)
        let agent = try await TestAgent.bind(ids)
        let running = try await agent.serve(bus: s.bus) { _ in nil }  // claims, then never reports
        let r = await s.bus.call(
            Route.bulkCreate,
            [
                "operation_type": "run_script", "selector": ["tags": [.string(tag)]],
                "parameters": ["content": "sleep 100", "timeout_seconds": 1],
            ])
        let op = try #require(r.body?["id"])
        let p = await waitFor(s, op, "failed")
        #expect(p?["failed"] == 2)
        let reasons = await s.bus.call(Route.bulkHosts, ["id": op]).body?["hosts"]?.arrayValue?.map { $0["reason"] }
        #expect(reasons == [.string("timed_out"), .string("timed_out")])
        running.cancel()
        await agent.close()
    }

    @Test func concurrencyWindowSendsTheRestAsHostsFinish() async throws {
        let s = try await ServiceStack.shared.handle()
        let (tag, ids) = await hosts(s, 12)
        let agent = try await TestAgent.bind(ids)  // not serving yet
        let r = await s.bus.call(Route.bulkCreate, ["operation_type": "reboot", "selector": ["tags": [.string(tag)]], "concurrency": "25%"])
        let op = try #require(r.body?["id"]?.stringValue)
        // 25 % of 12: three commands went out, nine wait for a slot.
        #expect(try await s.redis.send("LLEN", RedisKeys.bulkPending(op)).int == 9)
        let running = try await agent.serve(bus: s.bus) { _ in ["status": "succeeded"] }
        let p = await waitFor(s, .string(op), "succeeded")
        #expect(p?["succeeded"] == 12)
        #expect(try await s.redis.send("LLEN", RedisKeys.bulkPending(op)).int == 0)
        running.cancel()
        await agent.close()
    }

    @Test func createdWithoutDispatchThenSentHostByHost() async throws {
        let s = try await ServiceStack.shared.handle()
        let (tag, ids) = await hosts(s, 4)
        let agent = try await TestAgent.bind(ids)
        let running = try await agent.serve(bus: s.bus) { _ in ["status": "succeeded"] }
        let r = await s.bus.call(Route.bulkCreate, ["operation_type": "reboot", "selector": ["tags": [.string(tag)]], "dispatch": false])
        let op = try #require(r.body?["id"])
        try await Task.sleep(for: .milliseconds(500))
        #expect(await s.bus.call(Route.bulkProgress, ["id": op]).body?["queued"] == 4, "nothing went out")
        let sent = await s.bus.call(Route.bulkDispatch, ["id": op, "host_ids": [.string(ids[0]), .string(ids[1]), "not-in-op"]])
        #expect(sent.body?["dispatched"] == [.string(ids[0]), .string(ids[1])])
        #expect(await s.bus.call(Route.bulkDispatch, ["id": op, "host_ids": [.string(ids[0])]]).body?["dispatched"] == [], "never twice")
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(30)) {
                await s.bus.call(Route.bulkProgress, ["id": op]).body?["succeeded"] == 2
            })
        #expect(await s.bus.call(Route.bulkProgress, ["id": op]).body?["queued"] == 2)
        running.cancel()
        await agent.close()
    }

    @Test func aCommandNoAgentPicksUpInTimeExpiresUndeliverable() async throws {
        let s = try await ServiceStack.shared.handle()
        let (tag, ids) = await hosts(s, 2)
        let agent = try await TestAgent.bind(ids)  // bound, but never consumes
        let r = await s.bus.call(Route.bulkCreate, ["operation_type": "reboot", "selector": ["tags": [.string(tag)]], "delivery_timeout_seconds": 1])
        let op = try #require(r.body?["id"])
        #expect(r.body?["status"] == "queued")
        let p = await waitFor(s, op, "failed")
        #expect(p?["failed"] == 2)
        await agent.close()
    }

    /// A result stamped with another message name or contract version is refused (dead-lettered),
    /// never misread: its host does not move. The same result stamped right then counts.
    @Test func aResultOfAnotherContractIsRefusedAndMovesNothing() async throws {
        let s = try await ServiceStack.shared.handle()
        let (tag, ids) = await hosts(s, 1)
        let agent = try await TestAgent.bind(ids)  // bound, never consumes: the host stays queued
        defer { Task { await agent.close() } }
        let r = await s.bus.call(Route.bulkCreate, ["operation_type": "reboot", "selector": ["tags": [.string(tag)]]])
        let op = try #require(r.body?["id"]?.stringValue)
        // Claimed first, so a result could move it.
        let claim = await s.bus.call(Route.bulkClaim, ClaimRequest(opID: op, hostIDs: ids, agentID: "test"), replying: ClaimReply.self)
        #expect((try? claim.get())?.claimed == ids)
        // Forged as failures: had either been read, the host would end failed.
        let forged = AgentResult(opID: op, hostID: ids[0], status: .failed, reason: .exitCode, exitCode: 1)
        let (m1, m2) = (unique("wrong-version-"), unique("wrong-name-"))
        var wrongVersion = OutgoingMessage(
            forged, exchange: BusNames.fromAgentsExchange, routingKey: BusNames.resultKey,
            properties: MessageProperties(messageId: m1))
        wrongVersion.properties.headers[BusNames.versionHeader] = "2"
        var wrongName = OutgoingMessage(
            forged, exchange: BusNames.fromAgentsExchange, routingKey: BusNames.resultKey,
            properties: MessageProperties(messageId: m2))
        wrongName.properties.type = AgentCommand.messageName
        try await s.connection.publish(wrongVersion)
        try await s.connection.publish(wrongName)
        // Logged by whichever dispatcher took each (another test may run a replica beside the stack's).
        let logs = URL(fileURLWithPath: (try #require(s.processes.first { $0.name == "fleet-bulk-dispatcher" })).logPath).deletingLastPathComponent()
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(30)) {
                let files = (try? FileManager.default.contentsOfDirectory(atPath: logs.path)) ?? []
                let text = files.filter { $0.hasPrefix("fleet-bulk-dispatcher-") }.compactMap {
                    try? String(contentsOf: logs.appendingPathComponent($0), encoding: .utf8)
                }.joined()
                return text.contains(m1) && text.contains(m2)
            }, "both refused and logged")
        let held = await s.bus.call(Route.bulkProgress, ["id": .string(op)]).body
        #expect(held?["running"] == 1 && held?["failed"] == 0, "a refused result moves nothing: \(String(describing: held))")
        let result = AgentResult(opID: op, hostID: ids[0], status: .succeeded)
        try await s.connection.publish(OutgoingMessage(result, exchange: BusNames.fromAgentsExchange, routingKey: BusNames.resultKey))
        let p = await waitFor(s, .string(op), "succeeded")
        #expect(p?["succeeded"] == 1 && p?["failed"] == 0, "\(String(describing: p))")
        let stored = try await s.redis.send("HGET", RedisKeys.bulkResults(op), ids[0]).string
        #expect(stored.flatMap { try? AgentResult.decode(Array($0.utf8)) } == result)
    }
}

private extension JSONValue {
    var arrayWrapped: JSONValue { .array([self]) }
}
