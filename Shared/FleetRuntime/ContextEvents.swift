import FleetContracts
import FleetMessaging

extension ServiceContext {
    /// Announces `event` on `fleet.events`, stamped with this context's clock.
    public func announce<E: FleetEvent>(_ route: String, _ event: E) async {
        await publisher.announce(route, event, at: clock.now)
    }

    /// Announces many events in one publish, stamped with this context's clock.
    public func announce<E: FleetEvent>(_ events: [(route: String, event: E)]) async {
        await publisher.announce(events, at: clock.now)
    }
}
