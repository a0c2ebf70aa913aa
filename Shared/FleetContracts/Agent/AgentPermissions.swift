/// The RabbitMQ permissions an enrolled agent's broker user gets: exactly enough to declare,
/// bind and consume its own queue and to publish the four agent requests, nothing else.
/// RabbitMQ checks `configure` on declare/delete, `write` on publish (the exchange) and on bind
/// (the queue), `read` on consume (the queue) and on bind (the exchange); topic permissions then
/// check the routing key of a publish (`write`) and of a binding (`read`) on a topic exchange.
public struct BrokerPermissions: Sendable, Equatable {
    public struct Topic: Sendable, Equatable {
        public var exchange: String
        public var write: String
        public var read: String
    }

    public var configure: String
    public var write: String
    public var read: String
    public var topics: [Topic]
}

extension AgentIdentity {
    /// Nil for the services, whose user the operator manages.
    public var permissions: BrokerPermissions? {
        let queue: String
        let bindable: String
        switch self {
        case .service: return nil
        case .host(let id):
            queue = BusNames.agentQueue(id)
            bindable = "^\(Self.literal(id))$"
        case .simulatedFleet(let prefix):
            queue = BusNames.simulatedFleetQueue(prefix)
            bindable = "^\(Self.literal(prefix))-[0-9]+$"
        }
        let ownQueue = Self.literal(queue)
        let sendable = BusNames.agentRoutes.sorted().map(Self.literal).joined(separator: "|")
        // `fleet.results` is writable only because RabbitMQ asks for write on a queue's dead-letter
        // exchange to declare the queue; its topic permission lets no routing key through, so an
        // agent cannot publish `expired` for another host's command.
        return BrokerPermissions(
            configure: "^\(ownQueue)$",
            write: "^(\(ownQueue)|\(Self.literal(BusNames.fromAgentsExchange))|\(Self.literal(BusNames.resultsExchange)))$",
            read: "^(\(ownQueue)|\(Self.literal(BusNames.agentExchange)))$",
            topics: [
                .init(exchange: BusNames.agentExchange, write: "^$", read: bindable),
                .init(exchange: BusNames.fromAgentsExchange, write: "^(\(sendable))$", read: "^$"),
                .init(exchange: BusNames.resultsExchange, write: "^$", read: "^$"),
            ])
    }

    /// `s` as a regular expression matching only itself: every character that is not a letter or a
    /// digit is escaped (in PCRE, which RabbitMQ uses, a backslash before one is always literal).
    static func literal(_ s: String) -> String {
        var out = ""
        for c in s {
            if !(c.isASCII && (c.isLetter || c.isNumber)) { out.append("\\") }
            out.append(c)
        }
        return out
    }
}
