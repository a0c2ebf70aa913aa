import FleetBus
import FleetContracts
import FleetCore
import FleetMessaging
import FleetStore
import Logging

/// One decoded command.
public struct BusRequest: Sendable {
    public let routingKey: String
    public let body: JSONValue
    /// The idempotency key (`message_id`), when the publisher set one.
    public let messageID: String?
    public let headers: [String: AMQPFieldValue]
    /// Who sent it, from its broker-checked `user_id`: nil when it came without one, or from a
    /// broker user that is neither the services' nor an enrolled agent's.
    public let sender: AgentIdentity?
    /// The broker user it came from, as sent (for the log of a refusal).
    public let senderUser: String?

    /// A string field of the body, or nil.
    public func string(_ key: String) -> String? { body[key]?.stringValue }

    /// A string field that must be there and not be empty (`id`, mostly): else a 422 naming it.
    public func requiredString(_ key: String = "id") throws(ValidationError) -> String {
        guard let value = string(key), !value.isEmpty else { throw ValidationError(key, .required, "\(key) is required") }
        return value
    }

    /// The page size `limit`: `defaultValue` when absent, else an integer from 1 to `max`; anything
    /// else (a string, a boolean, a fraction, out of range) is a 422 naming `limit`.
    public func limit(default defaultValue: Int, max: Int) throws(ValidationError) -> Int {
        guard let v = body["limit"], v != .null else { return defaultValue }
        guard case .int(let i) = v, i >= 1, i <= Int64(max) else {
            throw ValidationError("limit", .invalidValue, "limit is an integer from 1 to \(max)")
        }
        return Int(i)
    }

    /// The page `cursor`: absent, or the last id of the page before (a record id; anything else is
    /// a 422 naming `cursor`).
    public func cursor() throws(ValidationError) -> String? {
        try RecordID.optional(body["cursor"], field: "cursor")
    }

    /// The page `cursor` of a newest-first list: absent, or the `next_cursor` of the page before
    /// (anything else is a 422 naming `cursor`).
    public func indexCursor() throws(ValidationError) -> IndexCursor? {
        try IndexCursor.optional(body["cursor"])
    }

    /// The list filter `status`: absent, or one of `Status`'s values exactly (else a 422 naming it).
    public func statusFilter<Status: RawRepresentable & CaseIterable>(_: Status.Type) throws(ValidationError) -> Status?
    where Status.RawValue == String {
        guard let v = body["status"], v != .null else { return nil }
        guard let text = v.stringValue, let status = Status(rawValue: text) else {
            throw ValidationError("status", .invalidValue, "status is one of \(Status.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return status
    }
}

/// A new record id: `prefix` and 64 random bits in base 36 (`op-2ao62yafcj4ed`).
public func newID(prefix: String) -> String {
    prefix + String(UInt64.random(in: 0...UInt64.max), radix: 36)
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
    } catch let e as SenderRefused {
        return e.reply
    } catch let e as BusReplyError {
        return e.reply
    } catch is CancellationError {
        return .failure(503, "unavailable", "the service is shutting down; retry")
    } catch let e as RedisError {
        logger.error("redis unavailable", metadata: ["error": "\(e)"])
        return .failure(503, "unavailable", "storage is unavailable; retry later")
    } catch let e as AMQPError {
        logger.error("broker unavailable", metadata: ["error": "\(e)"])
        return e.kind == .timeout
            ? .failure(504, "timeout", "a service did not answer in time")
            : .failure(503, "unavailable", "the message bus is unavailable; retry later")
    } catch {
        logger.error("unexpected error", metadata: ["error": "\(error)"])
        return .failure(500, "internal_error", "internal error")
    }
}

extension BusReply {
    /// A 200 turned into 201 (a create); anything else unchanged.
    public var created: BusReply { status == 200 ? BusReply(status: 201, body: body, error: nil) : self }
}
