import FleetBus
import FleetContracts
import FleetCore
import FleetMessaging
import FleetObservability
import FleetRuntime

/// Publishes each host its command on `fleet.agent` (routing key = host id): persistent, confirmed,
/// `mandatory` (a host no agent is bound for is reported back at once) and with the delivery
/// timeout as its TTL (a command that waits longer comes back `expired`). It only publishes; what
/// follows for the hosts is `BulkEngine`'s.
struct AgentDispatch: Sendable {
    let publisher: AMQPConnection

    /// The command an agent receives.
    static func command(op: String, host: String, request: BulkOperationRequest) -> AgentCommand {
        AgentCommand(
            opID: op, hostID: host, operationType: request.type, parameters: request.parameters.json,
            timeoutSeconds: request.parameters.timeoutSeconds)
    }

    /// Publishes the hosts' commands in one confirmed batch; returns the hosts no queue took.
    func publish(op: String, hosts: [String], request: BulkOperationRequest) async -> [String] {
        let ttl = request.deliveryTimeoutSeconds * 1000
        let messages = hosts.map { host in
            OutgoingMessage(
                Self.command(op: op, host: host, request: request), exchange: BusNames.agentExchange, routingKey: host,
                properties: MessageProperties(messageId: "\(op)/\(host)", expirationMilliseconds: ttl, persistent: true),
                mandatory: true)
        }
        let results = await publisher.publish(batch: messages)
        FleetMetrics.count("fleet_bulk_dispatched_total", by: hosts.count)
        return zip(hosts, results).compactMap { host, result in
            if case .failure(let e) = result, case .returned = e.kind { return host }
            return nil
        }
    }
}
