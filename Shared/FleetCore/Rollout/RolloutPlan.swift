/// The fixed plan of a rolling deployment (docs/domain.md, "Rollouts"): batch sizes that partition the hosts
/// in order, and the failure budget as an absolute number of hosts.
public struct RolloutPlan: Sendable, Hashable, Codable {
    public let total: Int
    public let batches: [Int]
    /// F = floor(failure_threshold_pct * N / 100): the rollout halts as soon as failed > F.
    public let failureBudget: Int

    /// `ramp` (e.g. [1, 5, "25%"]) overrides `batchSize` when given; its last entry repeats.
    public init(total: Int, batchSize: BatchSize, ramp: [BatchSize]? = nil, failureThresholdPct: Double) {
        self.total = total
        let sizes = (ramp?.isEmpty == false ? ramp! : [batchSize]).map { $0.resolve(total: total) }
        var batches: [Int] = []
        var remaining = total
        while remaining > 0 {
            let size = min(sizes[min(batches.count, sizes.count - 1)], remaining)
            batches.append(size)
            remaining -= size
        }
        self.batches = batches
        failureBudget = Int((failureThresholdPct * Double(total) / 100).rounded(.down))
    }

    /// A plan as stored.
    public init(total: Int, batches: [Int], failureBudget: Int) {
        self.total = total
        self.batches = batches
        self.failureBudget = failureBudget
    }

    enum CodingKeys: String, CodingKey { case total, batches, failureBudget = "failure_budget" }

    /// `{"total", "batches", "failure_budget"}`.
    public var json: JSONValue {
        ["total": .int(Int64(total)), "batches": .array(batches.map { .int(Int64($0)) }), "failure_budget": .int(Int64(failureBudget))]
    }

    /// Whether `failed` hosts exceed the budget: checked on every result, not only at batch ends.
    public func shouldHalt(failed: Int) -> Bool { failed > failureBudget }

    /// The positions (into the snapshotted host list) of batch `k`, 0-based.
    public func range(ofBatch k: Int) -> Range<Int> {
        let start = batches.prefix(k).reduce(0, +)
        return start..<(start + batches[k])
    }
}

/// The status of a rolling deployment.
public enum RolloutStatus: String, CaseIterable, Sendable, Hashable, Codable {
    case queued, running, paused, succeeded, failed, cancelled

    public var isTerminal: Bool { self == .succeeded || self == .failed || self == .cancelled }
}

/// What an operator may ask of a rollout.
public enum RolloutAction: String, CaseIterable, Sendable, Hashable {
    case pause, resume, cancel

    /// The status after the action, or a 409 `invalid_transition`:
    /// pause from queued or running; resume only from paused; cancel from any non-terminal status.
    public func apply(to status: RolloutStatus) throws(ConflictError) -> RolloutStatus {
        switch (self, status) {
        case (.pause, .queued), (.pause, .running): return .paused
        case (.resume, .paused): return .running
        case (.cancel, let s) where !s.isTerminal: return .cancelled
        default:
            throw ConflictError(code: "invalid_transition", "cannot \(rawValue) a rollout that is \(status.rawValue)")
        }
    }
}
