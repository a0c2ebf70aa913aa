import FleetBus
import FleetContracts
import FleetCore
import Foundation

extension AMQPConnection {
    /// Announces `event` on `fleet.events` under `route`, stamped with `at` (when it happened, not
    /// when a listener got it) and with its name and version. Events are for listeners and not
    /// persistent; losing one is harmless, since the owner's record in Redis holds the truth.
    public func announce<E: FleetEvent>(_ route: String, _ event: E, at date: Date) async {
        var event = event
        event.at = Events.timestamp(date)
        let message = OutgoingMessage(
            event, exchange: BusNames.eventsExchange, routingKey: route, properties: MessageProperties(persistent: false))
        _ = try? await publish(message)
    }
}

extension AMQPConnection {
    /// Announces many events at once (one publish, one wait for the confirms), each stamped `at`.
    public func announce<E: FleetEvent>(_ events: [(route: String, event: E)], at date: Date) async {
        guard !events.isEmpty else { return }
        let stamp = Events.timestamp(date)
        let messages = events.map { route, event in
            var event = event
            event.at = stamp
            return OutgoingMessage(event, exchange: BusNames.eventsExchange, routingKey: route, properties: MessageProperties(persistent: false))
        }
        _ = await publish(batch: messages)
    }
}

public enum Events {
    public static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
