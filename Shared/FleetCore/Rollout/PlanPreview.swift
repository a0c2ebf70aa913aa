/// What a `"dry_run": true` create answers (docs/domain.md, "Rollouts"): the hosts it would take,
/// those it would skip and why, the batches in order, the failure budget in force, and how long
/// the waits would take. Nothing is created or sent.
public struct PlanPreview: Sendable, Hashable, Codable {
    public struct Ineligible: Sendable, Hashable, Codable {
        public let hostID: String
        public let reason: HostReason
        public init(hostID: String, reason: HostReason) {
            self.hostID = hostID
            self.reason = reason
        }
        enum CodingKeys: String, CodingKey { case hostID = "host_id", reason }
    }

    public struct Batch: Sendable, Hashable, Codable {
        public let index: Int
        public let size: Int
        public let hostIDs: [String]
        public init(index: Int, size: Int, hostIDs: [String]) {
            self.index = index
            self.size = size
            self.hostIDs = hostIDs
        }
        enum CodingKeys: String, CodingKey { case index, size, hostIDs = "host_ids" }
    }

    public let total: Int
    public let ineligible: [Ineligible]
    public let batches: [Batch]
    /// Nil for a bulk operation: it has no budget and never halts.
    public let failureBudget: Int?
    public let countedReasons: [HostReason]
    public let unreachedBudget: Int?
    public let estimatedDurationSeconds: Int
    public let dryRun: Bool

    enum CodingKeys: String, CodingKey {
        case total, ineligible, batches, failureBudget = "failure_budget", countedReasons = "counted_reasons"
        case unreachedBudget = "unreached_budget", estimatedDurationSeconds = "estimated_duration_seconds", dryRun = "dry_run"
    }

    /// A bulk operation's: one batch of the hosts it would send to.
    public init(bulk hostIDs: [String], notApproved: Set<String>) {
        let eligible = hostIDs.filter { !notApproved.contains($0) }
        total = hostIDs.count
        ineligible = Self.skipped(hostIDs, notApproved)
        batches = eligible.isEmpty ? [] : [Batch(index: 0, size: eligible.count, hostIDs: eligible)]
        failureBudget = nil
        countedReasons = []
        unreachedBudget = nil
        estimatedDurationSeconds = 0
        dryRun = true
    }

    /// A rollout's: `hostIDs` in the order the rollout takes them, cut by the plan. A host that is
    /// not approved keeps its place in its batch, where it is skipped at once.
    public init(rollout plan: RolloutPlan, hostIDs: [String], notApproved: Set<String>) {
        total = hostIDs.count
        ineligible = Self.skipped(hostIDs, notApproved)
        batches = plan.batches.indices.map { k in
            let range = plan.range(ofBatch: k)
            return Batch(index: k, size: range.count, hostIDs: Array(hostIDs[range]))
        }
        failureBudget = plan.failureBudget
        countedReasons = plan.policy.counted
        unreachedBudget = plan.unreachedBudget
        estimatedDurationSeconds = plan.estimatedDurationSeconds
        dryRun = true
    }

    static func skipped(_ hostIDs: [String], _ notApproved: Set<String>) -> [Ineligible] {
        hostIDs.filter(notApproved.contains).map { Ineligible(hostID: $0, reason: .notApproved) }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(total, forKey: .total)
        try c.encode(ineligible, forKey: .ineligible)
        try c.encode(batches, forKey: .batches)
        try c.encode(failureBudget, forKey: .failureBudget)  // null, not absent
        try c.encode(countedReasons, forKey: .countedReasons)
        try c.encode(unreachedBudget, forKey: .unreachedBudget)
        try c.encode(estimatedDurationSeconds, forKey: .estimatedDurationSeconds)
        try c.encode(dryRun, forKey: .dryRun)
    }
}
