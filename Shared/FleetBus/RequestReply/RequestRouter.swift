import Logging

/// What a request handler decided.
public enum RequestOutcome: Sendable {
    /// Reply with this body (if the request asked for a reply), then ack.
    case reply([UInt8], MessageProperties = MessageProperties(contentType: "application/json", persistent: false))
    /// The request cannot be processed (undecodable, unknown routing key): reject it without
    /// requeue so that it lands in the queue's dead-letter exchange, and keep serving.
    case deadLetter(reason: String)
}

public typealias RequestHandler = @Sendable (Delivery) async -> RequestOutcome

/// Serves one queue: routes each delivery by routing key to its handler, publishes the reply on
/// `reply_to` with the request's `correlation_id`, and acks only after the handler returned (its
/// effect is durable) and the reply was confirmed. Up to `prefetch` requests are handled at once.
public struct RequestRouter: Sendable {
    public let handlers: [String: RequestHandler]
    private let logger: Logger

    public init(handlers: [String: RequestHandler], logger: Logger = Logger(label: "fleet.router")) {
        self.handlers = handlers
        self.logger = logger
    }

    /// Consumes `consumer` until it ends, replying through `replies`.
    public func serve(_ consumer: AMQPConsumer, replies: AMQPConnection) async {
        await withDiscardingTaskGroup { group in
            for await delivery in consumer {
                group.addTask { await handle(delivery, replies: replies) }
            }
        }
    }

    func handle(_ delivery: Delivery, replies: AMQPConnection) async {
        guard let handler = handlers[delivery.routingKey] else {
            logger.warning("no handler for routing key; dead-lettering", metadata: ["amqp.routing_key": "\(delivery.routingKey)"])
            return delivery.reject(requeue: false)
        }
        switch await handler(delivery) {
        case .deadLetter(let reason):
            logger.warning("request dead-lettered", metadata: ["amqp.routing_key": "\(delivery.routingKey)", "reason": "\(reason)"])
            delivery.reject(requeue: false)
        case .reply(let body, var props):
            guard let replyTo = delivery.properties.replyTo, !replyTo.isEmpty else { return delivery.ack() }
            props.correlationId = delivery.properties.correlationId
            do throws(AMQPError) {
                try await replies.publish(OutgoingMessage(exchange: "", routingKey: replyTo, body: body, properties: props))
                delivery.ack()
            } catch {
                // The reply did not reach the broker: requeue so the request is answered later, not lost.
                logger.warning("reply publish failed; requeueing request", metadata: ["error": "\(error)"])
                delivery.nack(requeue: true)
            }
        }
    }
}
