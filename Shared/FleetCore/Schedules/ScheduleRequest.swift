/// A validated schedule definition (docs/domain.md, "Schedules"), for create and for update (which replaces it).
public struct ScheduleRequest: Sendable, Hashable {
    public enum MisfirePolicy: String, CaseIterable, Sendable, Hashable { case fireOnce = "fire_once", skip }
    public enum OverlapPolicy: String, CaseIterable, Sendable, Hashable { case forbid, allow }

    public var name: String
    /// What each fire runs: a bulk operation's fields (the selector resolves at every fire).
    public var operation: BulkOperationRequest
    /// The operation's fields as sent, passed to `bulk.create` (or `rolling.create`) at each fire.
    public var operationJSON: [String: JSONValue]
    public var schedule: CronSchedule
    public var cron: String
    public var timezone: String
    public var enabled: Bool
    public var misfirePolicy: MisfirePolicy
    public var overlapPolicy: OverlapPolicy
    /// Set: each fire starts a rolling deployment with these settings instead of a bulk operation.
    public var rolling: RolloutSettings?
    public var rollingJSON: JSONValue?
    /// The maintenance window its cron fires must fall in, by name (a fire outside it is skipped).
    public var window: String?
    /// POSTed each run's final status when it ends.
    public var notify: Notify?

    static let operationKeys: Set<String> = [
        "operation_type", "selector", "parameters", "delivery_timeout_seconds", "concurrency", "exclusive", "on_conflict",
    ]
    public static let keys = operationKeys.union([
        "id", "name", "cron", "timezone", "enabled", "misfire_policy", "overlap_policy", "rolling", "window", "notify",
    ])

    public init(json: JSONValue) throws(ValidationError) {
        var r = ObjectReader(json, path: "", allowed: Self.keys)
        let name = r.string("name", required: true, maxLength: 200)
        let cron = r.string("cron", required: true, maxLength: 200)
        let timezone = r.string("timezone", maxLength: 100) ?? "UTC"
        enabled = r.bool("enabled", default: true)
        misfirePolicy = r.choice("misfire_policy", default: MisfirePolicy.fireOnce) ?? .fireOnce
        overlapPolicy = r.choice("overlap_policy", default: OverlapPolicy.forbid) ?? .forbid
        var fields: [String: JSONValue] = [:]
        if case .object(let o) = json { fields = o.filter { Self.operationKeys.contains($0.key) } }
        var operation: BulkOperationRequest?
        do throws(ValidationError) {
            let request = try BulkOperationRequest(json: .object(fields))
            // Type-checked now (a string op on a boolean field, a bad pattern), not at the first fire.
            for (i, c) in request.selector.criteria.enumerated() { _ = try CompiledSelector.compile(c, at: path(path("selector", "criteria"), i)) }
            operation = request
        } catch { r.errors.add(error) }
        var schedule: CronSchedule?
        if let cron {
            do throws(ValidationError) { schedule = try CronSchedule(cron: cron, timeZone: timezone) } catch { r.errors.add(error) }
        }
        do throws(ValidationError) { window = try RecordID.optional(r.raw("window"), field: "window") } catch { r.errors.add(error) }
        notify = Notify.read(r.raw("notify"), path: "notify", into: &r.errors)
        rollingJSON = r.raw("rolling")
        if let raw = rollingJSON, raw != .null {
            if case .object(let o) = raw {
                for key in o.keys.sorted() where !RolloutSettings.keys.contains(key) {
                    r.errors.add("rolling.\(key)", .unknownField, "unknown field 'rolling.\(key)'")
                }
                do throws(ValidationError) { rolling = try RolloutSettings(json: o, path: "rolling") } catch { r.errors.add(error) }
            } else {
                r.errors.add("rolling", .invalidType, "rolling is an object of rollout settings")
            }
        } else {
            rollingJSON = nil
        }
        try r.throwIfAny()
        self.name = name!
        self.cron = cron!
        self.timezone = timezone
        self.operation = operation!
        self.schedule = schedule!
        operationJSON = fields
    }
}
