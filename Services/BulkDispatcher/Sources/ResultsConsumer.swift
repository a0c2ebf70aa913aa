import FleetBus
import FleetContracts
import FleetCore
import FleetMessaging
import FleetObservability
import FleetRuntime
import Logging
import ServiceLifecycle

/// Consumes per-host results from agents (`result` on `fleet.from-agents`, believed only from a
/// sender that may speak for the host) and commands that expired unread (`expired` on
/// `fleet.results`). Each becomes one transition, acked only after it is durable; a duplicate or
/// late one changes nothing. The transition that finishes an operation announces it once.
public struct ResultsConsumer: Service {
    let engine: BulkEngine
    var context: ServiceContext { engine.context }
    var store: HostTransitionStore { engine.store }

    init(engine: BulkEngine) { self.engine = engine }

    static let topology = Topology(
        queues: [.quorum(BusNames.resultsQueue, deadLetterExchange: BusNames.deadLetterExchange, deliveryLimit: BusNames.brokerDeliveryLimit)],
        bindings: [
            BindingDeclaration(queue: BusNames.resultsQueue, exchange: BusNames.fromAgentsExchange, routingKey: BusNames.resultKey),
            BindingDeclaration(queue: BusNames.resultsQueue, exchange: BusNames.resultsExchange, routingKey: BusNames.expiredKey),
        ])

    public func run() async throws {
        try await context.consume(BusNames.resultsQueue, topology: Self.topology, prefetch: 200) { await handle($0) }
    }

    func handle(_ delivery: Delivery) async -> RequestOutcome {
        // A copy published again after a redelivery names its first sender in a header.
        let user = delivery.sender(serviceUser: context.consumer.config.user)
        do {
            if delivery.routingKey == BusNames.expiredKey, delivery.exchange == BusNames.resultsExchange {
                // A command that waited past its TTL, dead-lettered back unread (by the broker: no
                // agent may publish on `fleet.results`).
                let command = try delivery.decode(AgentCommand.self)
                let outcome = try await store.move(operation: command.opID, hosts: [command.hostID], to: .failed, reason: .undeliverable)
                try await engine.hostsEnded(op: command.opID, to: .failed, reason: .undeliverable, outcome)
            } else {
                let result = try delivery.decode(AgentResult.self)
                try SenderCheck.require(AgentIdentity(brokerUser: user, serviceUser: context.consumer.config.user), user: user, speaksFor: [result.hostID])
                guard let (to, reason) = result.transition else {
                    throw ValidationError(
                        "status", .invalidValue, "no agent reports \(result.status.rawValue) with reason \(result.reason?.rawValue ?? "none")")
                }
                let outcome = try await store.move(
                    operation: result.opID, hosts: [result.hostID], to: to, reason: reason,
                    result: String(decoding: result.encoded, as: UTF8.self))
                if let sent = outcome.dispatchedAtMs {
                    FleetMetrics.observe(FleetMetrics.dispatchToResult, [], .milliseconds(context.clock.nowMs - sent))
                }
                try await engine.hostsEnded(op: result.opID, to: to, reason: reason, outcome)
            }
            return .done
        } catch let refused as SenderRefused {
            SenderCheck.refused(route: delivery.routingKey, user: user, reason: refused.reason, logger: context.logger)
            return .deadLetter(reason: refused.reason)
        } catch let refused as ValidationError {
            context.logger.warning(
                "result refused; dead-lettering",
                metadata: [
                    "amqp.routing_key": "\(delivery.routingKey)",
                    "amqp.message_id": "\(delivery.properties.messageId ?? "")", "error": "\(refused)",
                ])
            return .deadLetter(reason: "\(refused)")
        } catch {
            // Redis unavailable: the result goes around again, after a pause while this lasts.
            context.logger.error("result not recorded; delivered again shortly", metadata: ["error": "\(error)"])
            return .unavailable(reason: "\(error)")
        }
    }
}
