import FleetCore

/// `bulk.create` as the rollout controller and the scheduler send it. The selector, the
/// parameters and the concurrency stay JSON here: FleetCore's `BulkOperationRequest` validates
/// them, naming each wrong field.
public struct BulkCreate: FleetMessage {
    public static let messageName = "bulk.create"

    public var operationType: String
    public var selector: JSONValue
    public var parameters: JSONValue?
    public var allowEmpty: Bool?
    public var deliveryTimeoutSeconds: Int?
    /// `n` or `"p%"`.
    public var concurrency: JSONValue?
    /// false: created with nothing sent (the rollout controller sends its batches with `bulk.dispatch`).
    public var dispatch: Bool?
    /// true: the reply is the plan (`operation.plan`), and nothing is created.
    public var dryRun: Bool?
    /// false: takes no host locks (default true).
    public var exclusive: Bool?
    /// `wait` (default) or `skip`: what a host another operation holds does.
    public var onConflict: String?
    /// `{"url"}`: POSTed the final progress when it finishes.
    public var notify: JSONValue?

    public init(
        operationType: String, selector: JSONValue, parameters: JSONValue? = nil, allowEmpty: Bool? = nil,
        deliveryTimeoutSeconds: Int? = nil, concurrency: JSONValue? = nil, dispatch: Bool? = nil, dryRun: Bool? = nil
    ) {
        self.dryRun = dryRun
        self.operationType = operationType
        self.selector = selector
        self.parameters = parameters
        self.allowEmpty = allowEmpty
        self.deliveryTimeoutSeconds = deliveryTimeoutSeconds
        self.concurrency = concurrency
        self.dispatch = dispatch
    }

    /// The fields of a validated request, in their canonical form.
    public init(_ request: BulkOperationRequest, dispatch: Bool? = nil) {
        self.init(
            operationType: request.type.rawValue, selector: request.selectorJSON, parameters: request.parameters.json,
            allowEmpty: request.allowEmpty ? true : nil, deliveryTimeoutSeconds: request.deliveryTimeoutSeconds,
            concurrency: request.concurrency?.json, dispatch: dispatch, dryRun: request.dryRun ? true : nil)
        // Defaults left out, so a canonical body (an Idempotency-Key's) reads as it did before them.
        exclusive = request.exclusive ? nil : false
        onConflict = request.onConflict == .wait ? nil : request.onConflict.rawValue
        notify = request.notify?.json
    }

    enum CodingKeys: String, CodingKey {
        case operationType = "operation_type", selector, parameters, allowEmpty = "allow_empty"
        case deliveryTimeoutSeconds = "delivery_timeout_seconds", concurrency, dispatch, dryRun = "dry_run"
        case exclusive, onConflict = "on_conflict", notify
    }
}

/// A bulk operation as `bulk.create`, `bulk.get` and `bulk.cancel` answer it.
public struct BulkOperation: FleetMessage {
    public static let messageName = "bulk.operation"

    public var id: String
    public var operationType: String
    /// The canonical parameters (defaults filled in).
    public var parameters: JSONValue
    public var selector: JSONValue
    public var allowEmpty: Bool
    public var deliveryTimeoutSeconds: Int
    /// `n`, `"p%"`, or null (no window).
    public var concurrency: JSONValue
    public var createdAt: String
    public var status: AggregateStatus
    public var total: Int
    public var progress: BulkProgress
    /// Set when the parameters are stored once for the agents to fetch; `parameters` then leaves
    /// out their values over 4 KiB.
    public var parametersRef: ParametersRef?
    /// The operation this one reruns (`bulk.rerun`); absent otherwise.
    public var parentID: String?
    /// Whether it takes host locks, and what a host another operation holds does (absent on
    /// records written before host locks: they took none).
    public var exclusive: Bool?
    public var onConflict: String?
    /// `{"url"}` when it carries a completion webhook; absent otherwise.
    public var notify: JSONValue?

    public init(
        id: String, operationType: String, parameters: JSONValue, selector: JSONValue, allowEmpty: Bool, deliveryTimeoutSeconds: Int,
        concurrency: JSONValue, createdAt: String, status: AggregateStatus, progress: BulkProgress
    ) {
        self.id = id
        self.operationType = operationType
        self.parameters = parameters
        self.selector = selector
        self.allowEmpty = allowEmpty
        self.deliveryTimeoutSeconds = deliveryTimeoutSeconds
        self.concurrency = concurrency
        self.createdAt = createdAt
        self.status = status
        total = progress.total
        self.progress = progress
    }

    enum CodingKeys: String, CodingKey {
        case id, operationType = "operation_type", parameters, selector, allowEmpty = "allow_empty"
        case deliveryTimeoutSeconds = "delivery_timeout_seconds", concurrency, createdAt = "created_at", status, total, progress
        case parametersRef = "parameters_ref", parentID = "parent_id", exclusive, onConflict = "on_conflict", notify
    }
}

