import FleetBus
import FleetContracts
import FleetCore
import FleetMessaging
import FleetObservability
import Foundation
import Logging
import ServiceLifecycle

/// Serves one service's queue: declares the topology, consumes with manual acks and bounded
/// prefetch, decodes each command, routes it by routing key, replies on `reply_to`, and acks only
/// after the handler's effect is durable. An undecodable or unroutable message is rejected into
/// `fleet.dead` and the service keeps serving; so is one delivered `RequestRouter.deliveryLimit`
/// times (its handler died each time, or it is fire-and-forget and kept failing with a 5xx). On
/// SIGTERM it stops taking deliveries, finishes the ones it holds, and returns.
public struct CommandService: Service {
    public let name: ServiceName
    public let handlers: [String: CommandHandler]
    let consumer: AMQPConnection
    let replies: AMQPConnection
    let prefetch: UInt16
    let logger: Logger

    public init(
        name: ServiceName, handlers: [String: CommandHandler], consumer: AMQPConnection, replies: AMQPConnection,
        prefetch: UInt16, logger: Logger
    ) {
        self.name = name
        self.handlers = handlers
        self.consumer = consumer
        self.replies = replies
        self.prefetch = prefetch
        self.logger = logger
    }

    /// The shared topology plus this service's queue and bindings.
    public static func topology(for service: ServiceName) -> Topology {
        let queue = BusNames.serviceQueue(service)
        return Topology(
            exchanges: [
                ExchangeDeclaration(name: BusNames.commandsExchange, kind: .topic),
                ExchangeDeclaration(name: BusNames.eventsExchange, kind: .topic),
                ExchangeDeclaration(name: BusNames.deadLetterExchange, kind: .fanout),
                ExchangeDeclaration(name: BusNames.agentExchange, kind: .topic),
                ExchangeDeclaration(name: BusNames.fromAgentsExchange, kind: .topic),
                ExchangeDeclaration(name: BusNames.resultsExchange, kind: .topic),
            ],
            queues: [
                .quorum(BusNames.deadLetterQueue, deadLetterExchange: nil),
                .quorum(queue, deadLetterExchange: BusNames.deadLetterExchange, deliveryLimit: BusNames.brokerDeliveryLimit),
            ],
            bindings: [BindingDeclaration(queue: BusNames.deadLetterQueue, exchange: BusNames.deadLetterExchange, routingKey: "")]
                + service.bindings.map { BindingDeclaration(queue: queue, exchange: BusNames.commandsExchange, routingKey: $0) }
                + service.agentBindings.map { BindingDeclaration(queue: queue, exchange: BusNames.fromAgentsExchange, routingKey: $0) })
    }

    public func run() async throws {
        try await consumer.declare(Self.topology(for: name))
        try await consumer.declare(.audit)
        let deliveries = try await consumer.consume(queue: BusNames.serviceQueue(name), prefetch: prefetch)
        let routes = handlers.mapValues { handler in wrap(handler) }
        let router = RequestRouter(handlers: routes, logger: logger)
        logger.info("serving", metadata: ["service": "\(name.rawValue)", "queue": "\(BusNames.serviceQueue(name))"])
        await withGracefulShutdownHandler {
            await router.serve(deliveries, replies: replies)
        } onGracefulShutdown: {
            logger.info("draining: no new deliveries", metadata: ["service": "\(name.rawValue)"])
            deliveries.cancel()
        }
        logger.info("drained", metadata: ["service": "\(name.rawValue)"])
    }

    /// Publishes the record of an answered mutating command for the audit trail's owner, before
    /// the command is acked: a service killed in between answers it again when it is redelivered,
    /// and records it then (the trail is at least once). A publish that fails is logged, and the
    /// reply still goes.
    private func audit(_ route: String, body: JSONValue, reply: BusReply, actor: String, requestID: String?) async {
        let record = AuditRecord(
            at: Events.timestamp(Date()), actor: actor, action: route, target: Self.auditTarget(body, reply: reply), status: reply.status,
            error: reply.error?.error, requestID: requestID)
        do {
            try await replies.publish(
                OutgoingMessage(
                    record, exchange: BusNames.eventsExchange, routingKey: BusNames.auditKey(route), properties: MessageProperties(persistent: true)))
        } catch {
            logger.warning("audit record not published", metadata: ["route": "\(route)", "error": "\(error)"])
        }
    }

