/// The rollout fields of a request: batch sizing, delay and failure threshold, validated.
public struct RolloutSettings: Sendable, Hashable {
    public var batchSize: BatchSize
    public var ramp: [BatchSize]?
    public var batchDelaySeconds: Int
    public var failureThresholdPct: Double

    public static let keys: Set<String> = ["batch_size", "batches", "batch_delay_seconds", "failure_threshold_pct"]

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
        failureThresholdPct = 0
        if let v = o["failure_threshold_pct"], v != .null {
            if let d = v.doubleValue, d >= 0, d <= 100 {
                failureThresholdPct = d
            } else {
                errors.add(path(base, "failure_threshold_pct"), .invalidValue, "failure_threshold_pct is a number from 0 to 100")
            }
        }
        try errors.throwIfAny()
    }

    public func plan(total: Int) -> RolloutPlan {
        RolloutPlan(total: total, batchSize: batchSize, ramp: ramp, failureThresholdPct: failureThresholdPct)
    }
}
