/// The rollout fields of a request, validated: batch sizing, delay, the failure budget (a
/// percentage, an absolute count, or both: the stricter wins) and which failures count, a canary,
/// and the gates between batches.
public struct RolloutSettings: Sendable, Hashable {
    public var batchSize: BatchSize
    public var ramp: [BatchSize]?
    public var batchDelaySeconds: Int
    /// Nil when not given: then `max_failures` alone sets the budget (neither: 0, the first failure halts).
    public var failureThresholdPct: Double?
    public var maxFailures: Int?
    public var failurePolicy = FailurePolicy.everyFailure
    public var canary: CanarySettings?
    public var gates: [RolloutGate] = []
    public var domains: FailureDomains?
    /// The maintenance window batches start in (`MaintenanceWindow`), by name.
    public var window: String?
    /// POSTed the final progress when the rollout ends (a `rolling.create` field; a schedule's
    /// rollouts take none: the schedule's own `notify` tells of each run).
    public var notify: Notify?

    public static let keys = Set([
        "batch_size", "batches", "batch_delay_seconds", "failure_threshold_pct", "max_failures", "failure_policy", "canary", "gates", "window",
    ]).union(FailureDomains.keys)
    /// More gates than this is a mistake, not a policy.
    public static let maxGates = 16

    /// Reads the rollout fields from `o`; other keys are the caller's to check.
    public init(json o: [String: JSONValue], path base: String = "") throws(ValidationError) {
        var errors = FieldErrors()
        var size = BatchSize.count(1)
        if let v = o["batch_size"] {
            do throws(ValidationError) { size = try BatchSize(json: v, path: path(base, "batch_size")) } catch { errors.add(error) }
        } else if o["batches"] == nil {
            errors.add(path(base, "batch_size"), .required, "batch_size (or a batches ramp) is required")
        }
        batchSize = size
        if let v = o["batches"], v != .null {
            if let a = v.arrayValue, !a.isEmpty {
                var ramp: [BatchSize] = []
                for (i, item) in a.enumerated() {
                    do throws(ValidationError) { ramp.append(try BatchSize(json: item, path: path(path(base, "batches"), i))) } catch {
                        errors.add(error)
                    }
                }
                self.ramp = ramp
            } else {
                errors.add(path(base, "batches"), .invalidType, "batches must be a non-empty array of batch sizes")
            }
        }
        batchDelaySeconds = 0
        if let v = o["batch_delay_seconds"], v != .null {
            if let i = v.intValue, i >= 0, i <= 86_400 {
                batchDelaySeconds = Int(i)
            } else {
                errors.add(path(base, "batch_delay_seconds"), .invalidValue, "batch_delay_seconds is an integer from 0 to 86400")
            }
        }
        if let v = o["failure_threshold_pct"], v != .null {
            if let d = v.doubleValue, d >= 0, d <= 100 {
                failureThresholdPct = d
            } else {
                errors.add(path(base, "failure_threshold_pct"), .invalidValue, "failure_threshold_pct is a number from 0 to 100")
            }
        }
        if let v = o["max_failures"], v != .null {
            if let i = v.intValue, i >= 0, i <= 10_000_000 {
                maxFailures = Int(i)
            } else {
                errors.add(path(base, "max_failures"), .invalidValue, "max_failures is an integer from 0 to 10000000")
            }
        }
        do throws(ValidationError) { failurePolicy = try FailurePolicy(json: o["failure_policy"], path: path(base, "failure_policy")) } catch {
            errors.add(error)
        }
        if let v = o["canary"], v != .null {
            do throws(ValidationError) { canary = try CanarySettings(json: v, path: path(base, "canary")) } catch { errors.add(error) }
        }
        if let v = o["gates"], v != .null {
            if let a = v.arrayValue, a.count <= Self.maxGates {
                for (i, item) in a.enumerated() {
                    let at = path(path(base, "gates"), i)
                    do throws(ValidationError) {
                        let gate = try RolloutGate(json: item, path: at)
                        if gate.after == .canary && o["canary"].map({ $0 == .null }) ?? true {
                            errors.add(path(at, "after"), .invalidValue, "a gate after the canary needs a canary")
                        }
                        gates.append(gate)
                    } catch { errors.add(error) }
                }
            } else {
                errors.add(path(base, "gates"), .invalidType, "gates is an array of at most \(Self.maxGates) gates")
            }
        }
        do throws(ValidationError) { domains = try FailureDomains.read(o, path: base) } catch { errors.add(error) }
        do throws(ValidationError) { window = try RecordID.optional(o["window"], field: path(base, "window")) } catch { errors.add(error) }
        try errors.throwIfAny()
    }

    /// The plan over `total` hosts taken in their order (no failure domains).
    public func plan(total: Int) -> RolloutPlan { plan(total: total, arranged: nil) }

    /// The hosts in the order the rollout takes them and its plan: with failure domains the hosts
    /// are arranged so no batch holds more than `max_per_domain` of one domain (`domain(id)` is a
    /// host's value, nil when it has none); without, they keep their order.
    public func plan(hosts: [String], domain: (String) -> String?) -> (hosts: [String], plan: RolloutPlan) {
        guard let domains else { return (hosts, plan(total: hosts.count)) }
        let size = RolloutPlan.sizeRule(total: hosts.count, batchSize: batchSize, ramp: ramp, canary: canary)
        let (ordered, batches) = domains.arrange(hosts.map { ($0, domain($0)) }, sizes: size)
        return (ordered, plan(total: hosts.count, arranged: batches))
    }

    private func plan(total: Int, arranged: [Int]?) -> RolloutPlan {
        RolloutPlan(
            total: total, batchSize: batchSize, ramp: ramp, failureThresholdPct: failureThresholdPct, maxFailures: maxFailures,
            policy: failurePolicy, canary: canary, gates: gates, delaySeconds: batchDelaySeconds, arranged: arranged)
    }

    /// The fields as a request states them (absent ones left out), for messages that carry them on.
    public var json: [String: JSONValue] {
        var o: [String: JSONValue] = [
            "batch_size": batchSize.json, "batch_delay_seconds": .int(Int64(batchDelaySeconds)), "failure_policy": failurePolicy.json,
        ]
        if let ramp { o["batches"] = .array(ramp.map(\.json)) }
        if let failureThresholdPct { o["failure_threshold_pct"] = .double(failureThresholdPct) }
        if let maxFailures { o["max_failures"] = .int(Int64(maxFailures)) }
        if let canary { o["canary"] = canary.json }
        if !gates.isEmpty { o["gates"] = .array(gates.map(\.json)) }
        if let domains { o.merge(domains.json.objectValue ?? [:]) { $1 } }
        if let window { o["window"] = .string(window) }
        if let notify { o["notify"] = notify.json }
        return o
    }
}
