import FleetCore

/// `rolling.create` as the scheduler sends it: the `bulk.create` fields (without `dispatch`) and
/// the rollout settings. FleetCore's `RolloutRequest` validates both, naming each wrong field.
public struct RollingCreate: FleetMessage {
    public static let messageName = "rolling.create"

    public var operation: BulkCreate
    /// `n` or `"p%"`.
    public var batchSize: JSONValue?
    /// A ramp (`[1, 5, "25%"]`); its last entry repeats.
    public var batches: JSONValue?
    public var batchDelaySeconds: Int?
    public var failureThresholdPct: Double?
    public var maxFailures: Int?
    /// `{"count": [reasons], "max_unreached_pct"}`, `{"hosts", "soak_seconds", "promotion"}`, and
    /// the gates: as the request states them, FleetCore checks them.
    public var failurePolicy: JSONValue?
    public var canary: JSONValue?
    public var gates: JSONValue?
    public var spreadBy: String?
    public var maxPerDomain: Int?
    public var domainOrder: String?

    public init(operation: BulkCreate, settings: RolloutSettings) {
        var operation = operation
        operation.dispatch = nil
        self.operation = operation
        batchSize = settings.batchSize.json
        batches = settings.ramp.map { .array($0.map(\.json)) }
        batchDelaySeconds = settings.batchDelaySeconds
        failureThresholdPct = settings.failureThresholdPct
        maxFailures = settings.maxFailures
        failurePolicy = settings.failurePolicy.json
        canary = settings.canary?.json
        gates = settings.gates.isEmpty ? nil : .array(settings.gates.map(\.json))
        spreadBy = settings.domains?.spreadBy
        maxPerDomain = settings.domains?.maxPerDomain
        domainOrder = settings.domains?.order.rawValue
    }

    enum CodingKeys: String, CodingKey {
        case batchSize = "batch_size", batches, batchDelaySeconds = "batch_delay_seconds", failureThresholdPct = "failure_threshold_pct"
        case maxFailures = "max_failures", failurePolicy = "failure_policy", canary, gates
        case spreadBy = "spread_by", maxPerDomain = "max_per_domain", domainOrder = "domain_order"
    }

    // One flat object: the operation's fields beside the settings.
    public init(from decoder: any Decoder) throws {
        operation = try BulkCreate(from: decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        batchSize = try c.decodeIfPresent(JSONValue.self, forKey: .batchSize)
        batches = try c.decodeIfPresent(JSONValue.self, forKey: .batches)
        batchDelaySeconds = try c.decodeIfPresent(Int.self, forKey: .batchDelaySeconds)
        failureThresholdPct = try c.decodeIfPresent(Double.self, forKey: .failureThresholdPct)
        maxFailures = try c.decodeIfPresent(Int.self, forKey: .maxFailures)
        failurePolicy = try c.decodeIfPresent(JSONValue.self, forKey: .failurePolicy)
        canary = try c.decodeIfPresent(JSONValue.self, forKey: .canary)
        gates = try c.decodeIfPresent(JSONValue.self, forKey: .gates)
        spreadBy = try c.decodeIfPresent(String.self, forKey: .spreadBy)
        maxPerDomain = try c.decodeIfPresent(Int.self, forKey: .maxPerDomain)
        domainOrder = try c.decodeIfPresent(String.self, forKey: .domainOrder)
    }

    public func encode(to encoder: any Encoder) throws {
        try operation.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(batchSize, forKey: .batchSize)
        try c.encodeIfPresent(batches, forKey: .batches)
        try c.encodeIfPresent(batchDelaySeconds, forKey: .batchDelaySeconds)
        try c.encodeIfPresent(failureThresholdPct, forKey: .failureThresholdPct)
        try c.encodeIfPresent(maxFailures, forKey: .maxFailures)
        try c.encodeIfPresent(failurePolicy, forKey: .failurePolicy)
        try c.encodeIfPresent(canary, forKey: .canary)
        try c.encodeIfPresent(gates, forKey: .gates)
        try c.encodeIfPresent(spreadBy, forKey: .spreadBy)
        try c.encodeIfPresent(maxPerDomain, forKey: .maxPerDomain)
        try c.encodeIfPresent(domainOrder, forKey: .domainOrder)
    }
}

/// `rolling.progress`, and the `progress` of a deployment: the bulk counters plus where the
/// rollout stands.
public struct RollingProgress: FleetMessage {
    public static let messageName = "rolling.progress.reply"

    public var counters: BulkProgress
    public var status: RolloutStatus
    /// 1-based; 0 before the first batch.
    public var currentBatch: Int
    public var totalBatches: Int
    public var failureBudget: Int
    public var failedCounted: Int
    /// Hosts that ended `undeliverable`, and how many may (null: no unreached budget).
    public var unreached: Int
    public var unreachedBudget: Int?
    /// When the next batch is due, while a delay runs; else null.
    public var nextBatchAt: String?
    /// `window_closed` while paused by its maintenance window; absent otherwise.
    public var pausedReason: String?

