import FleetCore

/// What the dispatcher sends a host on `fleet.to-agents` (routing key = host id). It also comes back,
/// unread, on `fleet.results` with routing key `expired` when it waited past its TTL.
public struct AgentCommand: FleetMessage {
    public static let messageName = "agent.command"

    public var opID: String
    public var hostID: String
    public var operationType: OperationType
    /// The operation's parameters, validated at creation (docs/domain.md, "Operation parameters");
    /// `{}` when they are too large to inline and `parametersRef` says where they are.
    public var parameters: JSONValue
    public var parametersRef: ParametersRef?
    public var timeoutSeconds: Int
    public var attempt: Int

    public init(
        opID: String, hostID: String, operationType: OperationType, parameters: JSONValue, parametersRef: ParametersRef? = nil,
        timeoutSeconds: Int, attempt: Int = 1
    ) {
        self.opID = opID
        self.hostID = hostID
        self.operationType = operationType
        self.parameters = parameters
        self.parametersRef = parametersRef
        self.timeoutSeconds = timeoutSeconds
        self.attempt = attempt
    }

    enum CodingKeys: String, CodingKey {
        case opID = "op_id", hostID = "host_id", operationType = "operation_type", parameters, parametersRef = "parameters_ref"
        case timeoutSeconds = "timeout_seconds", attempt
    }

    /// The key an agent's journal records this run under.
    public var journalKey: String { "\(opID)/\(hostID)/\(attempt)" }
}

/// Where an agent fetches parameters too large to travel in every host's command (a 10 MiB file
/// to 5,000 hosts would be 50 GB on the bus): stored once per operation by the dispatcher,
/// fetched in chunks with `bulk.parameters`, and checked against the digest.
public struct ParametersRef: Codable, Sendable, Hashable {
    /// SHA-256 of the parameters' JSON bytes, lowercase hex.
    public var sha256: String
    /// Their length in bytes.
    public var size: Int

    public init(sha256: String, size: Int) {
        self.sha256 = sha256
        self.size = size
    }
}

/// `bulk.parameters`: one chunk of an operation's stored parameters (`ParametersRef`).
public struct ParametersChunkRequest: FleetMessage {
    public static let messageName = "bulk.parameters"
    /// The largest chunk a reply carries.
    public static let maxLength = 1 << 20

    public var opID: String
    /// The host whose claim the agent holds: required of an agent (the services may leave it out).
    public var hostID: String?
    public var offset: Int
    public var length: Int

    public init(opID: String, hostID: String?, offset: Int, length: Int) {
        self.opID = opID
        self.hostID = hostID
        self.offset = offset
        self.length = length
    }

    enum CodingKeys: String, CodingKey { case opID = "op_id", hostID = "host_id", offset, length }
}

/// The reply of `bulk.parameters`: the bytes at `offset`, base64.
public struct ParametersChunk: FleetMessage {
    public static let messageName = "bulk.parameters.reply"

    public var offset: Int
    public var data: String
    /// The whole stored length, so a reader knows when it is done.
    public var size: Int

    public init(offset: Int, data: String, size: Int) {
        self.offset = offset
        self.data = data
        self.size = size
    }
}
