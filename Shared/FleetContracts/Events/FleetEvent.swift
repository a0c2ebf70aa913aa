import FleetCore

/// An event on `fleet.events`: a contract message stamped with `at` when it happened (ISO-8601
/// UTC with milliseconds), set by the publisher as it announces it. Events are for listeners and
/// not persistent; the owner's record in Redis holds the truth.
public protocol FleetEvent: FleetMessage {
    var at: String { get set }
}

/// `hosts.changed` (routing key `hosts.changed`): the inventory changed.
public struct HostsChanged: FleetEvent {
    public static let messageName = "hosts.changed"

    public var upserted: Int?
    public var deleted: Int?
    /// The hosts, when one changed (a batch names only its count).
    public var hostIDs: [String]?
    public var at = ""

    public init(upserted: Int? = nil, deleted: Int? = nil, hostIDs: [String]? = nil) {
        self.upserted = upserted
        self.deleted = deleted
        self.hostIDs = hostIDs
    }

    enum CodingKeys: String, CodingKey { case upserted, deleted, hostIDs = "host_ids", at }
}

/// `bulk.<id>.host`: a host of an operation reached a terminal status.
public struct BulkHostEnded: FleetEvent {
    public static let messageName = "bulk.host"

    public var opID: String
    public var hostID: String
    public var status: HostStatus
    public var reason: HostReason?
    public var at = ""

    public init(opID: String, hostID: String, status: HostStatus, reason: HostReason?) {
        self.opID = opID
        self.hostID = hostID
        self.status = status
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey { case opID = "op_id", hostID = "host_id", status, reason, at }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(opID, forKey: .opID)
        try c.encode(hostID, forKey: .hostID)
        try c.encode(status, forKey: .status)
        try c.encode(reason, forKey: .reason)  // null, not absent
        try c.encode(at, forKey: .at)
    }
}

/// `bulk.<id>.hosts`: hosts of an operation reached a terminal status together (one per write
/// of the dispatcher, beside each host's `bulk.<id>.host`): what a listener that only needs to
/// know that an operation moved binds, one message per batch instead of one per host.
public struct BulkHostsEnded: FleetEvent {
    public static let messageName = "bulk.hosts"

    public var opID: String
    public var status: HostStatus
    public var reason: HostReason?
    public var count: Int
    public var at = ""

    public init(opID: String, status: HostStatus, reason: HostReason?, count: Int) {
        self.opID = opID
        self.status = status
        self.reason = reason
        self.count = count
    }

    enum CodingKeys: String, CodingKey { case opID = "op_id", status, reason, count, at }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(opID, forKey: .opID)
        try c.encode(status, forKey: .status)
        try c.encode(reason, forKey: .reason)  // null, not absent
        try c.encode(count, forKey: .count)
        try c.encode(at, forKey: .at)
    }
}

/// `bulk.<id>.finished`: every host of the operation is terminal (announced once).
public struct BulkFinished: FleetEvent {
    public static let messageName = "bulk.finished"

    public var opID: String
    public var status: AggregateStatus
    public var at = ""

    public init(opID: String, status: AggregateStatus) {
        self.opID = opID
        self.status = status
    }

    enum CodingKeys: String, CodingKey { case opID = "op_id", status, at }
}

/// `rolling.<id>.batch`: batch `batch` (1-based) went out.
public struct RollingBatchStarted: FleetEvent {
    public static let messageName = "rolling.batch"

    public var rollingID: String
    public var batch: Int
    public var totalBatches: Int
    /// The batch's size.
    public var hosts: Int
    public var at = ""

    public init(rollingID: String, batch: Int, totalBatches: Int, hosts: Int) {
        self.rollingID = rollingID
        self.batch = batch
        self.totalBatches = totalBatches
        self.hosts = hosts
    }

    enum CodingKeys: String, CodingKey { case rollingID = "rolling_id", batch, totalBatches = "total_batches", hosts, at }
}

/// `rolling.<id>.halted`: the failure budget was exceeded; no further batch goes out.
public struct RollingHalted: FleetEvent {
    public static let messageName = "rolling.halted"

    public var rollingID: String
    public var haltedReason: String
    public var failed: Int
    public var failureBudget: Int
    public var at = ""

    public init(rollingID: String, haltedReason: String, failed: Int, failureBudget: Int) {
        self.rollingID = rollingID
        self.haltedReason = haltedReason
        self.failed = failed
        self.failureBudget = failureBudget
    }

    enum CodingKeys: String, CodingKey {
        case rollingID = "rolling_id", haltedReason = "halted_reason", failed, failureBudget = "failure_budget", at
    }
}

/// `rolling.<id>.finished`: the deployment reached a terminal status.
public struct RollingFinished: FleetEvent {
    public static let messageName = "rolling.finished"

    public var rollingID: String
    public var status: RolloutStatus
    public var haltedReason: String?
    public var at = ""

    public init(rollingID: String, status: RolloutStatus, haltedReason: String?) {
        self.rollingID = rollingID
        self.status = status
        self.haltedReason = haltedReason
    }

    enum CodingKeys: String, CodingKey { case rollingID = "rolling_id", status, haltedReason = "halted_reason", at }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(rollingID, forKey: .rollingID)
        try c.encode(status, forKey: .status)
        try c.encode(haltedReason, forKey: .haltedReason)  // null, not absent
        try c.encode(at, forKey: .at)
    }
}

/// `schedule.<id>.fired`: a schedule's run created its operation (announced once per run).
public struct ScheduleFired: FleetEvent {
    public static let messageName = "schedule.fired"

    public var scheduleID: String
    public var fireAt: String
    /// `cron` or `manual`.
    public var trigger: String
    public var operationID: String
    public var at = ""

    public init(scheduleID: String, fireAt: String, trigger: String, operationID: String) {
        self.scheduleID = scheduleID
        self.fireAt = fireAt
        self.trigger = trigger
        self.operationID = operationID
    }

    enum CodingKeys: String, CodingKey { case scheduleID = "schedule_id", fireAt = "fire_at", trigger, operationID = "operation_id", at }
}
