import FleetBus
import FleetContracts
import FleetCore

/// The bus side of the contract types: stamping a message with its name and version, and
/// refusing one that names another.
extension OutgoingMessage {
    /// `message` as JSON, with `type` = its name and `x-fleet-version` = its version.
    public init<M: FleetMessage>(
        _ message: M, exchange: String, routingKey: String, properties: MessageProperties = MessageProperties(),
        mandatory: Bool = false
    ) {
        var props = properties
        props.contentType = "application/json"
        props.type = M.messageName
        props.headers[BusNames.versionHeader] = .string(String(M.messageVersion))
        // Events and agent commands of a client's request carry its id, as commands do.
        if let requestID = RequestID.current, props.headers[RequestID.header] == nil { props.headers[RequestID.header] = .string(requestID) }
        self.init(exchange: exchange, routingKey: routingKey, body: message.encoded, properties: props, mandatory: mandatory)
    }
}

extension Delivery {
    /// The body as `M`. A message stamped with another name or version is refused, not misread;
    /// one stamped with neither (an outside publisher) is read as the current version.
    public func decode<M: FleetMessage>(_: M.Type) throws(ValidationError) -> M {
        if let type = properties.type, !type.isEmpty, type != M.messageName {
            throw ValidationError("type", .invalidValue, "expected a \(M.messageName) message, got \(type)")
        }
        if let version = properties.headers[BusNames.versionHeader], version != .string(String(M.messageVersion)) {
            throw ValidationError(BusNames.versionHeader, .invalidValue, "\(M.messageName) is spoken in version \(M.messageVersion), got \(version)")
        }
        return try M.decode(body)
    }
}

extension FleetMessage {
    /// As a JSONValue, for a command body or a reply body: the encoded body as it reads back,
    /// made in one walk of the value (JSONValueEncoder).
    public var json: JSONValue { (try? JSONValueEncoder.encode(self)) ?? .null }

    /// From a command or reply body.
    public init(json: JSONValue) throws(ValidationError) { self = try Self.decode(JSONCoding.encode(json)) }
}

extension BusClient {
    /// Calls `route` with a typed request and reads a typed reply body. A reply that is not a
    /// success comes back as `.failure` unchanged; a success that does not fit `Reply` is a 502.
    public func call<Request: FleetMessage, Reply: FleetMessage>(
        _ route: String, _ request: Request, replying: Reply.Type,
        messageID: String? = nil
    ) async -> Result<Reply, BusReplyFailure> {
        let reply = await call(route, request.json, messageID: messageID)
        guard (200..<300).contains(reply.status) else { return .failure(BusReplyFailure(reply: reply)) }
        do {
            return .success(try Reply(json: reply.body ?? .null))
        } catch {
            return .failure(BusReplyFailure(reply: .failure(502, "bad_reply", "\(route) answered a body that is not a \(Reply.messageName): \(error)")))
        }
    }
}

/// A reply that was not a success, as an Error.
public struct BusReplyFailure: Error, Sendable {
    public let reply: BusReply
}
