import FleetBus
import FleetContracts
import ServiceLifecycle

extension ServiceContext {
    /// Declares `topology`, then handles every delivery of `queue` concurrently (up to `prefetch`
    /// at a time) until graceful shutdown, settling each as `handle` decides. The shape of every
    /// background consumer: results, and the events the controller and scheduler follow. It goes
    /// through a `RequestRouter`, so these messages have the commands' delivery limit too: one that
    /// kills its consumer every time is dead-lettered after `RequestRouter`'s limit instead of
    /// killing every replica forever, and one whose dependency is away comes back after a pause
    /// (`.unavailable`), not in a tight loop.
    public func consume(
        _ queue: String, topology: Topology, prefetch: UInt16,
        _ handle: @escaping RequestHandler
    ) async throws {
        try await consumer.declare(topology)
        let deliveries = try await consumer.consume(queue: queue, prefetch: prefetch)
        let router = RequestRouter(handlers: [:], fallback: handle, logger: logger)
        await withGracefulShutdownHandler {
            await router.serve(deliveries, replies: publisher)
        } onGracefulShutdown: {
            deliveries.cancel()
        }
    }
}

extension Topology {
    private static var auditQueue: QueueDeclaration {
        var q = QueueDeclaration.quorum(BusNames.auditQueue, deadLetterExchange: BusNames.deadLetterExchange, deliveryLimit: BusNames.brokerDeliveryLimit)
        q.arguments["x-max-length"] = .int(1_000_000)
        return q
    }

    /// The audit trail's queue (`BusNames.auditQueue`), at most a million records while no
    /// gateway consumes it.
    public static let audit = Topology(
        exchanges: [ExchangeDeclaration(name: BusNames.eventsExchange, kind: .topic)],
        queues: [auditQueue],
        bindings: BusNames.auditKeys.map { BindingDeclaration(queue: BusNames.auditQueue, exchange: BusNames.eventsExchange, routingKey: $0) })

    /// A service's quorum queue on `fleet.events`, bound to `keys` (dead letters to `fleet.dlx`).
    public static func eventsQueue(_ queue: String, keys: [String]) -> Topology {
        Topology(
            exchanges: [ExchangeDeclaration(name: BusNames.eventsExchange, kind: .topic)],
            queues: [.quorum(queue, deadLetterExchange: BusNames.deadLetterExchange, deliveryLimit: BusNames.brokerDeliveryLimit)],
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
