import FleetBus
import FleetContracts
import FleetCore
import Foundation
import Logging

/// The gateway's one subscription to `fleet.events` for Server-Sent Events (`GET /events`): a
/// queue of its own (exclusive, auto-deleted with its connection, at most 10,000 events waiting)
/// bound to the per-record events, started on the first client, and fanned out in-process to each
/// client whose keys an event matches. Each client's buffer holds at most `buffer` events: one that
/// reads slower than events arrive loses the oldest (the newest, a finish, is always kept). No
/// client costs the broker anything: a thousand dashboards are one queue.
actor EventHub {
    /// What a client gets: an event with its routing key, or a heartbeat.
    enum Item: Sendable {
        case event(key: String, body: [UInt8])
        case heartbeat
    }

    struct Subscriber {
        var keys: Set<String>
        /// A schedule's stream: each fire's operation is followed to its finish.
        let followsFires: Bool
        let continuation: AsyncStream<Item>.Continuation
    }

    static let buffer = 256
    static let bindings = ["bulk.*.host", "bulk.*.finished", "rolling.*.batch", "rolling.*.halted", "rolling.*.finished", "schedule.*.fired"]

    private let connection: AMQPConnection
    private let logger: Logger
    private var subscribers: [UInt64: Subscriber] = [:]
    private var nextID: UInt64 = 0
    private var started: Task<Void, Error>?

    init(connection: AMQPConnection, logger: Logger = Logger(label: "fleet.gateway.events")) {
        self.connection = connection
        self.logger = logger
    }

    /// A stream of the events whose routing key is one of `keys`, until `unsubscribe`.
    func subscribe(keys: Set<String>, followsFires: Bool = false) async throws -> (UInt64, AsyncStream<Item>) {
        try await start()
        let (stream, continuation) = AsyncStream<Item>.makeStream(bufferingPolicy: .bufferingNewest(Self.buffer))
        nextID += 1
        subscribers[nextID] = Subscriber(keys: keys, followsFires: followsFires, continuation: continuation)
        return (nextID, stream)
    }

    func unsubscribe(_ id: UInt64) {
        subscribers.removeValue(forKey: id)?.continuation.finish()
    }

    private func start() async throws {
        if started == nil {
            let queue = "fleet.gateway.events.\(UInt64.random(in: 0...UInt64.max))"
            let connection = connection
            let task = Task {
                try await connection.declare(
                    Topology(
                        exchanges: [ExchangeDeclaration(name: BusNames.eventsExchange, kind: .topic)],
                        queues: [
                            QueueDeclaration(
                                name: queue, durable: false, exclusive: true, autoDelete: true,
                                arguments: ["x-max-length": .int(10_000), "x-overflow": .string("drop-head")])
                        ],
                        bindings: Self.bindings.map { BindingDeclaration(queue: queue, exchange: BusNames.eventsExchange, routingKey: $0) }))
                let deliveries = try await connection.consume(queue: queue, prefetch: 500, noAck: true)
                Task { [weak self] in
                    for await d in deliveries { await self?.dispatch(d) }
                }
                Task { [weak self] in
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .seconds(15))
                        await self?.heartbeat()
                    }
                }
            }
            started = task
        }
        do { try await started!.value } catch {
            started = nil  // the next client tries again
            throw error
        }
    }

    private func dispatch(_ d: Delivery) {
        let key = d.routingKey
        for (id, var s) in subscribers where s.keys.contains(key) {
            s.continuation.yield(.event(key: key, body: d.body))
            if s.followsFires, key.hasSuffix(".fired"), let op = JSONCoding.decode(d.body)?["operation_id"]?.stringValue {
                s.keys.formUnion([EventRoute.bulkFinished(op), EventRoute.rollingFinished(op)])
                subscribers[id] = s
            }
        }
    }

    private func heartbeat() {
        for s in subscribers.values { s.continuation.yield(.heartbeat) }
    }
}
