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

    /// The command an agent receives: the parameters inline, or where to fetch them.
    static func command(op: String, host: String, request: DispatchableRequest) -> AgentCommand {
        AgentCommand(
            opID: op, hostID: host, operationType: request.operationType, parameters: request.commandParameters,
            parametersRef: request.parametersRef, timeoutSeconds: request.timeoutSeconds)
    }

    /// How many commands one confirmed batch carries: with parameters of up to 64 KiB inline,
    /// a batch is at most 16 MiB however many hosts the operation has.
    static let window = 256

    /// Publishes the hosts' commands in confirmed batches of `window`; returns the hosts no queue took.
    func publish(op: String, hosts: [String], request: DispatchableRequest) async -> [String] {
        let ttl = request.deliveryTimeoutSeconds * 1000
        var unroutable: [String] = []
        for start in stride(from: 0, to: hosts.count, by: Self.window) {
            let slice = Array(hosts[start..<min(start + Self.window, hosts.count)])
            let messages = slice.map { host in
                OutgoingMessage(
                    Self.command(op: op, host: host, request: request), exchange: BusNames.agentExchange, routingKey: host,
                    properties: MessageProperties(messageId: "\(op)/\(host)", expirationMilliseconds: ttl, persistent: true),
                    mandatory: true)
            }
            let results = await publisher.publish(batch: messages)
            unroutable += zip(slice, results).compactMap { host, result in
                if case .failure(let e) = result, case .returned = e.kind { return host }
                return nil
            }
        }
        FleetMetrics.count("fleet_bulk_dispatched_total", by: hosts.count)
        return unroutable
    }
}
