import FleetContracts
import FleetCore
import FleetRuntime

/// Agents' claims (queued -> running) written together: the claims that queue while one batch is
/// written go in the next, one deadline write and one transition script for every claim of the
/// same operation by the same agent, instead of one each.
enum ClaimBatch {
    private struct Group: Hashable {
        let op: String
        let agentID: String?
        let renews: Bool
    }

    /// One reply per claim, in order; a group whose write fails fails its claims only.
    static func write(_ claims: [ClaimRequest], _ engine: BulkEngine) async -> [Result<ClaimReply, any Error>] {
        let groups = Dictionary(grouping: claims.indices) { Group(op: claims[$0].opID, agentID: claims[$0].agentID, renews: claims[$0].renews == true) }
        var replies = [Result<ClaimReply, any Error>](repeating: .failure(GroupCommitError.noReply), count: claims.count)
        await withTaskGroup(of: [(Int, Result<ClaimReply, any Error>)].self) { tasks in
            for (group, indices) in groups {
                tasks.addTask {
                    do {
                        let granted = try await claim(group, hosts: indices.flatMap { claims[$0].hostIDs }, engine)
                        let lease = group.renews ? Int(engine.context.config.agentLease.wholeMilliseconds) : nil
                        return indices.map { ($0, .success(ClaimReply(claimed: claims[$0].hostIDs.filter(granted.contains), leaseMs: lease))) }
                    } catch { return indices.map { ($0, .failure(error)) } }
                }
            }
            for await answered in tasks { for (i, reply) in answered { replies[i] = reply } }
        }
        return replies
    }

    /// Claims `hosts` of one operation for one agent; answers the hosts granted.
    private static func claim(_ group: Group, hosts named: [String], _ engine: BulkEngine) async throws -> Set<String> {
        var seen = Set<String>()
        let hosts = named.filter { seen.insert($0).inserted }
        let redis = engine.redis
        let deadlines = Deadlines(redis: redis, clock: engine.context.clock)
        // The run deadline (and the lease) first: a host must never be running without one, even
        // if this process dies between the writes (a deadline for a host not claimed does nothing).
        let timeout = Int(try await redis.send("HGET", RedisKeys.bulkOperation(group.op), "timeout_seconds").int ?? 300)
        try await deadlines.expectResults(op: group.op, hosts: hosts, within: .seconds(timeout))
        if group.renews { try await deadlines.lease(op: group.op, hosts: hosts, for: engine.context.config.agentLease) }
        let outcome = try await engine.store.move(operation: group.op, hosts: hosts, to: .running, claimant: group.agentID)
        return Set(outcome.movedHosts)
    }
}