    public init(
        counters: BulkProgress, status: RolloutStatus, currentBatch: Int, totalBatches: Int, failureBudget: Int, failedCounted: Int,
        unreached: Int = 0, unreachedBudget: Int? = nil, nextBatchAt: String?
    ) {
        self.unreached = unreached
        self.unreachedBudget = unreachedBudget
        self.counters = counters
        self.status = status
        self.currentBatch = currentBatch
        self.totalBatches = totalBatches
        self.failureBudget = failureBudget
        self.failedCounted = failedCounted
        self.nextBatchAt = nextBatchAt
    }

    enum CodingKeys: String, CodingKey {
        case status, currentBatch = "current_batch", totalBatches = "total_batches", failureBudget = "failure_budget"
        case failedCounted = "failed_counted", nextBatchAt = "next_batch_at", unreached, unreachedBudget = "unreached_budget"
        case pausedReason = "paused_reason"
    }

    public init(from decoder: any Decoder) throws {
        counters = try BulkProgress(from: decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        status = try c.decode(RolloutStatus.self, forKey: .status)
        currentBatch = try c.decode(Int.self, forKey: .currentBatch)
        totalBatches = try c.decode(Int.self, forKey: .totalBatches)
        failureBudget = try c.decode(Int.self, forKey: .failureBudget)
        failedCounted = try c.decode(Int.self, forKey: .failedCounted)
        unreached = try c.decodeIfPresent(Int.self, forKey: .unreached) ?? 0
        unreachedBudget = try c.decodeIfPresent(Int.self, forKey: .unreachedBudget)
        nextBatchAt = try c.decodeIfPresent(String.self, forKey: .nextBatchAt)
        pausedReason = try c.decodeIfPresent(String.self, forKey: .pausedReason)
    }

    public func encode(to encoder: any Encoder) throws {
        try counters.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(status, forKey: .status)
        try c.encode(currentBatch, forKey: .currentBatch)
        try c.encode(totalBatches, forKey: .totalBatches)
        try c.encode(failureBudget, forKey: .failureBudget)
        try c.encode(failedCounted, forKey: .failedCounted)
        try c.encode(unreached, forKey: .unreached)
        try c.encode(unreachedBudget, forKey: .unreachedBudget)
        try c.encode(nextBatchAt, forKey: .nextBatchAt)  // null, not absent
        try c.encodeIfPresent(pausedReason, forKey: .pausedReason)
    }
}

/// A rolling deployment as `rolling.create`, `rolling.get` and the actions answer it.
public struct RollingDeployment: FleetMessage {
    public static let messageName = "rolling.deployment"

    public var id: String
    public var operationType: String
    public var selector: JSONValue
    public var parameters: JSONValue
    public var batchSize: JSONValue
    public var batches: JSONValue
    public var batchDelaySeconds: Int
    public var failureThresholdPct: Double?
    public var maxFailures: Int?
    public var failurePolicy: JSONValue
    public var canary: JSONValue
    public var gates: JSONValue
    public var plan: RolloutPlan
    /// The bulk operation that tracks each host.
    public var bulkOperationID: String
    public var createdAt: String
    public var status: RolloutStatus
    public var haltedReason: String?
    /// `failure_budget`, `unreached_budget`, `gate_failed` or `external` once halted; else null.
    public var haltCode: String?
    /// The rollout this one reruns (`rolling.rerun`); absent otherwise.
    public var parentID: String?
    /// The failure domains, when given: `{"spread_by", "max_per_domain", "domain_order"}`.
    public var failureDomains: FailureDomains?
    /// The maintenance window batches start in; absent when none.
    public var window: String?
    public var progress: RollingProgress

    public init(
        id: String, operationType: String, selector: JSONValue, parameters: JSONValue, settings: RolloutSettings, plan: RolloutPlan,
        bulkOperationID: String, createdAt: String, progress: RollingProgress, haltedReason: String? = nil, haltCode: String? = nil
    ) {
        maxFailures = settings.maxFailures
        failurePolicy = settings.failurePolicy.json
        canary = settings.canary?.json ?? .null
        gates = .array(settings.gates.map(\.json))
        failureDomains = settings.domains
        window = settings.window
        self.haltCode = haltCode
        self.id = id
        self.operationType = operationType
        self.selector = selector
        self.parameters = parameters
        batchSize = settings.batchSize.json
        batches = settings.ramp.map { .array($0.map(\.json)) } ?? .null
        batchDelaySeconds = settings.batchDelaySeconds
        failureThresholdPct = settings.failureThresholdPct
        self.plan = plan
        self.bulkOperationID = bulkOperationID
        self.createdAt = createdAt
        status = progress.status
        self.haltedReason = haltedReason
        self.progress = progress
    }

