import FleetBus
import FleetContracts
import FleetCore
import FleetStore
import Logging

/// One decoded command.
public struct BusRequest: Sendable {
    public let routingKey: String
    public let body: JSONValue
    /// The idempotency key (`message_id`), when the publisher set one.
    public let messageID: String?
    public let headers: [String: AMQPFieldValue]

    /// A string field of the body, or nil.
    public func string(_ key: String) -> String? { body[key]?.stringValue }
}

public typealias CommandHandler = @Sendable (BusRequest) async -> BusReply

/// Runs a handler body and turns what it throws into the reply an operator expects:
/// 422 for validation, 409/404 for conflicts, 503 when Redis or the broker is unavailable,
/// and a bare 500 (details only in the log) for anything else.
public func answer(_ logger: Logger, _ body: () async throws -> JSONValue) async -> BusReply {
    do {
        return .ok(try await body())
    } catch let e as ValidationError {
        return .validation(e)
    } catch let e as ConflictError {
        return .conflict(e)
    } catch let e as BusReplyError {
        return e.reply
    } catch let e as RedisError {
        logger.error("redis unavailable", metadata: ["error": "\(e)"])
        return .failure(503, "unavailable", "storage is unavailable; retry later")
    } catch let e as AMQPError {
        logger.error("broker unavailable", metadata: ["error": "\(e)"])
        return e.kind == .timeout ? .failure(504, "timeout", "a service did not answer in time")
            : .failure(503, "unavailable", "the message bus is unavailable; retry later")
    } catch {
        logger.error("unexpected error", metadata: ["error": "\(error)"])
        return .failure(500, "internal_error", "internal error")
    }
}

/// A ready-made reply thrown from deep inside a handler (404 for a missing record, say).
public struct BusReplyError: Error {
    public let reply: BusReply
    public init(_ reply: BusReply) { self.reply = reply }

    public static func notFound(_ what: String) -> BusReplyError {
        BusReplyError(.failure(404, "not_found", what))
    }

    public static func badRequest(_ what: String) -> BusReplyError {
        BusReplyError(.badRequest(what))
    }
}

extension BusReply {
    /// A 200 turned into 201 (a create); anything else unchanged.
    public var created: BusReply { status == 200 ? BusReply(status: 201, body: body, error: nil) : self }
}
