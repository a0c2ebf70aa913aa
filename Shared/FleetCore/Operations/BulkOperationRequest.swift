/// A validated `bulk.create` body (docs/domain.md, "Per-host status and progress"): what to run, on which hosts, with which limits.
public struct BulkOperationRequest: Sendable, Hashable {
    public var parameters: OperationParameters
    public var selector: HostSelector
    /// The selector as sent, kept on the record.
    public var selectorJSON: JSONValue
    /// An empty selection is a 422 `no_targets` unless this is true.
    public var allowEmpty: Bool
    /// How long a command may wait for its agent before the host fails `undeliverable`.
    public var deliveryTimeoutSeconds: Int
    /// At most this many hosts running at once (a sliding window); nil for no limit.
    public var concurrency: BatchSize?
    /// False: create with nothing dispatched; `bulk.dispatch` sends named hosts later (rollouts).
    public var dispatch: Bool
    /// True: answer the plan (`PlanPreview`) and create nothing.
    public var dryRun: Bool
    /// True (the default): a host is in at most one exclusive operation at a time (a host lock);
    /// false opts out of locking altogether.
    public var exclusive: Bool
    /// What happens to a host another operation holds: wait for it (the default) or skip it.
    public var onConflict: LockConflict
    /// POSTed the final progress when it finishes.
    public var notify: Notify?

    public static let keys: Set<String> = [
        "operation_type", "selector", "parameters", "allow_empty", "delivery_timeout_seconds", "concurrency", "dispatch", "dry_run",
        "exclusive", "on_conflict", "notify",
    ]

    public var type: OperationType { parameters.type }

    public init(json: JSONValue) throws(ValidationError) {
        var r = ObjectReader(json, path: "", allowed: Self.keys)
        let type: OperationType? = r.choice("operation_type", default: OperationType?.none)
        allowEmpty = r.bool("allow_empty", default: false)
        dispatch = r.bool("dispatch", default: true)
        dryRun = r.bool("dry_run", default: false)
        exclusive = r.bool("exclusive", default: true)
        onConflict = r.choice("on_conflict", default: LockConflict.wait) ?? .wait
        notify = Notify.read(r.raw("notify"), path: "notify", into: &r.errors)
        deliveryTimeoutSeconds = Int(r.int("delivery_timeout_seconds", in: 1...86_400, default: 600) ?? 600)
        concurrency = nil
        if let c = r.raw("concurrency") {
            do throws(ValidationError) { concurrency = try BatchSize(json: c, path: "concurrency") } catch { r.errors.add(error) }
        }
        selectorJSON = r.raw("selector") ?? .null
        selector = HostSelector()
        if selectorJSON == .null {
            r.errors.add("selector", .required, "selector is required")
        } else {
            do throws(ValidationError) { selector = try HostSelector(json: selectorJSON, path: "selector") } catch { r.errors.add(error) }
        }
        var params: OperationParameters?
        if let type {
            do throws(ValidationError) { params = try OperationParameters(type: type, json: r.raw("parameters")) } catch { r.errors.add(error) }
        }
        try r.throwIfAny()
        parameters = params!
    }
}
