import FleetCore

/// What the dispatcher sends a host on `fleet.agent` (routing key = host id). It also comes back,
/// unread, on `fleet.results` with routing key `expired` when it waited past its TTL.
public struct AgentCommand: FleetMessage {
    public static let messageName = "agent.command"

    public var opID: String
    public var hostID: String
    public var operationType: OperationType
    /// The operation's parameters, validated at creation (docs/domain.md, "Operation parameters").
    public var parameters: JSONValue
    public var timeoutSeconds: Int
    public var attempt: Int

    public init(opID: String, hostID: String, operationType: OperationType, parameters: JSONValue, timeoutSeconds: Int, attempt: Int = 1) {
        self.opID = opID
        self.hostID = hostID
        self.operationType = operationType
        self.parameters = parameters
        self.timeoutSeconds = timeoutSeconds
        self.attempt = attempt
    }

    enum CodingKeys: String, CodingKey {
        case opID = "op_id", hostID = "host_id", operationType = "operation_type", parameters
        case timeoutSeconds = "timeout_seconds", attempt
    }

    /// The key an agent's journal records this run under.
    public var journalKey: String { "\(opID)/\(hostID)/\(attempt)" }
}
