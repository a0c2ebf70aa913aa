import Foundation
import Synchronization

/// Sends requests and awaits their replies, many in flight at once on one connection.
///
/// Replies come back through RabbitMQ's direct reply-to (`amq.rabbitmq.reply-to`): no reply queue
/// to declare or clean up. Direct reply-to needs the consumer and the publishes on the same channel,
/// so the client gets a connection of its own.
public final class RPCClient: Sendable {
    public static let replyQueue = "amq.rabbitmq.reply-to"
    /// When the caller stops waiting for the reply: wall-clock milliseconds since 1970.
    public static let deadlineHeader = "x-fleet-deadline-ms"
    /// How far a handler's clock may run ahead of a caller's before a live request looks abandoned.
    public static let clockAllowanceMs: Int64 = 1_000

    public static func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    /// True when the request's caller has stopped waiting for its reply (its deadline, plus the
    /// clock allowance, has passed): handling it now would only do work nobody asked for any more.
    public static func callerGaveUp(_ delivery: Delivery, nowMs: Int64 = nowMs()) -> Bool {
        guard let deadline = delivery.properties.headers[deadlineHeader]?.intValue else { return false }
        return nowMs > deadline + clockAllowanceMs
    }
    private typealias Waiter = CheckedContinuation<Result<Delivery, AMQPError>, Never>
    private struct Pending {
        let waiter: Waiter
        var timer: Task<Void, Never>?
        /// The connection generation the request went out on, once confirmed.
        var generation: UInt64?
    }

    public let connection: AMQPConnection
    private let pending = Mutex<[String: Pending]>([:])
    private let counter = Atomic<UInt64>(0)
    private let prefix = String(UInt64.random(in: 0...UInt64.max), radix: 36)

    private init(connection: AMQPConnection) {
        self.connection = connection
    }

    /// Starts listening for replies on `connection`, which the client then uses for its requests.
    public static func start(on connection: AMQPConnection) async throws(AMQPError) -> RPCClient {
        let client = RPCClient(connection: connection)
        let replies = try await connection.consume(queue: replyQueue, noAck: true)
        // Replies to requests sent on a connection that dropped can never arrive (direct reply-to
        // lives and dies with it): fail those at once instead of letting them wait out the timeout.
        connection.onConnectionLost { [weak client] lost in client?.failRequests(sentOn: lost) }
        Task.detached { [client] in
            for await reply in replies { client.resolve(reply) }
            client.failAll(AMQPError(.closed, "reply consumer ended"))
        }
        return client
    }

    /// Publishes `body` to `exchange` with `routingKey` and waits up to `timeout` for the reply.
    /// The request is `mandatory`: with no queue bound for it, it fails at once instead of timing out.
    public func request(
        exchange: String, routingKey: String, body: [UInt8], properties: MessageProperties = .init(),
        timeout: Duration
    ) async throws(AMQPError) -> Delivery {
        let id = "\(prefix)-\(counter.wrappingAdd(1, ordering: .relaxed).newValue)"
        var props = properties
        props.correlationId = id
        // Every request has a message id of its own unless the caller gave one (an Idempotency-Key):
        // a redelivered request then carries the same id, so a create handled twice (its service
        // died before the ack) makes one record, not two.
        props.messageId = props.messageId ?? "rpc:\(id)"
        props.replyTo = Self.replyQueue
        // Nobody waits past the timeout: the broker drops the request if it is still queued then,
        // and a handler that takes it later drops it too (`callerGaveUp`).
        let ms = Int(timeout.wholeMilliseconds)
        props.expirationMilliseconds = props.expirationMilliseconds ?? max(1, ms)
        props.headers[Self.deadlineHeader] = .int(Self.nowMs() + Int64(ms))
        let message = OutgoingMessage(exchange: exchange, routingKey: routingKey, body: body, properties: props, mandatory: true)
        let result = await withCheckedContinuation { (waiter: Waiter) in
            pending.withLock { $0[id] = Pending(waiter: waiter) }
            let timer = Task {
                do throws(AMQPError) {
                    try await connection.publish(message)
                } catch {
                    return self.finish(id, .failure(error))
                }
                let sentOn = connection.generation
                self.pending.withLock { $0[id]?.generation = sentOn }
                guard (try? await Task.sleep(for: timeout)) != nil else { return }
                self.finish(id, .failure(AMQPError(.timeout, "no reply to \(routingKey) within \(timeout)")))
            }
            pending.withLock { $0[id]?.timer = timer }
        }
        return try result.get()
    }

    private func resolve(_ reply: Delivery) {
        guard let id = reply.properties.correlationId else { return }
        finish(id, .success(reply))
    }

    /// Whoever removes the waiter first answers it; the other outcomes find nothing and do nothing.
    private func finish(_ id: String, _ result: Result<Delivery, AMQPError>) {
        guard let entry = pending.withLock({ $0.removeValue(forKey: id) }) else { return }
        entry.timer?.cancel()
        entry.waiter.resume(returning: result)
    }

    private func failRequests(sentOn lost: UInt64) {
        let dropped = pending.withLock { p -> [Pending] in
            let ids = p.filter { $0.value.generation.map { $0 <= lost } ?? false }.map(\.key)
            return ids.compactMap { p.removeValue(forKey: $0) }
        }
        for entry in dropped {
            entry.timer?.cancel()
            entry.waiter.resume(returning: .failure(AMQPError(.connectionLost, "the connection dropped before the reply came; retry")))
        }
    }

    private func failAll(_ error: AMQPError) {
        let waiters = pending.withLock { p in
            defer { p.removeAll() }
            return p
        }
        for entry in waiters.values {
            entry.timer?.cancel()
            entry.waiter.resume(returning: .failure(error))
        }
    }
}
