import FleetBus
import FleetContracts
import FleetCore
import FleetRuntime
import Logging
import ServiceLifecycle

/// Consumes `fleet.results`: per-host results from agents (`result`) and commands that expired
/// unread (`expired`). Each becomes one transition, acked only after it is durable; a duplicate or
/// late one changes nothing. The transition that finishes an operation announces it once.
public struct ResultsConsumer: Service {
    let engine: BulkEngine
    var context: ServiceContext { engine.context }
    var store: HostTransitionStore { engine.store }

    init(engine: BulkEngine) { self.engine = engine }

    static let topology = Topology(
        queues: [.durable(BusNames.resultsQueue, deadLetterExchange: BusNames.deadLetterExchange)],
        bindings: [BindingDeclaration(queue: BusNames.resultsQueue, exchange: BusNames.resultsExchange, routingKey: "#")])

    public func run() async throws {
        try await context.consume(BusNames.resultsQueue, topology: Self.topology, prefetch: 200) { await handle($0) }
    }

    func handle(_ delivery: Delivery) async {
        guard let body = JSONCoding.decode(delivery.body), let op = body["op_id"]?.stringValue, let host = body["host_id"]?.stringValue else {
            context.logger.warning("undecodable result; dead-lettering", metadata: ["amqp.routing_key": "\(delivery.routingKey)"])
            return delivery.reject(requeue: false)
        }
        do {
            if delivery.routingKey == BusNames.expiredKey {
                let outcome = try await store.move(operation: op, hosts: [host], to: .failed, reason: .undeliverable)
                try await engine.hostsEnded(op: op, to: .failed, reason: .undeliverable, outcome)
            } else {
                guard let (to, reason) = Self.status(body) else {
                    context.logger.warning("result without a valid status; dead-lettering", metadata: ["op.id": "\(op)", "host.id": "\(host)"])
                    return delivery.reject(requeue: false)
                }
                let outcome = try await store.move(operation: op, hosts: [host], to: to, reason: reason,
                                                   result: String(decoding: JSONCoding.encode(body), as: UTF8.self))
                try await engine.hostsEnded(op: op, to: to, reason: reason, outcome)
            }
            delivery.ack()
        } catch {
            // Redis unavailable: the result goes back to the queue and is tried again.
            context.logger.error("result not recorded; requeueing", metadata: ["error": "\(error)"])
            delivery.nack(requeue: true)
        }
    }

    /// `succeeded`, or `failed` with a failure reason (default `exit_code`).
    static func status(_ body: JSONValue) -> (HostStatus, HostReason?)? {
        switch body["status"]?.stringValue {
        case "succeeded": return (.succeeded, nil)
        case "failed":
            let reason = body["reason"]?.stringValue.flatMap(HostReason.init(rawValue:)) ?? .exitCode
            return reason.status == .failed ? (.failed, reason) : nil
        case "skipped":
            return body["reason"]?.stringValue == HostReason.unsupported.rawValue ? (.skipped, .unsupported) : nil
        default: return nil
        }
    }
}
