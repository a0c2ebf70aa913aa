import CRabbitMQ

/// Every failure FleetBus reports. Reconnect and retry logic reads `isRetriable`, never the message.
public struct AMQPError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Kind: Sendable, Equatable {
        /// The URL could not be parsed.
        case invalidURL
        /// Opening the socket or logging in failed.
        case connectionFailed
        /// The connection dropped (socket error, missed heartbeats, broker closed it) with work in flight.
        case connectionLost
        /// The call came while the connection was down and reconnecting.
        case notConnected
        /// The broker closed the channel, e.g. 404 for an exchange that does not exist.
        case channelClosed(code: UInt16)
        /// The broker refused a published message (basic.nack).
        case nacked
        /// A `mandatory` message had no queue to go to (basic.return).
        case returned(code: UInt16)
        /// A request got no reply in time.
        case timeout
        /// The connection was closed by this process.
        case closed
        /// rabbitmq-c reported an error of its own.
        case library(status: Int32)
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// True when trying the same thing again later may succeed.
    public var isRetriable: Bool {
        switch kind {
        case .connectionFailed, .connectionLost, .notConnected, .nacked, .timeout: return true
        case .channelClosed(let code): return code == 320 || code == 541  // connection forced, internal error
        case .invalidURL, .returned, .closed, .library: return false
        }
    }

    public var description: String { "AMQPError.\(kind): \(message)" }
}

extension AMQPError {
    /// Turns an `amqp_rpc_reply_t` into success or a typed error: the one place that reads them.
    static func check(_ reply: amqp_rpc_reply_t, _ context: String) throws(AMQPError) {
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL:
            return
        case AMQP_RESPONSE_NONE:
            throw AMQPError(.connectionLost, "\(context): missing RPC reply")
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            throw AMQPError(status: reply.library_error, context)
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            let id = reply.reply.id
            if id == FLEET_CONNECTION_CLOSE, let m = reply.reply.decoded?.assumingMemoryBound(to: amqp_connection_close_t.self) {
                throw AMQPError(.connectionLost, "\(context): connection closed by broker: \(m.pointee.reply_code) \(String(amqpBytes: m.pointee.reply_text))")
            }
            if id == FLEET_CHANNEL_CLOSE, let m = reply.reply.decoded?.assumingMemoryBound(to: amqp_channel_close_t.self) {
                throw AMQPError(.channelClosed(code: m.pointee.reply_code), "\(context): \(String(amqpBytes: m.pointee.reply_text))")
            }
            throw AMQPError(.connectionLost, "\(context): unexpected server method \(id)")
        default:
            throw AMQPError(.library(status: -1), "\(context): unknown reply type")
        }
    }

    /// Turns a negative rabbitmq-c status code into a typed error.
    init(status: Int32, _ context: String) {
        let text = amqp_error_string2(status).map { String(cString: $0) } ?? "status \(status)"
        switch amqp_status_enum(status) {
        case AMQP_STATUS_SOCKET_ERROR, AMQP_STATUS_CONNECTION_CLOSED, AMQP_STATUS_HEARTBEAT_TIMEOUT,
            AMQP_STATUS_SOCKET_CLOSED, AMQP_STATUS_TCP_ERROR, AMQP_STATUS_BAD_AMQP_DATA, AMQP_STATUS_TIMEOUT:
            self.init(.connectionLost, "\(context): \(text)")
        default:
            self.init(.library(status: status), "\(context): \(text)")
        }
    }

    static func check(status: Int32, _ context: String) throws(AMQPError) {
        if status < 0 { throw AMQPError(status: status, context) }
    }
}

extension String {
    /// Copies an `amqp_bytes_t` into a Swift string (the C memory belongs to a pool freed later).
    init(amqpBytes b: amqp_bytes_t) {
        guard b.len > 0, let p = b.bytes else {
            self = ""
            return
        }
        self = String(decoding: UnsafeRawBufferPointer(start: p, count: b.len), as: UTF8.self)
    }
}
