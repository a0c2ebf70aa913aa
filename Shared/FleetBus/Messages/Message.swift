import CoreMetrics

/// The AMQP basic properties FleetBus reads and writes.
public struct MessageProperties: Sendable, Equatable {
    public var contentType: String?
    public var correlationId: String?
    public var replyTo: String?
    public var messageId: String?
    /// Per-message TTL in milliseconds (AMQP carries it as a string).
    public var expirationMilliseconds: Int?
    public var type: String?
    public var timestamp: UInt64?
    /// The broker user that published the message. RabbitMQ refuses a publish whose `user_id`
    /// differs from its connection's user, so a consumer can trust it; FleetBus stamps every
    /// publish with its own user when the message names none.
    public var userId: String?
    /// Persistent messages survive a broker restart when they sit on a durable queue.
    public var persistent: Bool
    public var headers: [String: AMQPFieldValue]

    public init(
        contentType: String? = nil, correlationId: String? = nil, replyTo: String? = nil,
        messageId: String? = nil, expirationMilliseconds: Int? = nil, type: String? = nil,
        timestamp: UInt64? = nil, userId: String? = nil, persistent: Bool = true, headers: [String: AMQPFieldValue] = [:]
    ) {
        self.contentType = contentType
        self.correlationId = correlationId
        self.replyTo = replyTo
        self.messageId = messageId
        self.expirationMilliseconds = expirationMilliseconds
        self.type = type
        self.timestamp = timestamp
        self.userId = userId
        self.persistent = persistent
        self.headers = headers
    }
}

/// A message to publish.
public struct OutgoingMessage: Sendable {
    public var exchange: String
    public var routingKey: String
    public var body: [UInt8]
    public var properties: MessageProperties
    /// A mandatory message that no queue takes comes back as `AMQPError.Kind.returned`.
    public var mandatory: Bool

    public init(exchange: String, routingKey: String, body: [UInt8], properties: MessageProperties = .init(), mandatory: Bool = false) {
        self.exchange = exchange
        self.routingKey = routingKey
        self.body = body
        self.properties = properties
        self.mandatory = mandatory
    }
}

/// A message received by a consumer. Settle it exactly once with `ack`, `nack` or `reject`
/// (consumers started with `noAck` need none).
public struct Delivery: Sendable {
    public let exchange: String
    public let routingKey: String
    public let body: [UInt8]
    public let properties: MessageProperties
    /// The queue it was consumed from.
    public let queue: String
    public let redelivered: Bool
    public let deliveryTag: UInt64
    /// Which connection incarnation delivered it: a tag from before a reconnect is dead.
    let generation: UInt64
    let connection: AMQPConnection?

    init(
        exchange: String, routingKey: String, body: [UInt8], properties: MessageProperties, queue: String, redelivered: Bool,
        deliveryTag: UInt64, generation: UInt64, connection: AMQPConnection?
    ) {
        self.exchange = exchange
        self.routingKey = routingKey
        self.body = body
        self.properties = properties
        self.queue = queue
        self.redelivered = redelivered
        self.deliveryTag = deliveryTag
        self.generation = generation
        self.connection = connection
    }

    public func ack(multiple: Bool = false) {
        count("acked")
        connection?.settle(.ack(multiple: multiple), tag: deliveryTag, generation: generation)
    }

    /// Negative acknowledgement; without `requeue` the message goes to the queue's dead-letter exchange.
    public func nack(requeue: Bool, multiple: Bool = false) {
        count(requeue ? "requeued" : "dead_lettered")
        connection?.settle(.nack(requeue: requeue, multiple: multiple), tag: deliveryTag, generation: generation)
    }

    /// Rejects one message; without `requeue` it is dead-lettered.
    public func reject(requeue: Bool) {
        count(requeue ? "requeued" : "dead_lettered")
        connection?.settle(.reject(requeue: requeue), tag: deliveryTag, generation: generation)
    }

    /// `fleet_bus_messages_total{queue, outcome}`. Queue labels stay bounded: the contract's
    /// service queues by name, every agent queue as `fleet.agent`, anything else `other`.
    private func count(_ outcome: String) {
        Counter(label: "fleet_bus_messages_total", dimensions: [("queue", Self.queueLabel(queue)), ("outcome", outcome)]).increment()
    }

    static func queueLabel(_ queue: String) -> String {
        if queue.hasPrefix("fleet.svc.") || queue == "fleet.dead" { return queue }
        if queue.hasPrefix("fleet.agent.") { return "fleet.agent" }
        return "other"
    }

    /// The reason the broker dead-lettered this message (`rejected`, `expired`, `maxlen`), if it was.
    public var deathReason: String? {
        properties.headers["x-death"]?.arrayValue?.first?.tableValue?["reason"]?.stringValue
    }
}

enum Settlement: Sendable {
    case ack(multiple: Bool)
    case nack(requeue: Bool, multiple: Bool)
    case reject(requeue: Bool)
}

extension Delivery {
    /// The broker user that sent this message: its `user_id` (which the broker validated), or, for
    /// a copy a service router published again (`user_id` = `serviceUser`), the sender it recorded.
    /// Nil for a message published without `user_id`, whose sender nobody vouches for.
    public func sender(serviceUser: String) -> String? {
        guard let user = properties.userId else { return nil }
        if user == serviceUser, let original = properties.headers[RequestRouter.senderHeader]?.stringValue {
            return original.isEmpty ? nil : original
        }
        return user
    }
}
