import FleetBus
import FleetContracts
import FleetCore
import Foundation

extension AMQPConnection {
    /// Announces `body` on `fleet.events` under `route`, stamped with `"at"` (ISO-8601 UTC with
    /// milliseconds: when it happened, not when a listener got it). Events are for listeners and
    /// not persistent; losing one is harmless, since the owner's record in Redis holds the truth.
    public func announce(_ route: String, _ body: JSONValue) async {
        guard case .object(var o) = body else { return }
        o["at"] = .string(Events.timestamp(Date()))
        let message = OutgoingMessage(
            exchange: BusNames.eventsExchange, routingKey: route, body: JSONCoding.encode(.object(o)),
            properties: MessageProperties(contentType: "application/json", persistent: false))
        _ = try? await publish(message)
    }
}

public enum Events {
    public static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
