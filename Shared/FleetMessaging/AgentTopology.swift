import FleetBus
import FleetContracts

extension Topology {
    /// An agent's queue as the contract requires (expired commands dead-letter back to the
    /// dispatcher as `expired`), bound on `fleet.to-agents` to every host id it serves. It declares
    /// no exchange: an agent's broker user may not (the services declare them), so an agent that
    /// starts first retries until they exist.
    public static func agentQueue(_ name: String, hostIDs: [String], durable: Bool = true) -> Topology {
        Topology(
            queues: [
                QueueDeclaration(
                    name: name, durable: durable, exclusive: !durable, autoDelete: !durable,
                    arguments: BusNames.agentQueueArguments.mapValues { .string($0) })
            ],
            bindings: hostIDs.map { BindingDeclaration(queue: name, exchange: BusNames.agentExchange, routingKey: $0) })
    }
}
