import CRabbitMQ
import CoreMetrics
import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Everything that touches one rabbitmq-c connection. It lives on, and is used only by, the
/// connection's own OS thread: rabbitmq-c is not thread-safe, and its calls block.
final class ConnectionWorker {
    private static let channel: amqp_channel_t = 1
    /// Header that identifies a returned mandatory message, since basic.return carries no sequence number.
    static let sequenceHeader = "x-fleet-seq"

    private let shared: AMQPConnection
    private let config: AMQPConfig
    private let logger: Logger
    private var conn: amqp_connection_state_t?
    private var generation: UInt64 = 0
    private var nextSequence: UInt64 = 1
    private var oldestUnconfirmed: UInt64 = 1
    private var unconfirmed: [UInt64: (batch: PublishBatch, index: Int)] = [:]
    private var returned: [UInt64: AMQPError] = [:]
    private var topology: [Topology] = []
    private var consumers: [String: ConsumerSpec] = [:]
    private var consumerOrder: [String] = []
    /// Cancelled consumers that settle their deliveries (not noAck), on this channel.
    private var cancelledAcking: Set<String> = []
    private var closeWaiters: [CheckedContinuation<Void, Never>] = []
    private var closing = false
    private var backoff: Backoff
    /// The index in `config.nodes` of the node this connection is on, or tries first.
    private var currentNode = 0

    init(shared: AMQPConnection, config: AMQPConfig, logger: Logger) {
        self.shared = shared
        self.config = config
        self.logger = logger
        self.backoff = Backoff(base: config.reconnectBase, cap: config.reconnectCap)
    }

    // MARK: - The loop

    func run(firstConnect: CheckedContinuation<Result<Void, AMQPError>, Never>) {
        do {
            try connect()
            firstConnect.resume(returning: .ok)
        } catch {
            firstConnect.resume(returning: .failure(error))
            return
        }
        while !closing {
            guard conn != nil else {
                reconnectAfterBackoff()
                continue
            }
            processInbox()
            if closing { break }
            do throws(AMQPError) {
                try pumpFrames()
                try waitForWork(timeoutMs: pollIntervalMs)
            } catch {
                connectionLost(error)
            }
        }
        shutdown()
    }

    /// Heartbeats are only sent from inside library calls, so the thread must wake at least every half interval.
    private var pollIntervalMs: Int32 {
        Int32(min(max(config.heartbeatSeconds, 1) * 500, 1000))
    }

    private func reconnectAfterBackoff() {
        let delay = backoff.next()
        let deadline = ContinuousClock.now + delay
        while !closing, ContinuousClock.now < deadline {
            let left = ContinuousClock.now.duration(to: deadline)
            let ms = Int32(clamping: left.wholeMilliseconds)
            waitForWake(timeoutMs: max(ms, 1))
            processInbox()
        }
        guard !closing else { return }
        do {
            try connect()
            Counter(label: "fleet_amqp_reconnects_total").increment()
            logger.info("amqp reconnected", metadata: ["amqp.generation": "\(generation)"])
        } catch {
            // The first failure is news; the ones after it, while the broker stays down, are not.
            logger.log(
                level: backoff.attempt <= 1 ? .warning : .debug, "amqp reconnect failed",
                metadata: ["error": "\(error)", "amqp.attempt": "\(backoff.attempt)"])
        }
    }

    // MARK: - Connecting

    /// Tries every node once, from the current one on, and stays on the first that takes it.
    private func connect() throws(AMQPError) {
        var failure = AMQPError(.connectionFailed, "no node")
        for k in config.nodes.indices {
            let index = (currentNode + k) % config.nodes.count
            do throws(AMQPError) {
                try connect(to: config.nodes[index])
                if config.nodes.count > 1 {
                    logger.info("amqp connected", metadata: ["amqp.node": "\(config.nodes[index])"])
                }
                currentNode = index
                return
            } catch {
                failure = error
            }
        }
        throw failure
    }

