import Foundation
import Logging
import Synchronization

/// One AMQP connection with one channel in confirm mode, owned by a dedicated OS thread.
///
/// Async callers never touch rabbitmq-c: they hand commands to the thread through a locked inbox
/// and a wake pipe, and get answers through continuations. The thread services the socket at least
/// every half heartbeat, so heartbeats flow while the application is busy. When the broker goes
/// away the thread reconnects with capped, jittered backoff, declares the recorded topology again
/// and resumes the consumers; publishes not yet confirmed fail with a retriable error.
public final class AMQPConnection: Sendable {
    let wake = WakePipe()
    /// Commands for the thread; `nil` once the thread has shut down (a late command is answered at once).
    private let inbox = Mutex<[ConnectionCommand]?>([])
    private let state = Mutex<(connected: Bool, generation: UInt64)>((false, 0))
    private let lossHandlers = Mutex<[@Sendable (UInt64) -> Void]>([])
    public let config: AMQPConfig

    private init(config: AMQPConfig) {
        self.config = config
    }

    /// Connects (the first attempt is not retried: a wrong URL or a missing broker fails at once).
    public static func connect(_ config: AMQPConfig, logger: Logger = Logger(label: "fleet.amqp")) async throws(AMQPError) -> AMQPConnection {
        let connection = AMQPConnection(config: config)
        let result = await withCheckedContinuation { (first: CheckedContinuation<Result<Void, AMQPError>, Never>) in
            let thread = Thread {
                ConnectionWorker(shared: connection, config: config, logger: logger).run(firstConnect: first)
            }
            thread.name = "amqp-\(config.connectionName)"
            thread.start()
        }
        try result.get()
        return connection
    }

    public static func connect(
        url: String, heartbeatSeconds: Int = 10, name: String = "fleet",
        logger: Logger = Logger(label: "fleet.amqp")
    ) async throws(AMQPError) -> AMQPConnection {
        try await connect(AMQPConfig(url: url, heartbeatSeconds: heartbeatSeconds, connectionName: name), logger: logger)
    }

    /// True while the broker connection is up.
    public var isConnected: Bool { state.withLock { $0.connected } }

    /// Counts (re)connections; it changes after every reconnect.
    public var generation: UInt64 { state.withLock { $0.generation } }

    // MARK: - Operations

    /// Declares exchanges, queues and bindings, and records them for redeclaration after a reconnect.
    public func declare(_ topology: Topology) async throws(AMQPError) {
        try await withCheckedContinuation { submit(.declare(topology, $0)) }.get()
    }

    /// Publishes one message and waits for the broker's confirm.
    public func publish(_ message: OutgoingMessage) async throws(AMQPError) {
        try await publish(batch: [message])[0].get()
    }

    /// Publishes all messages at once and waits for their confirms: one wait for the whole batch.
    /// Each result says what became of exactly that message.
    public func publish(batch messages: [OutgoingMessage]) async -> [Result<Void, AMQPError>] {
        await withCheckedContinuation { submit(.publish(messages, $0)) }
    }

    /// Starts a consumer. With `noAck` the broker forgets messages once sent; otherwise settle each
    /// delivery, and at most `prefetch` unsettled ones are in flight (that is the backpressure).
    public func consume(queue: String, prefetch: UInt16 = 100, noAck: Bool = false) async throws(AMQPError) -> AMQPConsumer {
        let tag = "fleet-\(UInt64.random(in: 0...UInt64.max))"
        let (stream, sink) = AsyncStream<Delivery>.makeStream()
        sink.onTermination = { [weak self] _ in self?.submit(.cancelConsumer(tag: tag)) }
        let spec = ConsumerSpec(queue: queue, tag: tag, prefetch: prefetch, noAck: noAck, sink: sink)
        try await withCheckedContinuation { submit(.consume(spec, $0)) }.get()
        return AMQPConsumer(stream: stream, tag: tag, connection: self)
    }

    /// Closes the channel and the connection and stops the thread. Pending publishes fail with `.closed`.
    public func close() async {
        await withCheckedContinuation { submit(.close($0)) }
    }

    // MARK: - Thread hand-off

    func submit(_ command: ConnectionCommand) {
        let accepted = inbox.withLock { commands -> Bool in
            guard commands != nil else { return false }
            commands!.append(command)
            return true
        }
        if accepted { wake.signal() } else { command.answerClosed() }
    }

    func settle(_ settlement: Settlement, tag: UInt64, generation: UInt64) {
        submit(.settle(settlement, tag: tag, generation: generation))
    }

    func takeCommands() -> [ConnectionCommand] {
        inbox.withLock { commands in
            defer { if commands != nil { commands!.removeAll(keepingCapacity: true) } }
            return commands ?? []
        }
    }

    /// The last take: after it, `submit` answers commands itself.
    func takeCommandsAndShut() -> [ConnectionCommand] {
        inbox.withLock { commands in
            defer { commands = nil }
            return commands ?? []
        }
    }

    var hasCommands: Bool { inbox.withLock { !($0?.isEmpty ?? true) } }

    func setConnected(_ connected: Bool, generation: UInt64) {
        let wasConnected = state.withLock { s in
            defer { s = (connected, generation) }
            return s.connected
        }
        if wasConnected && !connected {
            for handler in lossHandlers.withLock({ $0 }) { handler(generation) }
        }
    }

    /// Calls `handler` with the generation that was lost, each time the connection drops. It runs
    /// on the connection's thread: keep it short and thread-safe.
    public func onConnectionLost(_ handler: @escaping @Sendable (UInt64) -> Void) {
        lossHandlers.withLock { $0.append(handler) }
    }
}
