import Foundation

/// The fixed plan of a rolling deployment (docs/domain.md, "Rollouts"): batch sizes that partition
/// the hosts in order (a canary first when there is one), the failure budget as an absolute number
/// of hosts and the reasons that count toward it, the unreached budget, and the gates.
public struct RolloutPlan: Sendable, Hashable, Codable {
    public let total: Int
    public let batches: [Int]
    /// The stricter of floor(failure_threshold_pct * N / 100) and max_failures: the rollout halts
    /// as soon as counted failures exceed it.
    public let failureBudget: Int
    public let policy: FailurePolicy
    /// floor(max_unreached_pct * N / 100): the rollout halts as soon as more hosts end
    /// `undeliverable`; nil when the policy sets none.
    public let unreachedBudget: Int?
    /// The canary's soak and promotion; its hosts are `batches[0]`.
    public let canary: Canary?
    public let gates: [RolloutGate]
    public let delaySeconds: Int

    public struct Canary: Sendable, Hashable, Codable {
        public let soakSeconds: Int
        public let promotion: CanarySettings.Promotion
        enum CodingKeys: String, CodingKey { case soakSeconds = "soak_seconds", promotion }
    }

    /// `ramp` (e.g. [1, 5, "25%"]) overrides `batchSize` when given; its last entry repeats. A
    /// canary takes the first batch; the sizes then apply to the hosts after it (a percentage is
    /// still of all N).
    /// `arranged`: batch sizes already cut (by failure domains, `FailureDomains.arrange`) with
    /// `sizeRule` as their upper bounds; they replace the plain partition.
    public init(
        total: Int, batchSize: BatchSize, ramp: [BatchSize]? = nil, failureThresholdPct: Double?, maxFailures: Int? = nil,
        policy: FailurePolicy = .everyFailure, canary: CanarySettings? = nil, gates: [RolloutGate] = [], delaySeconds: Int = 0,
        arranged: [Int]? = nil
    ) {
        self.total = total
        let size = Self.sizeRule(total: total, batchSize: batchSize, ramp: ramp, canary: canary)
        var batches: [Int] = []
        if let arranged {
            batches = arranged
        } else {
            var remaining = total
            while remaining > 0 {
                batches.append(min(size(batches.count), remaining))
                remaining -= batches[batches.count - 1]
            }
        }
        self.batches = batches
        let budgets = [failureThresholdPct.map { Self.share($0, of: total) }, maxFailures].compactMap { $0 }
        failureBudget = budgets.min() ?? 0
        self.policy = policy
        unreachedBudget = policy.maxUnreachedPct.map { Self.share($0, of: total) }
        self.canary = canary.map { Canary(soakSeconds: $0.soakSeconds, promotion: $0.promotion) }
        self.gates = gates
        self.delaySeconds = delaySeconds
    }

    /// The size of batch k before the hosts run out: the canary's first when there is one, then
    /// the ramp (its last entry repeating) or the batch size, each resolved against all N.
    public static func sizeRule(total: Int, batchSize: BatchSize, ramp: [BatchSize]?, canary: CanarySettings?) -> @Sendable (Int) -> Int {
        let sizes = (ramp?.isEmpty == false ? ramp! : [batchSize]).map { $0.resolve(total: total) }
        let first = canary.map { max(1, $0.hosts.resolve(total: total)) }
        return { k in
            if let first { return k == 0 ? first : sizes[min(k - 1, sizes.count - 1)] }
            return sizes[min(k, sizes.count - 1)]
        }
    }

    /// floor(pct * n / 100).
    static func share(_ pct: Double, of n: Int) -> Int { Int((pct * Double(n) / 100).rounded(.down)) }

    enum CodingKeys: String, CodingKey {
        case total, batches, failureBudget = "failure_budget", countedReasons = "counted_reasons", unreachedBudget = "unreached_budget"
        case canary, gates, delaySeconds = "batch_delay_seconds", estimatedDurationSeconds = "estimated_duration_seconds"
        case maxUnreachedPct = "max_unreached_pct"
    }