    private func connect(to node: AMQPNode) throws(AMQPError) {
        guard let c = amqp_new_connection() else { throw AMQPError(.connectionFailed, "amqp_new_connection failed") }
        conn = c
        do throws(AMQPError) {
            guard let socket = amqp_tcp_socket_new(c) else { throw AMQPError(.connectionFailed, "amqp_tcp_socket_new failed") }
            var tv = timeval(config.connectTimeout)
            let status = amqp_socket_open_noblock(socket, node.host, Int32(node.port), &tv)
            if status < 0 {
                throw AMQPError(.connectionFailed, "connect \(node): \(AMQPError(status: status, "open").message)")
            }
            let login = fleet_amqp_login_plain(c, config.vhost, 0, 131_072, Int32(config.heartbeatSeconds), config.user, config.password)
            do throws(AMQPError) { try AMQPError.check(login, "login") } catch {
                throw AMQPError(.connectionFailed, error.message)
            }
            amqp_channel_open(c, Self.channel)
            try AMQPError.check(amqp_get_rpc_reply(c), "channel.open")
            amqp_confirm_select(c, Self.channel)
            try AMQPError.check(amqp_get_rpc_reply(c), "confirm.select")
            for t in topology { try declareNow(t) }
            for tag in consumerOrder { if let spec = consumers[tag] { try startConsumer(spec) } }
        } catch {
            amqp_destroy_connection(c)
            conn = nil
            throw error
        }
        generation += 1
        cancelledAcking.removeAll()  // a new channel: the old consumer tags mean nothing on it
        nextSequence = 1
        oldestUnconfirmed = 1
        backoff.reset()
        shared.setConnected(true, generation: generation)
    }

    private func connectionLost(_ error: AMQPError) {
        logger.warning(
            "amqp connection lost", metadata: ["error": "\(error)", "amqp.unconfirmed": "\(unconfirmed.count)", "amqp.node": "\(config.nodes[currentNode])"])
        // The next attempt starts at the next node: the lost one may be dead, and a dead host can
        // take the whole connect timeout to say so. It is tried again last.
        currentNode = (currentNode + 1) % config.nodes.count
        failUnconfirmed(with: error)
        if let c = conn { amqp_destroy_connection(c) }
        conn = nil
        shared.setConnected(false, generation: generation)
        if case .channelClosed = error.kind { backoff.reset() }
    }

    private func failUnconfirmed(with error: AMQPError) {
        let pending = unconfirmed
        unconfirmed.removeAll()
        returned.removeAll()
        for (_, p) in pending { p.batch.complete(p.index, .failure(error)) }
    }

    private func shutdown() {
        if let c = conn {
            _ = amqp_channel_close(c, Self.channel, AMQP_REPLY_SUCCESS)
            _ = amqp_connection_close(c, AMQP_REPLY_SUCCESS)
            amqp_destroy_connection(c)
            conn = nil
        }
        failUnconfirmed(with: AMQPError(.closed, "connection closed"))
        for spec in consumers.values { spec.sink.finish() }
        consumers.removeAll()
        // Anything handed over after the close is answered, not left hanging.
        drainInboxAfterClose()
        shared.setConnected(false, generation: generation)
        for w in closeWaiters { w.resume() }
    }

    private func drainInboxAfterClose() {
        for command in shared.takeCommandsAndShut() { command.answerClosed() }
    }

    // MARK: - Work handed over by async callers

    /// Runs what callers handed over. A command that breaks the connection tears it down at once;
    /// the commands after it then see no connection and are answered `notConnected`.
    private func processInbox() {
        for command in shared.takeCommands() {
            do throws(AMQPError) {
                try execute(command)
            } catch {
                connectionLost(error)
            }
        }
    }

