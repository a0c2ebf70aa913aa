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

    /// Call after moving hosts of `op` to a terminal status `to`.
    func hostsEnded(op: String, to: HostStatus, reason: HostReason?, _ outcome: HostTransitionStore.Outcome) async throws {
        try await dispatch.ended(op: op, to: to, reason: reason, outcome)
    }
}
