/// `bulk.claim`: an agent asks to move its hosts from queued to running before it runs anything.
/// A simulator may claim many hosts in one request.
public struct ClaimRequest: FleetMessage {
    public static let messageName = "bulk.claim"

    public var opID: String
    public var hostIDs: [String]
    /// Who claims (a host id, or a simulator's queue), recorded with the claim.
    public var agentID: String?
    /// This agent renews its claim while the command runs: the dispatcher gives the hosts a lease
    /// (`ClaimReply.leaseMs`), and fails them `lost` when it runs out. An agent that does not say
    /// so gets no lease (only the run deadline).
    public var renews: Bool?
    /// A renewal of a claim this agent holds: the lease starts again; the run deadline stays.
    public var renewal: Bool?

    public init(opID: String, hostIDs: [String], agentID: String?, renews: Bool? = nil, renewal: Bool? = nil) {
        self.opID = opID
        self.hostIDs = hostIDs
        self.agentID = agentID
        self.renews = renews
        self.renewal = renewal
    }

    enum CodingKeys: String, CodingKey {
        case opID = "op_id", hostIDs = "host_ids", agentID = "agent_id", renews, renewal
    }
}