    private func execute(_ command: ConnectionCommand) throws(AMQPError) {
        switch command {
        case .publish(let messages, let waiter):
            try publish(messages, PublishBatch(count: messages.count, waiter: waiter))
        case .declare(let t, let waiter):
            guard conn != nil else { return waiter.resume(returning: .failure(notConnected)) }
            do throws(AMQPError) {
                try declareNow(t)
                topology.append(t)
                waiter.resume(returning: .ok)
            } catch {
                waiter.resume(returning: .failure(error))
                throw error
            }
        case .consume(let spec, let waiter):
            guard conn != nil else { return waiter.resume(returning: .failure(notConnected)) }
            do throws(AMQPError) {
                try startConsumer(spec)
                consumers[spec.tag] = spec
                consumerOrder.append(spec.tag)
                waiter.resume(returning: .ok)
            } catch {
                waiter.resume(returning: .failure(error))
                throw error
            }
        case .cancelConsumer(let tag):
            guard let spec = consumers.removeValue(forKey: tag) else { return }
            consumerOrder.removeAll { $0 == tag }
            if !spec.noAck { cancelledAcking.insert(tag) }
            spec.sink.finish()
            if let c = conn {
                amqp_basic_cancel(c, Self.channel, amqp_cstring_bytes(tag))
                try AMQPError.check(amqp_get_rpc_reply(c), "basic.cancel")
            }
        case .settle(let settlement, let tag, let gen):
            // A tag from before a reconnect names nothing on the new channel: the broker redelivers it.
            guard let c = conn, gen == generation else { return }
            let status: Int32
            switch settlement {
            case .ack(let multiple): status = amqp_basic_ack(c, Self.channel, tag, multiple ? 1 : 0)
            case .nack(let requeue, let multiple): status = amqp_basic_nack(c, Self.channel, tag, multiple ? 1 : 0, requeue ? 1 : 0)
            case .reject(let requeue): status = amqp_basic_reject(c, Self.channel, tag, requeue ? 1 : 0)
            }
            try AMQPError.check(status: status, "settle")
        case .close(let waiter):
            closeWaiters.append(waiter)
            closing = true
        }
    }

    private var notConnected: AMQPError { AMQPError(.notConnected, "broker connection is down; reconnecting") }

    // MARK: - Publishing with confirms

    private func publish(_ messages: [OutgoingMessage], _ batch: PublishBatch) throws(AMQPError) {
        for (i, m) in messages.enumerated() {
            guard let c = conn else {
                batch.complete(i, .failure(notConnected))
                continue
            }
            let arena = CArena()
            var props = m.properties
            if props.userId == nil { props.userId = config.user }
            let sequence = nextSequence
            if m.mandatory { props.headers[Self.sequenceHeader] = .int(Int64(sequence)) }
            var cProps = arena.properties(props)
            let status = m.body.withUnsafeBytes { body in
                amqp_basic_publish(
                    c, Self.channel, arena.bytes(m.exchange), arena.bytes(m.routingKey),
                    m.mandatory ? 1 : 0, 0, &cProps,
                    amqp_bytes_t(len: body.count, bytes: UnsafeMutableRawPointer(mutating: body.baseAddress)))
            }
            if status < 0 {
                let error = AMQPError(status: status, "basic.publish")
                for j in i..<messages.count { batch.complete(j, .failure(error)) }
                throw error
            }
            unconfirmed[sequence] = (batch, i)
            nextSequence += 1
            // Read confirms while writing a long batch, so neither side's socket buffer fills up.
            if i % 256 == 255 { try pumpFrames() }
        }
    }

    private func confirm(_ tag: UInt64, multiple: Bool, failure: AMQPError?) {
        let range = multiple ? min(oldestUnconfirmed, tag)...tag : tag...tag
        for sequence in range {
            guard let p = unconfirmed.removeValue(forKey: sequence) else { continue }
            if let r = returned.removeValue(forKey: sequence) {
                p.batch.complete(p.index, .failure(r))
            } else if let failure {
                p.batch.complete(p.index, .failure(failure))
            } else {
                p.batch.complete(p.index, .ok)
            }
        }
        if multiple { oldestUnconfirmed = max(oldestUnconfirmed, tag + 1) }
        while oldestUnconfirmed < nextSequence, unconfirmed[oldestUnconfirmed] == nil { oldestUnconfirmed += 1 }
    }

