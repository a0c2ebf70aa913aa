/// The body of a `bulk.claim` reply: the hosts that moved to running. A host missing from it was
/// refused (cancelled, already claimed, the operation over): its command is dropped unrun.
public struct ClaimReply: FleetMessage {
    public static let messageName = "bulk.claim.reply"

    public var claimed: [String]

    public init(claimed: [String]) { self.claimed = claimed }
}
