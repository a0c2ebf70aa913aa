import FleetBus
import FleetContracts
import FleetCore
import FleetRuntime

/// What the dispatcher's parts share: the per-host store, dispatching, and what follows a host's
/// move (free a slot of the concurrency window, announce the host, announce the finish once).
struct BulkEngine: Sendable {
    let context: ServiceContext
    let store: HostTransitionStore
    let dispatch: AgentDispatch

    init(context: ServiceContext) {
        self.context = context
        store = HostTransitionStore(redis: context.redis)
        dispatch = AgentDispatch(publisher: context.publisher, store: store)
    }

    /// Call after moving `host` of `op` to a terminal status.
    func hostEnded(op: String, host: String, _ outcome: HostTransitionStore.Outcome) async throws {
        guard outcome.applied > 0 else { return }
        await announce(EventRoute.bulkHost(op), ["op_id": .string(op), "host_id": .string(host)])
        try await dispatch.release(op: op, count: outcome.applied)
        if outcome.justFinished {
            await announce(EventRoute.bulkFinished(op), ["op_id": .string(op), "status": .string(outcome.aggregate.rawValue)])
        }
    }

    /// Events are for listeners; losing one is harmless (Redis holds the record).
    func announce(_ route: String, _ body: JSONValue) async {
        let message = OutgoingMessage(exchange: BusNames.eventsExchange, routingKey: route, body: JSONCoding.encode(body),
                                      properties: MessageProperties(contentType: "application/json", persistent: false))
        _ = try? await context.publisher.publish(message)
    }
}
