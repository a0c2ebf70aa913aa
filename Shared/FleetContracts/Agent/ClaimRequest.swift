/// `bulk.claim`: an agent asks to move its hosts from queued to running before it runs anything.
/// A simulator may claim many hosts in one request.
public struct ClaimRequest: FleetMessage {
    public static let messageName = "bulk.claim"

    public var opID: String
    public var hostIDs: [String]
    /// Who claims (a host id, or a simulator's queue), recorded with the claim.
    public var agentID: String?

    public init(opID: String, hostIDs: [String], agentID: String?) {
        self.opID = opID
        self.hostIDs = hostIDs
        self.agentID = agentID
    }

    enum CodingKeys: String, CodingKey {
        case opID = "op_id", hostIDs = "host_ids", agentID = "agent_id"
    }
}
