import FleetContracts
import FleetCore
import FleetStore
import FleetTestSupport
import PropertyBased
import Testing

@testable import BulkDispatcherService

/// Serialized: these tests are the only writers of `fleet:stats` in their database, so one test
/// can expect exact counter deltas.
@Suite("bulk host transitions in Redis", .serialized)
struct HostTransitionStoreTests {
    private func store() async throws -> HostTransitionStore {
        HostTransitionStore(redis: try await RedisClient.connect(url: TestEnvironment.redisURL), retentionSeconds: 3_600)
    }

    @Test func anOperationRunsToPartialAndFinishesExactlyOnce() async throws {
        let s = try await store()
        let op = unique("op-")
        try await s.create(operation: op, hostIDs: ["a", "b", "c"])
        #expect(try await s.progress(operation: op)?.1 == .queued)
        var o = try await s.move(operation: op, hosts: ["a", "b"], to: .running)
        #expect(o == .init(applied: 2, aggregate: .running, justFinished: false, movedHosts: ["a", "b"]))
        o = try await s.move(operation: op, hosts: ["a"], to: .succeeded, result: "{\"exit_code\":0}")
        #expect(o.applied == 1)
        // The same result again (the bus is at-least-once) changes nothing.
        #expect(try await s.move(operation: op, hosts: ["a"], to: .succeeded).applied == 0)
        #expect(try await s.move(operation: op, hosts: ["c"], to: .failed, reason: .undeliverable).justFinished == false)
        #expect(try await s.redis.send("TTL", RedisKeys.bulkHosts(op)).int == -1, "an open operation does not expire")
        o = try await s.move(operation: op, hosts: ["b"], to: .failed, reason: .exitCode)
        #expect(o == .init(applied: 1, aggregate: .partial, justFinished: true, movedHosts: ["b"]))
        // The finishing move set the expiry of every key the operation has, in the same script.
        for key in HostTransitionStore.keys(op) {
            let ttl = try await s.redis.send("TTL", key).int ?? -3
            #expect(ttl == -2 || (3_590...3_600).contains(ttl), "\(key) TTL \(ttl)")
        }
        #expect(try await s.redis.send("TTL", RedisKeys.bulkResults(op)).int ?? 0 > 3_590)
        #expect(try await s.move(operation: op, hosts: ["b"], to: .failed, reason: .timedOut).justFinished == false)
        let (counters, status) = try #require(try await s.progress(operation: op))
        #expect(counters == ProgressCounters(total: 3, queued: 0, running: 0, succeeded: 1, failed: 2, skipped: 0))
        #expect(status == .partial)
        #expect(try await s.statuses(operation: op) == ["a": "succeeded", "b": "failed:exit_code", "c": "failed:undeliverable"])
        #expect(try await s.redis.send("HGET", "fleet:bulk:{\(op)}:results", "a").string == "{\"exit_code\":0}")
    }

    /// Many agents' results in one script (the results consumer's batches): each host keeps its
    /// own result, a host named twice moves once, and the dispatch instant of each is answered.
    @Test func perHostResultsInOneMove() async throws {
        let s = try await store()
        let op = unique("op-")
        try await s.create(operation: op, hostIDs: ["a", "b", "c"])
        _ = try await s.move(operation: op, hosts: ["a", "b", "c"], to: .running)
        _ = try await s.redis.send("HSET", RedisKeys.bulkDispatchedAt(op), "a", "1000", "b", "2000")
        let o = try await s.move(
            operation: op, results: [("a", "{\"n\":1}"), ("b", "{\"n\":2}"), ("a", "{\"n\":3}")], to: .succeeded, reason: nil)
        #expect(o.applied == 2 && o.movedHosts == ["a", "b"] && !o.justFinished)
        #expect(o.dispatchedAtMs == [1000, 2000])
        #expect(try await s.redis.send("HGET", RedisKeys.bulkResults(op), "a").string == "{\"n\":1}", "the first of a duplicate wins")
        #expect(try await s.redis.send("HGET", RedisKeys.bulkResults(op), "b").string == "{\"n\":2}")
        let last = try await s.move(operation: op, results: [("c", "{\"n\":4}")], to: .failed, reason: .exitCode)
        #expect(last.applied == 1 && last.justFinished && last.aggregate == .partial)
        #expect(try await s.statuses(operation: op) == ["a": "succeeded", "b": "succeeded", "c": "failed:exit_code"])
        #expect(try await s.redis.send("HGET", RedisKeys.bulkResults(op), "c").string == "{\"n\":4}")
    }

