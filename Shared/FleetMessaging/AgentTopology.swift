import FleetBus
import FleetContracts

extension Topology {
    /// An agent's queue as the contract requires (expired commands dead-letter back to the
    /// dispatcher as `expired`), bound on `fleet.agent` to every host id it serves.
    public static func agentQueue(_ name: String, hostIDs: [String], durable: Bool = true) -> Topology {
        Topology(
            exchanges: [
                ExchangeDeclaration(name: BusNames.agentExchange, kind: .direct),
                ExchangeDeclaration(name: BusNames.resultsExchange, kind: .topic),
            ],
            queues: [
                QueueDeclaration(
                    name: name, durable: durable, exclusive: !durable, autoDelete: !durable,
                    arguments: BusNames.agentQueueArguments.mapValues { .string($0) })
            ],
            bindings: hostIDs.map { BindingDeclaration(queue: name, exchange: BusNames.agentExchange, routingKey: $0) })
    }
}