    // MARK: - Topology and consumers

    private func declareNow(_ t: Topology) throws(AMQPError) {
        guard let c = conn else { throw notConnected }
        for e in t.exchanges {
            let arena = CArena()
            amqp_exchange_declare(
                c, Self.channel, arena.bytes(e.name), arena.bytes(e.kind.rawValue), 0,
                e.durable ? 1 : 0, 0, 0, arena.table(e.arguments))
            try AMQPError.check(amqp_get_rpc_reply(c), "exchange.declare \(e.name)")
        }
        for q in t.queues {
            let arena = CArena()
            amqp_queue_declare(
                c, Self.channel, arena.bytes(q.name), 0, q.durable ? 1 : 0, q.exclusive ? 1 : 0,
                q.autoDelete ? 1 : 0, arena.table(q.arguments))
            try AMQPError.check(amqp_get_rpc_reply(c), "queue.declare \(q.name)")
        }
        for b in t.bindings {
            let arena = CArena()
            amqp_queue_bind(c, Self.channel, arena.bytes(b.queue), arena.bytes(b.exchange), arena.bytes(b.routingKey), amqp_empty_table)
            try AMQPError.check(amqp_get_rpc_reply(c), "queue.bind \(b.queue)")
        }
    }

    private func startConsumer(_ spec: ConsumerSpec) throws(AMQPError) {
        guard let c = conn else { throw notConnected }
        let arena = CArena()
        // qos with global=0 applies to the consumers started after it on this channel.
        amqp_basic_qos(c, Self.channel, 0, spec.prefetch, 0)
        try AMQPError.check(amqp_get_rpc_reply(c), "basic.qos")
        amqp_basic_consume(c, Self.channel, arena.bytes(spec.queue), arena.bytes(spec.tag), 0, spec.noAck ? 1 : 0, 0, amqp_empty_table)
        try AMQPError.check(amqp_get_rpc_reply(c), "basic.consume \(spec.queue)")
    }

    // MARK: - Reading frames

    private func pumpFrames() throws(AMQPError) {
        guard let c = conn else { return }
        var zero = timeval(tv_sec: 0, tv_usec: 0)
        while true {
            var frame = amqp_frame_t()
            let status = amqp_simple_wait_frame_noblock(c, &frame, &zero)
            if status == AMQP_STATUS_TIMEOUT.rawValue { break }
            try AMQPError.check(status: status, "wait_frame")
            if Int32(frame.frame_type) == AMQP_FRAME_METHOD { try handleMethod(frame, c) }
        }
        amqp_maybe_release_buffers(c)
    }