    @Test func unknownHostsAndDisallowedMovesChangeNothing() async throws {
        let s = try await store()
        let op = unique("op-")
        try await s.create(operation: op, hostIDs: ["a"])
        #expect(try await s.move(operation: op, hosts: ["ghost"], to: .running).applied == 0)
        #expect(try await s.move(operation: op, hosts: ["a"], to: .succeeded).applied == 0, "queued cannot jump to succeeded")
        #expect(try await s.move(operation: op, hosts: ["a"], to: .skipped).applied == 0, "skipping needs a reason")
        #expect(try await s.progress(operation: op)?.0 == ProgressCounters(total: 1))
    }

    @Test func cancelSkipsQueuedHostsAndLetsRunningOnesFinish() async throws {
        let s = try await store()
        let op = unique("op-")
        try await s.create(operation: op, hostIDs: ["a", "b", "c"])
        _ = try await s.move(operation: op, hosts: ["a"], to: .running)
        let o = try await s.skipQueued(operation: op, reason: .cancelled)
        #expect(o.applied == 2 && o.aggregate == .cancelled && !o.justFinished)
        #expect(Set(o.movedHosts) == ["b", "c"])
        let last = try await s.move(operation: op, hosts: ["a"], to: .succeeded)
        #expect(last == .init(applied: 1, aggregate: .cancelled, justFinished: true, movedHosts: ["a"]))
        #expect(try await s.statuses(operation: op)["b"] == "skipped:cancelled")
    }

    @Test func haltSkipsQueuedHostsAndTheAggregateFollowsTheCounts() async throws {
        let s = try await store()
        let op = unique("op-")
        try await s.create(operation: op, hostIDs: ["a", "b", "c"])
        _ = try await s.move(operation: op, hosts: ["a"], to: .running)
        _ = try await s.move(operation: op, hosts: ["a"], to: .succeeded)
        let o = try await s.skipQueued(operation: op, reason: .halted)
        #expect(o == .init(applied: 2, aggregate: .partial, justFinished: true, movedHosts: o.movedHosts))
        #expect(try await s.statuses(operation: op)["c"] == "skipped:halted")
    }

