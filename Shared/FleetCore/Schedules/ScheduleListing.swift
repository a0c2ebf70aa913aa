/// A schedule run's status: `pending` while its operation is being created, `running` while it
/// runs, then the operation's outcome, or `skipped` (the overlap policy, no targets).
public enum ScheduleRunStatus: String, CaseIterable, Sendable, Hashable {
    case pending, running, succeeded, partial, failed, cancelled, skipped
}

/// What `schedules.list` filters on as `status`: whether a schedule fires.
public enum ScheduleState: String, CaseIterable, Sendable, Hashable {
    case enabled, disabled

    /// A schedule's state from its `enabled` field (absent: enabled, the default).
    public init(enabled: JSONValue?) { self = enabled == .bool(false) ? .disabled : .enabled }
}
