import FleetCore

/// Who sent a message from the agent side of the bus, read from its broker user (the AMQP
/// `user_id`, which RabbitMQ checks against the connection's login), and which hosts it may speak
/// for. Each enrolled agent has a broker user of its own: `agent.<host_id>` for one real host,
/// `agents.<prefix>` for a simulated fleet playing hosts `<prefix>-<n>`. The services' own user
/// may speak for every host (they and the tests act as operators). Any other user speaks for none.
public enum AgentIdentity: Sendable, Equatable {
    case service
    case host(String)
    case simulatedFleet(prefix: String)

    static let hostUserPrefix = "agent."
    static let fleetUserPrefix = "agents."

    /// The identity of `brokerUser`, or nil for a user that is neither the services' nor an agent's.
    public init?(brokerUser: String?, serviceUser: String) {
        guard let user = brokerUser, !user.isEmpty else { return nil }
        if user == serviceUser {
            self = .service
        } else if user.hasPrefix(Self.hostUserPrefix), case let id = String(user.dropFirst(Self.hostUserPrefix.count)), RecordID.isValid(id) {
            self = .host(id)
        } else if user.hasPrefix(Self.fleetUserPrefix), case let prefix = String(user.dropFirst(Self.fleetUserPrefix.count)),
            RecordID.isValid(prefix)
        {
            self = .simulatedFleet(prefix: prefix)
        } else {
            return nil
        }
    }

    /// The broker user an agent with this identity logs in as (nil for the services, who bring their own).
    public var brokerUser: String? {
        switch self {
        case .service: nil
        case .host(let id): Self.hostUserPrefix + id
        case .simulatedFleet(let prefix): Self.fleetUserPrefix + prefix
        }
    }

    /// The queue this agent serves.
    public var queue: String? {
        switch self {
        case .service: nil
        case .host(let id): BusNames.agentQueue(id)
        case .simulatedFleet(let prefix): BusNames.simulatedFleetQueue(prefix)
        }
    }

    /// Whether a claim, result or report for `hostID` from this sender may be believed.
    public func speaks(for hostID: String) -> Bool {
        switch self {
        case .service: true
        case .host(let id): hostID == id
        case .simulatedFleet(let prefix):
            hostID.hasPrefix(prefix + "-") && hostID.count > prefix.count + 1
                && hostID.dropFirst(prefix.count + 1).allSatisfy { $0.isASCII && $0.isNumber }
        }
    }
}