    @Test func fleetStatsCountEveryMoveAndEveryFinish() async throws {
        let s = try await store()
        func stats() async throws -> [String: Int64] {
            (try await s.redis.send("HGETALL", RedisKeys.fleetStats).dictionary ?? [:]).compactMapValues(\.int)
        }
        let before = try await stats()
        let op = unique("op-")
        try await s.create(operation: op, hostIDs: ["a", "b"])
        _ = try await s.move(operation: op, hosts: ["a", "b"], to: .running)
        _ = try await s.move(operation: op, hosts: ["a"], to: .succeeded)
        _ = try await s.move(operation: op, hosts: ["a"], to: .succeeded)  // a duplicate counts nothing
        _ = try await s.move(operation: op, hosts: ["b"], to: .failed, reason: .exitCode)
        let after = try await stats()
        var grew: [String: Int64] = [:]
        for (field, value) in after where value != (before[field] ?? 0) { grew[field] = value - (before[field] ?? 0) }
        #expect(
            grew == [
                "operations_created_total": 1, "hosts_targeted_total": 2, "hosts_started_total": 2, "hosts_succeeded_total": 1,
                "hosts_failed_total": 1, "operations_partial_total": 1,
                // deprecated names, kept one release
                "operations_created": 1, "hosts_targeted": 2, "hosts_running": 2, "hosts_succeeded": 1,
                "hosts_failed": 1, "operations_partial": 1,
            ], "exactly these moves, the duplicate not counted; the gauges back where they were")
    }

    /// The gauges follow each transition: up while hosts are queued or running, back to where
    /// they were once the operations have finished, whichever way the hosts went.
    @Test func fleetGaugesFollowEveryTransitionAndReturnToZero() async throws {
        let s = try await store()
        let before = await gauges(s)
        func now() async -> [Int64] { zip(await gauges(s), before).map { $0 - $1 } }
        let (a, b) = (unique("op-"), unique("op-"))
        try await s.create(operation: a, hostIDs: ["h1", "h2", "h3"])
        try await s.create(operation: b, hostIDs: ["h1", "h2"])
        #expect(await now() == [5, 0, 2])
        _ = try await s.move(operation: a, hosts: ["h1", "h2"], to: .running)
        _ = try await s.move(operation: a, hosts: ["h1"], to: .running)  // a duplicate claim moves nothing
        #expect(await now() == [3, 2, 2])
        _ = try await s.move(operation: a, hosts: ["h1"], to: .succeeded)
        _ = try await s.move(operation: a, hosts: ["h2"], to: .failed, reason: .timedOut)
        _ = try await s.move(operation: b, hosts: ["h1"], to: .running)
        #expect(await now() == [2, 1, 2])
        _ = try await s.skipQueued(operation: a, reason: .cancelled)
        #expect(await now() == [1, 1, 1], "a finished: one operation running")
        _ = try await s.move(operation: b, hosts: ["h1"], to: .failed, reason: .lost)
        _ = try await s.move(operation: b, hosts: ["h2"], to: .skipped, reason: .notApproved)
        #expect(await now() == [0, 0, 0], "everything finished: nothing in flight")
        try await s.create(operation: unique("op-"), hostIDs: [])
        #expect(await now() == [0, 0, 0], "an empty operation is never running")
    }

    @Test func aRepeatedClaimBySameAgentIsGrantedWithoutCountingTwice() async throws {
        let s = try await store()
        let op = unique("op-")
        try await s.create(operation: op, hostIDs: ["a"])
        #expect(try await s.move(operation: op, hosts: ["a"], to: .running, claimant: "agent-1").movedHosts == ["a"])
        #expect(try await s.move(operation: op, hosts: ["a"], to: .running, claimant: "agent-1").movedHosts == ["a"], "same agent: granted again")
        #expect(try await s.move(operation: op, hosts: ["a"], to: .running, claimant: "agent-2").movedHosts == [], "another agent: refused")
        #expect(try await s.move(operation: op, hosts: ["a"], to: .running).movedHosts == [], "no claimant: refused")
        #expect(try await s.progress(operation: op)?.0 == ProgressCounters(total: 1, queued: 0, running: 1, succeeded: 0, failed: 0, skipped: 0))
    }

    @Test func emptyOperationIsSucceededAtOnce() async throws {
        let s = try await store()
        let op = unique("op-")
        try await s.create(operation: op, hostIDs: [])
        #expect(try await s.progress(operation: op)?.1 == .succeeded)
    }

    /// Random moves (duplicates, late and illegal ones included), one host at a time, on Redis and
    /// on FleetCore's model: same moves applied, same counters, same aggregate, one finish.
    @Test func redisAgreesWithTheStateMachine() async throws {
        let s = try await store()
        let move = zip(Gen.int(in: 0...7), Gen.int(in: 0...4), Gen.int(in: 0...9))
        await propertyCheck(count: 60, input: Gen.int(in: 1...8), move.array(of: 0...40)) { total, moves in
            let op = unique("prop-")
            let hosts = (0..<total).map { "h\($0)" }
            let gaugesBefore = await gauges(s)
            try? await s.create(operation: op, hostIDs: hosts)
            var model = ProgressCounters(total: total)
            var statuses = Array(repeating: HostStatus.queued, count: total)
            var finishes = 0
            for (h, t, r) in moves where h < total {
                let to = HostStatus.allCases[t]
                let reason: HostReason? = r < HostReason.allCases.count ? HostReason.allCases[r] : nil
                let wasOpen = model.queued + model.running > 0
                let applied = model.apply(from: statuses[h], to: to, reason: reason)
                if applied { statuses[h] = to }
                guard let outcome = try? await s.move(operation: op, hosts: [hosts[h]], to: to, reason: reason) else {
                    Issue.record("redis call failed")
                    return
                }
                #expect(outcome.applied == (applied ? 1 : 0))
                #expect(outcome.aggregate == model.aggregate(cancelled: false))
                let finished = wasOpen && applied && model.queued + model.running == 0
                #expect(outcome.justFinished == finished)
                if outcome.justFinished { finishes += 1 }
            }
            #expect(finishes <= 1)
            #expect(try! await s.progress(operation: op)?.0 == model)
            let open: Int64 = model.queued + model.running > 0 ? 1 : 0
            #expect(
                zip(await gauges(s), gaugesBefore).map { $0 - $1 } == [Int64(model.queued), Int64(model.running), open],
                "the fleet gauges are this operation's queued and running hosts, and whether it is open")
        }
    }

    private func gauges(_ s: HostTransitionStore) async -> [Int64] {
        let h = ((try? await s.redis.send("HGETALL", RedisKeys.fleetStats).dictionary) ?? [:]).compactMapValues(\.int)
        return [FleetStats.hostsQueued, FleetStats.hostsInFlight, FleetStats.operationsRunning].map { h[$0] ?? 0 }
    }
}
