import FleetBus
import FleetContracts
import FleetCore
import FleetRuntime
import Synchronization

/// Records what services announce on `fleet.events` under a routing pattern, through a queue of
/// its own that goes away with the test's connection.
public final class EventRecorder: Sendable {
    private final class Log: Sendable { let entries = Mutex<[(String, JSONValue)]>([]) }
    private let log = Log()
    private let task: Mutex<Task<Void, Never>?> = Mutex(nil)

    public init(_ connection: AMQPConnection, pattern: String) async throws {
        let queue = unique("test.events.")
        try await connection.declare(Topology(
            exchanges: [ExchangeDeclaration(name: BusNames.eventsExchange, kind: .topic)],
            queues: [QueueDeclaration(name: queue, durable: false, autoDelete: true)],
            bindings: [BindingDeclaration(queue: queue, exchange: BusNames.eventsExchange, routingKey: pattern)]))
        let deliveries = try await connection.consume(queue: queue, prefetch: 500)
        let log = log
        task.withLock { $0 = Task {
            for await d in deliveries {
                if let body = JSONCoding.decode(d.body) { log.entries.withLock { $0.append((d.routingKey, body)) } }
                d.ack()
            }
        } }
    }

    /// Events so far, in arrival order, whose routing key is `key`.
    public func received(_ key: String) -> [JSONValue] { log.entries.withLock { $0.filter { $0.0 == key }.map(\.1) } }

    public func stop() { task.withLock { $0?.cancel() } }
}