    private func handleMethod(_ frame: amqp_frame_t, _ c: amqp_connection_state_t) throws(AMQPError) {
        let method = frame.payload.method
        switch method.id {
        case FLEET_BASIC_DELIVER:
            let d = method.decoded!.assumingMemoryBound(to: amqp_basic_deliver_t.self).pointee
            let tag = String(amqpBytes: d.consumer_tag)
            let exchange = String(amqpBytes: d.exchange)
            let routingKey = String(amqpBytes: d.routing_key)
            let (body, props) = try readContent(c, frame.channel)
            if let spec = consumers[tag] {
                spec.sink.yield(
                    Delivery(
                        exchange: exchange, routingKey: routingKey, body: body, properties: props, queue: spec.queue,
                        redelivered: d.redelivered != 0, deliveryTag: d.delivery_tag, generation: generation, connection: shared))
            } else if cancelledAcking.contains(tag) {
                // Sent before the broker saw our basic.cancel: nobody here will handle it, so it
                // goes back to the queue now (another consumer takes it), not when the channel closes.
                _ = amqp_basic_nack(c, Self.channel, d.delivery_tag, 0, 1)
            }
        case FLEET_BASIC_ACK:
            let a = method.decoded!.assumingMemoryBound(to: amqp_basic_ack_t.self).pointee
            confirm(a.delivery_tag, multiple: a.multiple != 0, failure: nil)
        case FLEET_BASIC_NACK:
            let n = method.decoded!.assumingMemoryBound(to: amqp_basic_nack_t.self).pointee
            confirm(n.delivery_tag, multiple: n.multiple != 0, failure: AMQPError(.nacked, "broker refused the message (basic.nack)"))
        case FLEET_BASIC_RETURN:
            let r = method.decoded!.assumingMemoryBound(to: amqp_basic_return_t.self).pointee
            let error = AMQPError(
                .returned(code: r.reply_code),
                "\(String(amqpBytes: r.reply_text)): exchange '\(String(amqpBytes: r.exchange))' key '\(String(amqpBytes: r.routing_key))'")
            let (_, props) = try readContent(c, frame.channel)
            // The return comes before the confirm of the same message; remember it until then.
            if let seq = props.headers[Self.sequenceHeader]?.intValue { returned[UInt64(seq)] = error }
        case FLEET_BASIC_CANCEL:
            let x = method.decoded!.assumingMemoryBound(to: amqp_basic_cancel_t.self).pointee
            let tag = String(amqpBytes: x.consumer_tag)
            logger.warning("amqp consumer cancelled by broker", metadata: ["amqp.consumer": "\(tag)"])
            consumers.removeValue(forKey: tag)?.sink.finish()
            consumerOrder.removeAll { $0 == tag }
        case FLEET_CHANNEL_CLOSE:
            let x = method.decoded!.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
            throw AMQPError(.channelClosed(code: x.reply_code), "channel closed by broker: \(String(amqpBytes: x.reply_text))")
        case FLEET_CONNECTION_CLOSE:
            let x = method.decoded!.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
            throw AMQPError(.connectionLost, "connection closed by broker: \(x.reply_code) \(String(amqpBytes: x.reply_text))")
        default:
            break
        }
    }

    private func readContent(_ c: amqp_connection_state_t, _ channel: amqp_channel_t) throws(AMQPError) -> ([UInt8], MessageProperties) {
        var message = amqp_message_t()
        try AMQPError.check(amqp_read_message(c, channel, &message, 0), "read_message")
        defer { amqp_destroy_message(&message) }
        let b = message.body
        let body = b.len > 0 ? Array(UnsafeRawBufferPointer(start: b.bytes, count: b.len)) : []
        return (body, MessageProperties(message.properties))
    }

    // MARK: - Waiting

    private func waitForWork(timeoutMs: Int32) throws(AMQPError) {
        guard let c = conn else { return }
        // Frames already read into the library's buffers would not wake poll(2).
        if amqp_frames_enqueued(c) != 0 || amqp_data_in_buffer(c) != 0 { return }
        var fds = [
            pollfd(fd: amqp_get_sockfd(c), events: Int16(POLLIN), revents: 0),
            pollfd(fd: shared.wake.readFD, events: Int16(POLLIN), revents: 0),
        ]
        _ = poll(&fds, 2, shared.hasCommands ? 0 : timeoutMs)
        if fds[1].revents != 0 { shared.wake.drain() }
    }

    private func waitForWake(timeoutMs: Int32) {
        var fd = pollfd(fd: shared.wake.readFD, events: Int16(POLLIN), revents: 0)
        _ = poll(&fd, 1, shared.hasCommands ? 0 : timeoutMs)
        if fd.revents != 0 { shared.wake.drain() }
    }
}

extension timeval {
    init(_ d: Duration) {
        let (s, atto) = d.components
        self.init(tv_sec: Int(s), tv_usec: Int(atto / 1_000_000_000_000))
    }
}