    /// What a command acted on: the record it made or named (`id`), else a name, an operation
    /// type, or how many hosts an upsert carried.
    static func auditTarget(_ body: JSONValue, reply: BusReply) -> String? {
        for value in [reply.body?["id"], body["id"], body["name"], body["operation_type"]] {
            if let text = value?.stringValue, !text.isEmpty { return String(text.prefix(256)) }
        }
        if let hosts = body["hosts"]?.arrayValue { return "\(hosts.count) hosts" }
        return nil
    }

    private func wrap(_ handler: @escaping CommandHandler) -> RequestHandler {
        { delivery in
            guard let body = JSONCoding.decode(delivery.body) else {
                return .deadLetter(reason: "body is not JSON")
            }
            let user = delivery.sender(serviceUser: consumer.config.user)
            let request = BusRequest(
                routingKey: delivery.routingKey, body: body, messageID: delivery.properties.messageId,
                headers: delivery.properties.headers, sender: AgentIdentity(brokerUser: user, serviceUser: consumer.config.user),
                senderUser: user)
            // The client request this command serves, if its publisher named one: the handler's
            // log lines, this service's line for the command, and the commands it sends on carry it.
            let requestID: String? =
                if case .string(let id)? = delivery.properties.headers[RequestID.header], RequestID.accepts(id) { id } else { nil }
            // Who asked: the caller the gateway (or a service acting for it) names, believed only
            // from the services' own broker user; else the broker user that published it.
            let actor: String =
                if request.sender == .service, case .string(let named)? = delivery.properties.headers[AuditActor.header], named.utf8.count <= 512 {
                    named
                } else {
                    AuditActor.bus(user: user ?? "unknown")
                }
            let reply = await RequestID.$current.withValue(requestID) {
                let started = ContinuousClock.now
                let reply: BusReply
                if let version = delivery.properties.headers[BusNames.versionHeader], version != .string(BusNames.contractVersion) {
                    // A publisher speaking another contract would be misread: refuse it, and say what is spoken.
                    reply = .failure(400, "unsupported_version", "this service speaks \(BusNames.versionHeader) \(BusNames.contractVersion); got \(version)")
                } else {
                    reply = await AuditActor.$current.withValue(actor) { await handler(request) }
                }
                let elapsed = ContinuousClock.now - started
                FleetMetrics.command(route: delivery.routingKey, status: reply.status, duration: elapsed)
                logger.debug(
                    "command answered",
                    metadata: ["route": "\(delivery.routingKey)", "status": "\(reply.status)", "duration_ms": "\(elapsed.wholeMilliseconds)"])
                return reply
            }
            if Route.audited.contains(delivery.routingKey) {
                await audit(delivery.routingKey, body: body, reply: reply, actor: actor, requestID: requestID)
            }
            if let refusal = reply.senderRefusal {
                // A request from someone who may not speak for its hosts gets no answer at all.
                SenderCheck.refused(route: delivery.routingKey, user: user, reason: refusal, logger: logger)
                return .deadLetter(reason: refusal)
            }
            if reply.status >= 500, delivery.properties.replyTo?.isEmpty ?? true {
                // Nobody waits for this answer to retry: a command that failed for now (Redis or a
                // service it needs was away) is delivered again, up to the delivery limit.
                return .retryLater(reason: "answered \(reply.status) \(reply.error?.error ?? "")")
            }
            return .reply(
                JSONCoding.encode(reply.json),
                MessageProperties(
                    contentType: "application/json", persistent: false, headers: [BusNames.versionHeader: .string(BusNames.contractVersion)]))
        }
    }
}
