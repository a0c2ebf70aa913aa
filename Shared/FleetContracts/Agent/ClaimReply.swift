/// The body of a `bulk.claim` reply: the hosts that moved to running. A host missing from it was
/// refused (cancelled, already claimed, the operation over): its command is dropped unrun.
public struct ClaimReply: FleetMessage {
    public static let messageName = "bulk.claim.reply"

    public var claimed: [String]
    /// For a claim that `renews`: the lease (ms) the dispatcher gave the claimed hosts. The agent
    /// claims them again with `renewal` well within it (a third of it) while the command runs; a
    /// host whose lease runs out is failed `lost`. Absent: no lease (only the run deadline).
    public var leaseMs: Int?

    public init(claimed: [String], leaseMs: Int? = nil) {
        self.claimed = claimed
        self.leaseMs = leaseMs
    }

    enum CodingKeys: String, CodingKey { case claimed, leaseMs = "lease_ms" }
}