    enum CodingKeys: String, CodingKey {
        case id, operationType = "operation_type", selector, parameters, batchSize = "batch_size", batches
        case batchDelaySeconds = "batch_delay_seconds", failureThresholdPct = "failure_threshold_pct", plan
        case bulkOperationID = "bulk_operation_id", createdAt = "created_at", status, haltedReason = "halted_reason", progress
        case maxFailures = "max_failures", failurePolicy = "failure_policy", canary, gates, haltCode = "halt_code", parentID = "parent_id"
        case currentBatch = "current_batch", totalBatches = "total_batches", failureBudget = "failure_budget", nextBatchAt = "next_batch_at"
        case window
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        operationType = try c.decode(String.self, forKey: .operationType)
        selector = try c.decode(JSONValue.self, forKey: .selector)
        parameters = try c.decode(JSONValue.self, forKey: .parameters)
        batchSize = try c.decodeIfPresent(JSONValue.self, forKey: .batchSize) ?? .null
        batches = try c.decodeIfPresent(JSONValue.self, forKey: .batches) ?? .null
        batchDelaySeconds = try c.decode(Int.self, forKey: .batchDelaySeconds)
        failureThresholdPct = try c.decodeIfPresent(Double.self, forKey: .failureThresholdPct)
        maxFailures = try c.decodeIfPresent(Int.self, forKey: .maxFailures)
        failurePolicy = try c.decodeIfPresent(JSONValue.self, forKey: .failurePolicy) ?? FailurePolicy.everyFailure.json
        canary = try c.decodeIfPresent(JSONValue.self, forKey: .canary) ?? .null
        gates = try c.decodeIfPresent(JSONValue.self, forKey: .gates) ?? .array([])
        haltCode = try c.decodeIfPresent(String.self, forKey: .haltCode)
        parentID = try c.decodeIfPresent(String.self, forKey: .parentID)
        window = try c.decodeIfPresent(String.self, forKey: .window)
        failureDomains = try? FailureDomains(from: decoder)
        plan = try c.decode(RolloutPlan.self, forKey: .plan)
        bulkOperationID = try c.decode(String.self, forKey: .bulkOperationID)
        createdAt = try c.decode(String.self, forKey: .createdAt)
        status = try c.decode(RolloutStatus.self, forKey: .status)
        haltedReason = try c.decodeIfPresent(String.self, forKey: .haltedReason)
        progress = try c.decode(RollingProgress.self, forKey: .progress)
    }

    /// The progress's batch fields are repeated at the top level, for a glance.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(operationType, forKey: .operationType)
        try c.encode(selector, forKey: .selector)
        try c.encode(parameters, forKey: .parameters)
        try c.encode(batchSize, forKey: .batchSize)
        try c.encode(batches, forKey: .batches)
        try c.encode(batchDelaySeconds, forKey: .batchDelaySeconds)
        try c.encode(failureThresholdPct, forKey: .failureThresholdPct)
        try c.encode(maxFailures, forKey: .maxFailures)
        try c.encode(failurePolicy, forKey: .failurePolicy)
        try c.encode(canary, forKey: .canary)
        try c.encode(gates, forKey: .gates)
        try c.encode(plan, forKey: .plan)
        try c.encode(bulkOperationID, forKey: .bulkOperationID)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(status, forKey: .status)
        try c.encode(haltedReason, forKey: .haltedReason)
        try c.encode(haltCode, forKey: .haltCode)
        try c.encodeIfPresent(parentID, forKey: .parentID)
        try c.encodeIfPresent(window, forKey: .window)
        try failureDomains?.encode(to: encoder)  // flat, beside the other settings
        try c.encode(progress, forKey: .progress)
        try c.encode(progress.currentBatch, forKey: .currentBatch)
        try c.encode(progress.totalBatches, forKey: .totalBatches)
        try c.encode(progress.failureBudget, forKey: .failureBudget)
        try c.encode(progress.nextBatchAt, forKey: .nextBatchAt)
    }
}

/// The reply of `rolling.list`: newest first.
public struct RollingDeploymentList: FleetMessage {
    public static let messageName = "rolling.list.reply"

    public var deployments: [RollingDeployment]
    /// Pass back as `cursor` for the next page; null on the last.
    public var nextCursor: String?

    public init(deployments: [RollingDeployment], nextCursor: String? = nil) {
        self.deployments = deployments
        self.nextCursor = nextCursor
    }

    enum CodingKeys: String, CodingKey { case deployments, nextCursor = "next_cursor" }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(deployments, forKey: .deployments)
        try c.encode(nextCursor, forKey: .nextCursor)  // null, not absent
    }
}
