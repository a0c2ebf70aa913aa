import Logging

/// What a request handler decided.
public enum RequestOutcome: Sendable {
    /// Reply with this body (if the request asked for a reply), then ack.
    case reply([UInt8], MessageProperties = MessageProperties(contentType: "application/json", persistent: false))
    /// The request cannot be processed (undecodable, unknown routing key): reject it without
    /// requeue so that it lands in the queue's dead-letter exchange, and keep serving.
    case deadLetter(reason: String)
    /// The request failed for now (a dependency is down): deliver it again later, and dead-letter
    /// it once it has been delivered `deliveryLimit` times.
    case retryLater(reason: String)
    /// Handled, nothing to answer: ack.
    case done
    /// A dependency every message needs is away (Redis restarting, say): deliver it again after a
    /// pause that grows while this goes on, not counted toward the limit (a result must outlast an
    /// outage of any length, and must not come back in a tight loop while it lasts).
    case unavailable(reason: String)
}

public typealias RequestHandler = @Sendable (Delivery) async -> RequestOutcome

/// Serves one queue: routes each delivery by routing key to its handler, publishes the reply on
/// `reply_to` with the request's `correlation_id`, and acks only after the handler returned (its
/// effect is durable) and the reply was confirmed. Up to `prefetch` requests are handled at once.
///
/// A request is handled at most `deliveryLimit` times. The broker redelivers a message whose
/// handler died or lost its connection before settling it, with no count of its own on a classic
/// queue: so a redelivered message is published again with `x-fleet-deliveries` one higher (and
/// the original acked), and one past the limit is dead-lettered with `x-fleet-failure` saying why.
/// A command that crashes its handler every time thus ends in `fleet.dead` instead of crashing
/// every replica forever. A request whose caller has stopped waiting (`x-fleet-deadline-ms`) is
/// acked unhandled: a client that got its timeout may retry, and must not find it done twice.
public struct RequestRouter: Sendable {
    public static let deliveriesHeader = "x-fleet-deliveries"
    public static let failureHeader = "x-fleet-failure"
    /// Who first published a request this router published again: the broker stamps the copy with
    /// the router's own user, and the check of who may speak for a host must still see the sender.
    public static let senderHeader = "x-fleet-sender"

    public let handlers: [String: RequestHandler]
    /// Takes what no handler is named for (events, whose routing keys carry ids); nil: dead-letter it.
    public let fallback: RequestHandler?
    public let deliveryLimit: Int
    private let logger: Logger
    private let pacing = RetryPacing()

    public init(
        handlers: [String: RequestHandler], fallback: RequestHandler? = nil, deliveryLimit: Int = 5,
        logger: Logger = Logger(label: "fleet.router")
    ) {
        self.handlers = handlers
        self.fallback = fallback
        self.deliveryLimit = deliveryLimit
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

    /// How many times this request has been delivered, this delivery included.
    static func deliveries(_ delivery: Delivery) -> Int {
        Int(delivery.properties.headers[deliveriesHeader]?.intValue ?? 1)
    }

    func handle(_ delivery: Delivery, replies: AMQPConnection) async {
        guard let handler = handlers[delivery.routingKey] ?? fallback else {
            logger.warning("no handler for routing key; dead-lettering", metadata: ["amqp.routing_key": "\(delivery.routingKey)"])
            return delivery.reject(requeue: false)
        }
        if RPCClient.callerGaveUp(delivery) {
            logger.warning("request dropped: its caller stopped waiting", metadata: ["amqp.routing_key": "\(delivery.routingKey)"])
            return delivery.ack()
        }
        if delivery.redelivered {
            return await deliverAgain(delivery, replies: replies, reason: "redelivered unsettled: a handler died or lost its connection holding it")
        }
        let outcome = await handler(delivery)
        if case .unavailable = outcome {} else { await pacing.succeeded() }
        switch outcome {
        case .done:
            delivery.ack()
        case .unavailable(let reason):
            await pacing.pause()
            await deliverAgain(delivery, replies: replies, reason: reason, counted: false)
        case .deadLetter(let reason):
            logger.warning("request dead-lettered", metadata: ["amqp.routing_key": "\(delivery.routingKey)", "reason": "\(reason)"])
            delivery.reject(requeue: false)
        case .retryLater(let reason):
            await deliverAgain(delivery, replies: replies, reason: reason)
        case .reply(let body, var props):
            guard let replyTo = delivery.properties.replyTo, !replyTo.isEmpty else { return delivery.ack() }
            props.correlationId = delivery.properties.correlationId
            do throws(AMQPError) {
                try await replies.publish(OutgoingMessage(exchange: "", routingKey: replyTo, body: body, properties: props))
                delivery.ack()
            } catch {
                // The reply did not reach the broker: requeue so the request is answered later, not
                // lost (it comes back redelivered, and is counted then).
                logger.warning("reply publish failed; requeueing request", metadata: ["error": "\(error)"])
                delivery.nack(requeue: true)
            }
        }
    }

    /// Puts the request back at the end of its queue with its delivery count one higher, or
    /// dead-letters it when it has been delivered `deliveryLimit` times. The copy is confirmed
    /// before the original is acked: a crash between the two leaves two copies, never none.
    private func deliverAgain(_ delivery: Delivery, replies: AMQPConnection, reason: String, counted: Bool = true) async {
        let count = Self.deliveries(delivery)
        guard count < deliveryLimit || !counted else {
            logger.error(
                "request delivered too many times; dead-lettering",
                metadata: ["amqp.routing_key": "\(delivery.routingKey)", "deliveries": "\(count)", "reason": "\(reason)"])
            return delivery.reject(requeue: false)
        }
        var props = delivery.properties
        props.headers[Self.deliveriesHeader] = .int(Int64(counted ? count + 1 : count))
        props.headers[Self.failureHeader] = .string(reason)
        // Empty for a request that came without `user_id`: the copy must not become the router's own.
        if props.userId != replies.config.user { props.headers[Self.senderHeader] = .string(props.userId ?? "") }
        props.userId = nil
        do throws(AMQPError) {
            try await replies.publish(OutgoingMessage(exchange: delivery.exchange, routingKey: delivery.routingKey, body: delivery.body, properties: props))
            delivery.ack()
        } catch {
            // The broker is away for this connection too (it reconnects on its own): requeued after
            // a pause, not in a tight loop of redeliveries while it is.
            logger.warning("could not deliver again; requeueing", metadata: ["error": "\(error)"])
            await pacing.pause()
            delivery.nack(requeue: true)
        }
    }
}

/// The pause before a message whose dependency is away goes around again: 100 ms, doubling while
/// failures go on, at most 5 s; back to nothing at the first success.
actor RetryPacing {
    static let first = Duration.milliseconds(100)
    static let longest = Duration.seconds(5)
    private var next = RetryPacing.first

    func pause() async {
        let wait = next
        next = min(next * 2, Self.longest)
        try? await Task.sleep(for: wait)
    }

    func succeeded() { next = Self.first }
}