    /// A stored plan; fields a plan written before them lacks take the behaviour of then (every
    /// failure counts, no canary, no gates).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        total = try c.decode(Int.self, forKey: .total)
        batches = try c.decode([Int].self, forKey: .batches)
        failureBudget = try c.decode(Int.self, forKey: .failureBudget)
        let counted = try c.decodeIfPresent([HostReason].self, forKey: .countedReasons) ?? FailurePolicy.failureReasons
        policy = FailurePolicy(counted: counted, maxUnreachedPct: try c.decodeIfPresent(Double.self, forKey: .maxUnreachedPct))
        unreachedBudget = try c.decodeIfPresent(Int.self, forKey: .unreachedBudget)
        canary = try c.decodeIfPresent(Canary.self, forKey: .canary)
        gates = try c.decodeIfPresent([RolloutGate].self, forKey: .gates) ?? []
        delaySeconds = try c.decodeIfPresent(Int.self, forKey: .delaySeconds) ?? 0
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(total, forKey: .total)
        try c.encode(batches, forKey: .batches)
        try c.encode(failureBudget, forKey: .failureBudget)
        try c.encode(policy.counted, forKey: .countedReasons)
        try c.encode(policy.maxUnreachedPct, forKey: .maxUnreachedPct)
        try c.encode(unreachedBudget, forKey: .unreachedBudget)
        try c.encode(canary, forKey: .canary)
        try c.encode(gates, forKey: .gates)
        try c.encode(delaySeconds, forKey: .delaySeconds)
        try c.encode(estimatedDurationSeconds, forKey: .estimatedDurationSeconds)
    }

    /// As the API shows it (the encoding above, as a JSON value).
    public var json: JSONValue { JSONCoding.decode(Array((try? JSONEncoder().encode(self)) ?? Data()))! }

    /// The delays between batches and the canary's soak; the commands themselves count 0.
    public var estimatedDurationSeconds: Int {
        guard batches.count > 1 else { return 0 }
        return (batches.count - 1) * delaySeconds + (canary?.soakSeconds ?? 0)
    }

    /// Whether `counted` failures exceed the budget: checked on every result, not only at batch ends.
    public func shouldHalt(failed counted: Int) -> Bool { counted > failureBudget }

    /// Whether more hosts ended `undeliverable` than the unreached budget allows.
    public func tooManyUnreached(_ unreached: Int) -> Bool { unreachedBudget.map { unreached > $0 } ?? false }

    /// The positions (into the snapshotted host list) of batch `k`, 0-based.
    public func range(ofBatch k: Int) -> Range<Int> {
        let start = batches.prefix(k).reduce(0, +)
        return start..<(start + batches[k])
    }

    /// The HTTP gates to run after batch `k`, in order.
    public func httpGates(afterBatch k: Int) -> [RolloutGate] {
        gates.filter { $0.kind == .http && $0.applies(afterBatch: k, batches: batches.count, hasCanary: canary != nil) }
    }

    /// Whether an operator must promote after batch `k`: a manual canary, or an approval gate.
    public func needsApproval(afterBatch k: Int) -> Bool {
        guard k < batches.count - 1 else { return false }
        if k == 0, canary?.promotion == .manual { return true }
        return gates.contains { $0.kind == .approval && $0.applies(afterBatch: k, batches: batches.count, hasCanary: canary != nil) }
    }

    /// How long a run of the HTTP gates after batch `k` may take before it is run again (a
    /// controller that died running them): each timeout, plus a margin.
    public func gateRunMs(afterBatch k: Int) -> Int64 { Int64(httpGates(afterBatch: k).reduce(0) { $0 + $1.timeoutSeconds } + 5) * 1000 }

    /// Whether the soak follows batch `k`.
    public func soaks(afterBatch k: Int) -> Bool { k == 0 && (canary?.soakSeconds ?? 0) > 0 && batches.count > 1 }
}
