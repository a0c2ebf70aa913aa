import FleetContracts
import FleetCore
import FleetMessaging

/// The claims of one agent that plays many hosts (a simulated fleet), sent together: the commands
/// that arrive while one claim is on its way are claimed in the next, one `bulk.claim` per
/// operation naming all their hosts, instead of one call (and two messages) per host.
struct AgentClaims: Sendable {
    private let commit: GroupCommit<ClaimRequest, ClaimReply>

    init(bus: BusClient, maxBatch: Int = 256) {
        commit = GroupCommit(maxBatch: maxBatch) { requests in await Self.send(requests, bus) }
    }

    /// The dispatcher's answer for this request's hosts; nil when the claim did not get through
    /// (the command goes back to the queue).
    func claim(_ request: ClaimRequest) async -> ClaimReply? {
        try? await commit.submit(request)
    }

    /// One `bulk.claim` per operation (and agent and lease wish); each request gets the part of
    /// the reply that names its own hosts.
    private static func send(_ requests: [ClaimRequest], _ bus: BusClient) async -> [Result<ClaimReply, any Error>] {
        struct Group: Hashable {
            let op: String
            let agentID: String?
            let renews: Bool?
        }
        let groups = Dictionary(grouping: requests.indices) { Group(op: requests[$0].opID, agentID: requests[$0].agentID, renews: requests[$0].renews) }
        var replies = [Result<ClaimReply, any Error>](repeating: .failure(GroupCommitError.noReply), count: requests.count)
        await withTaskGroup(of: (Group, Result<ClaimReply, BusReplyFailure>).self) { tasks in
            for (group, indices) in groups {
                tasks.addTask {
                    let hosts = indices.flatMap { requests[$0].hostIDs }
                    let claim = ClaimRequest(opID: group.op, hostIDs: hosts, agentID: group.agentID, renews: group.renews)
                    return (group, await bus.call(Route.bulkClaim, claim, replying: ClaimReply.self))
                }
            }
            for await (group, reply) in tasks {
                for i in groups[group] ?? [] {
                    switch reply {
                    case .success(let granted):
                        let claimed = Set(granted.claimed)
                        replies[i] = .success(ClaimReply(claimed: requests[i].hostIDs.filter(claimed.contains), leaseMs: granted.leaseMs))
                    case .failure(let failure): replies[i] = .failure(failure)
                    }
                }
            }
        }
        return replies
    }
}
