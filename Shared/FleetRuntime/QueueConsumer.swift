import FleetBus
import FleetContracts
import ServiceLifecycle

extension ServiceContext {
    /// Declares `topology`, then handles every delivery of `queue` concurrently (up to `prefetch`
    /// at a time) until graceful shutdown; `handle` settles each delivery itself. The shape of
    /// every background consumer: results, and the events the controller and scheduler follow.
    public func consume(
        _ queue: String, topology: Topology, prefetch: UInt16,
        _ handle: @escaping @Sendable (Delivery) async -> Void
    ) async throws {
        try await consumer.declare(topology)
        let deliveries = try await consumer.consume(queue: queue, prefetch: prefetch)
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                for await delivery in deliveries { group.addTask { await handle(delivery) } }
            }
        } onGracefulShutdown: {
            deliveries.cancel()
        }
    }
}

extension Topology {
    /// A service's durable queue on `fleet.events`, bound to `keys` (dead letters to `fleet.dlx`).
    public static func eventsQueue(_ queue: String, keys: [String]) -> Topology {
        Topology(
            exchanges: [ExchangeDeclaration(name: BusNames.eventsExchange, kind: .topic)],
            queues: [.durable(queue, deadLetterExchange: BusNames.deadLetterExchange)],
            bindings: keys.map { BindingDeclaration(queue: queue, exchange: BusNames.eventsExchange, routingKey: $0) })
    }
}

/// Runs `tick` (with its count, from 0) every `interval` until graceful shutdown: the shape of
/// every timer loop (deadline sweeps, rollout timers, the scheduler's clock). Timers live in
/// Redis, so a missed tick is caught by the next one.
public func everyTick(_ interval: Duration, _ tick: (Int) async -> Void) async {
    var count = 0
    while !Task.isShuttingDownGracefully && !Task.isCancelled {
        await tick(count)
        count += 1
        // The wait ends at graceful shutdown as well: a long interval (a retention sweep's is a
        // minute) must not hold a SIGTERM up for that long.
        try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
    }
}