/// `bulk.progress`: the seed's shape plus `skipped`.
public struct BulkProgress: FleetMessage {
    public static let messageName = "bulk.progress.reply"

    public var total: Int
    public var queued: Int
    public var running: Int
    public var succeeded: Int
    public var failed: Int
    public var skipped: Int
    public var percentComplete: Double

    public init(_ c: ProgressCounters) {
        total = c.total
        queued = c.queued
        running = c.running
        succeeded = c.succeeded
        failed = c.failed
        skipped = c.skipped
        percentComplete = c.percentComplete
    }

    enum CodingKeys: String, CodingKey {
        case total, queued, running, succeeded, failed, skipped, percentComplete = "percent_complete"
    }
}

/// `bulk.dispatch`: send the named hosts of an operation created with `"dispatch": false`.
public struct BulkDispatch: FleetMessage {
    public static let messageName = "bulk.dispatch"

    public var id: String
    public var hostIDs: [String]

    public init(id: String, hostIDs: [String]) {
        self.id = id
        self.hostIDs = hostIDs
    }

    enum CodingKeys: String, CodingKey { case id, hostIDs = "host_ids" }
}

/// The reply of `bulk.dispatch`: the named hosts that were still queued and not yet sent.
public struct BulkDispatched: FleetMessage {
    public static let messageName = "bulk.dispatch.reply"

    public var dispatched: [String]

    public init(dispatched: [String]) { self.dispatched = dispatched }
}

/// `bulk.cancel`: queued hosts are skipped with `reason`.
public struct BulkCancel: FleetMessage {
    public static let messageName = "bulk.cancel"

    public enum Reason: String, Codable, Sendable, Hashable {
        /// An operator's cancel: the aggregate becomes `cancelled`.
        case cancelled
        /// The rollout controller halting its operation: the aggregate follows the counts.
        case halted

        public var hostReason: HostReason { self == .cancelled ? .cancelled : .halted }
    }

    public var id: String
    public var reason: Reason?

    public init(id: String, reason: Reason? = nil) {
        self.id = id
        self.reason = reason
    }
}

/// The reply of `bulk.hosts`: one page of per-host statuses by host id.
public struct BulkHostsPage: FleetMessage {
    public static let messageName = "bulk.hosts.reply"

    public struct Row: Codable, Sendable, Hashable {
        public var hostID: String
        public var status: HostStatus
        public var reason: HostReason?
        /// A queued host whose command waits for a host lock or a concurrency budget: shown as
        /// its `reason` (`locked`, `budget`).
        public var waiting: WaitReason?

        public init(hostID: String, status: HostStatus, reason: HostReason?, waiting: WaitReason? = nil) {
            self.hostID = hostID
            self.status = status
            self.reason = reason
            self.waiting = waiting
        }

        enum CodingKeys: String, CodingKey { case hostID = "host_id", status, reason }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            hostID = try c.decode(String.self, forKey: .hostID)
            status = try c.decode(HostStatus.self, forKey: .status)
            let text = try c.decodeIfPresent(String.self, forKey: .reason)
            if status == .queued, let waiting = text.flatMap(WaitReason.init(rawValue:)) {
                self.waiting = waiting
                reason = nil
            } else {
                reason = try text.map { text in
                    guard let r = HostReason(rawValue: text) else {
                        throw DecodingError.dataCorruptedError(forKey: .reason, in: c, debugDescription: "unknown reason '\(text)'")
                    }
                    return r
                }
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(hostID, forKey: .hostID)
            try c.encode(status, forKey: .status)
            try c.encode(waiting?.rawValue ?? reason?.rawValue, forKey: .reason)  // null, not absent
        }
    }

    public var hosts: [Row]
    /// Pass back as `cursor` for the next page; null on the last.
    public var nextCursor: String?

    public init(hosts: [Row], nextCursor: String?) {
        self.hosts = hosts
        self.nextCursor = nextCursor
    }

    enum CodingKeys: String, CodingKey { case hosts, nextCursor = "next_cursor" }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(hosts, forKey: .hosts)
        try c.encode(nextCursor, forKey: .nextCursor)
    }
}

/// The reply of `bulk.list`: newest first.
public struct BulkOperationList: FleetMessage {
    public static let messageName = "bulk.list.reply"

    public var operations: [BulkOperation]
    /// Pass back as `cursor` for the next page; null on the last.
    public var nextCursor: String?

    public init(operations: [BulkOperation], nextCursor: String? = nil) {
        self.operations = operations
        self.nextCursor = nextCursor
    }

    enum CodingKeys: String, CodingKey { case operations, nextCursor = "next_cursor" }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(operations, forKey: .operations)
        try c.encode(nextCursor, forKey: .nextCursor)  // null, not absent
    }
}

/// The answer of a `"dry_run": true` `bulk.create` or `rolling.create`: FleetCore's plan preview.
extension PlanPreview: FleetMessage {
    public static let messageName = "operation.plan"
}
