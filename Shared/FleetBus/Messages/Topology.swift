/// Exchanges, queues and bindings a connection declares. Recorded, so that after a reconnect the
/// connection declares them again before it resumes its consumers.
public enum ExchangeKind: String, Sendable {
    case direct, topic, fanout, headers
}

public struct ExchangeDeclaration: Sendable, Equatable {
    public var name: String
    public var kind: ExchangeKind
    public var durable: Bool
    public var arguments: [String: AMQPFieldValue]

    public init(name: String, kind: ExchangeKind, durable: Bool = true, arguments: [String: AMQPFieldValue] = [:]) {
        self.name = name
        self.kind = kind
        self.durable = durable
        self.arguments = arguments
    }
}

public struct QueueDeclaration: Sendable, Equatable {
    public var name: String
    public var durable: Bool
    public var exclusive: Bool
    public var autoDelete: Bool
    public var arguments: [String: AMQPFieldValue]

    public init(
        name: String, durable: Bool = true, exclusive: Bool = false, autoDelete: Bool = false,
        arguments: [String: AMQPFieldValue] = [:]
    ) {
        self.name = name
        self.durable = durable
        self.exclusive = exclusive
        self.autoDelete = autoDelete
        self.arguments = arguments
    }

    /// A durable queue whose rejected and expired messages go to `deadLetterExchange`.
    public static func durable(
        _ name: String, deadLetterExchange: String?, deadLetterRoutingKey: String? = nil,
        messageTTLMilliseconds: Int? = nil
    ) -> QueueDeclaration {
        var args: [String: AMQPFieldValue] = [:]
        if let dlx = deadLetterExchange { args["x-dead-letter-exchange"] = .string(dlx) }
        if let rk = deadLetterRoutingKey { args["x-dead-letter-routing-key"] = .string(rk) }
        if let ttl = messageTTLMilliseconds { args["x-message-ttl"] = .int(Int64(ttl)) }
        return QueueDeclaration(name: name, arguments: args)
    }

    /// A quorum queue: replicated across the nodes of a RabbitMQ cluster, so a node's loss loses
    /// none of its messages (on one node it behaves as a durable queue). Always durable, never
    /// exclusive. The broker counts its redeliveries: a message redelivered past `deliveryLimit`
    /// times (a consumer dying with it unsettled, each time) goes to `deadLetterExchange`, or is
    /// dropped when there is none.
    public static func quorum(_ name: String, deadLetterExchange: String?, deliveryLimit: Int? = nil) -> QueueDeclaration {
        var args: [String: AMQPFieldValue] = ["x-queue-type": .string("quorum")]
        if let dlx = deadLetterExchange { args["x-dead-letter-exchange"] = .string(dlx) }
        if let limit = deliveryLimit { args["x-delivery-limit"] = .int(Int64(limit)) }
        return QueueDeclaration(name: name, arguments: args)
    }
}

public struct BindingDeclaration: Sendable, Equatable {
    public var queue: String
    public var exchange: String
    public var routingKey: String

    public init(queue: String, exchange: String, routingKey: String) {
        self.queue = queue
        self.exchange = exchange
        self.routingKey = routingKey
    }
}

public struct Topology: Sendable, Equatable {
    public var exchanges: [ExchangeDeclaration]
    public var queues: [QueueDeclaration]
    public var bindings: [BindingDeclaration]

    public init(exchanges: [ExchangeDeclaration] = [], queues: [QueueDeclaration] = [], bindings: [BindingDeclaration] = []) {
        self.exchanges = exchanges
        self.queues = queues
        self.bindings = bindings
    }
}
