import FleetCore

/// One audited request (`fleet:audit`): published by the service that handled a mutating command
/// (or by the gateway for a request it refused before the bus) on `fleet.events` as
/// `audit.<action>`, and appended to the stream by its owner, the gateway.
public struct AuditRecord: FleetMessage {
    public static let messageName = "audit.record"

    /// When it was answered (ISO-8601 UTC).
    public var at: String
    /// `token:<id>:<name>` or `bus:<user>` (`AuditActor`).
    public var actor: String
    /// The route (`bulk.create`), or for a request the gateway refused, `http:<METHOD> <path>`.
    public var action: String
    /// The record it acted on, when it names one (an id, a name, an operation type).
    public var target: String?
    /// The answer's status, and its error code when it failed.
    public var status: Int
    public var error: String?
    public var requestID: String?

    public init(at: String, actor: String, action: String, target: String?, status: Int, error: String?, requestID: String?) {
        self.at = at
        self.actor = actor
        self.action = action
        self.target = target
        self.status = status
        self.error = error
        self.requestID = requestID
    }

    enum CodingKeys: String, CodingKey { case at, actor, action, target, status, error, requestID = "request_id" }
}
