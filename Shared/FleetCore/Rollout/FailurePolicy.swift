/// Which failures count toward a rollout's budget, and how many hosts may stay unreached
/// (docs/domain.md, "Rollouts"). By default every failure reason counts and unreached hosts have
/// no budget of their own. Leaving `undeliverable` out lets offline hosts not halt a rollout;
/// `max_unreached_pct` then keeps silent under-coverage from passing as success.
public struct FailurePolicy: Sendable, Hashable, Codable {
    /// The reasons a failed host can have, in their fixed order.
    public static let failureReasons = HostReason.allCases.filter { $0.status == .failed }
    public static let keys: Set<String> = ["count", "max_unreached_pct"]

    /// The failure reasons that count toward the budget, in `failureReasons` order.
    public var counted: [HostReason]
    /// Of all hosts, the percentage that may end `undeliverable` before the rollout halts; nil: off.
    public var maxUnreachedPct: Double?

    public static let everyFailure = FailurePolicy(counted: failureReasons, maxUnreachedPct: nil)

    public init(counted: [HostReason], maxUnreachedPct: Double?) {
        self.counted = Self.failureReasons.filter(counted.contains)
        self.maxUnreachedPct = maxUnreachedPct
    }

    /// `failure_policy` of a rollout request (absent or null: every failure counts).
    public init(json: JSONValue?, path base: String) throws(ValidationError) {
        var r = ObjectReader(json, path: base, allowed: Self.keys)
        var counted = Self.failureReasons
        if r.raw("count") != nil {
            counted = r.array("count") { item, at, errors in
                guard let s = item.stringValue, let reason = HostReason(rawValue: s), reason.status == .failed else {
                    errors.add(at, .invalidValue, "a counted reason is one of \(Self.failureReasons.map(\.rawValue).joined(separator: ", "))")
                    return nil
                }
                return reason
            }
            if Set(counted).count != counted.count { r.errors.add(r.at("count"), .invalidValue, "count lists a reason twice") }
        }
        var unreached: Double?
        if let v = r.raw("max_unreached_pct") {
            if let d = v.doubleValue, d >= 0, d <= 100 {
                unreached = d
            } else {
                r.errors.add(r.at("max_unreached_pct"), .invalidValue, "max_unreached_pct is a number from 0 to 100")
            }
        }
        try r.throwIfAny()
        self.init(counted: counted, maxUnreachedPct: unreached)
    }

    /// Of `failed` hosts, those that count: all but the ones whose reason is left out. Counting
    /// down from `failed` means a failure whose reason is not tallied still counts.
    public func counted(failed: Int, reasons: [HostReason: Int]) -> Int {
        failed - Self.failureReasons.filter { !counted.contains($0) }.reduce(0) { $0 + (reasons[$1] ?? 0) }
    }

    public var json: JSONValue {
        ["count": .array(counted.map { .string($0.rawValue) }), "max_unreached_pct": maxUnreachedPct.map { .double($0) } ?? .null]
    }
}
