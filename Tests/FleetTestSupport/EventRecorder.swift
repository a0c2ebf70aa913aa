import FleetBus
import FleetContracts
import FleetCore
import FleetMessaging
import FleetRuntime
import Foundation
import Synchronization

/// Records what services announce on `fleet.events` under a routing pattern, through a queue of
/// its own that goes away with the test's connection.
public final class EventRecorder: Sendable {
    private final class Log: Sendable { let entries = Mutex<[(String, JSONValue, Date)]>([]) }
    private let log = Log()
    private let task: Mutex<Task<Void, Never>?> = Mutex(nil)

    public init(_ connection: AMQPConnection, pattern: String) async throws {
        let queue = unique("test.events.")
        try await connection.declare(
            Topology(
                exchanges: [ExchangeDeclaration(name: BusNames.eventsExchange, kind: .topic)],
                queues: [QueueDeclaration(name: queue, durable: false, autoDelete: true)],
                bindings: [BindingDeclaration(queue: queue, exchange: BusNames.eventsExchange, routingKey: pattern)]))
        let deliveries = try await connection.consume(queue: queue, prefetch: 500)
        let log = log
        task.withLock {
            $0 = Task {
                for await d in deliveries {
                    if let body = JSONCoding.decode(d.body) { log.entries.withLock { $0.append((d.routingKey, body, Date())) } }
                    d.ack()
                }
            }
        }
    }

    /// Events so far, in arrival order, whose routing key is `key`, without their `at` stamp.
    public func received(_ key: String) -> [JSONValue] {
        log.entries.withLock { $0.filter { $0.0 == key }.map(\.1) }.map { e in
            guard case .object(var o) = e else { return e }
            o["at"] = nil
            return .object(o)
        }
    }

    /// When the publisher says the events under `key` happened (their `at` stamp), in arrival order.
    public func stamps(_ key: String) -> [(JSONValue, Date)] {
        log.entries.withLock { $0.filter { $0.0 == key } }.compactMap { _, body, _ in
            body["at"]?.stringValue.flatMap(parseTimestamp).map { (body, $0) }
        }
    }

    public func stop() { task.withLock { $0?.cancel() } }
}

/// An ISO-8601 timestamp as the services write them, with their milliseconds kept.
public func parseTimestamp(_ text: String) -> Date? {
    (try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))) ?? (try? Date(text, strategy: .iso8601))
}
