/// Every Redis key Fleet Engine writes (docs/redis-keys.md). Keys one script touches together share
/// a hash tag, so the scripts also run on Redis Cluster.
public enum RedisKeys {
    /// Hash: host id -> host JSON. Owner: selector.
    public static let hosts = "fleet:{hosts}:records"
    /// Stream of host changes (`op` upsert|delete, `id`, `host`), trimmed to about `hostChangesMaxLength`. Owner: selector.
    public static let hostChanges = "fleet:{hosts}:changes"
    public static let hostChangesMaxLength = 200_000
    /// Hash: group id -> group JSON. Owner: groups.
    public static let groups = "fleet:{groups}:records"
    /// String: a counter bumped by every group write (optimistic concurrency). Owner: groups.
    public static let groupsVersion = "fleet:{groups}:version"
    /// Hash: host id -> `status` or `status:reason` of one bulk operation. Owner: bulk-dispatcher.
    public static func bulkHosts(_ op: String) -> String { "fleet:bulk:{\(op)}:hosts" }
    /// Sorted set (all scores 0): the operation's host ids, for paging them in id order without
    /// reading every status. Owner: bulk-dispatcher.
    public static func bulkOrder(_ op: String) -> String { "fleet:bulk:{\(op)}:order" }
    /// Hash: host id -> result JSON (exit code, output, timing). Owner: bulk-dispatcher.
    public static func bulkResults(_ op: String) -> String { "fleet:bulk:{\(op)}:results" }
    /// Hash: `total queued running succeeded failed skipped` (integers) and `status` (the aggregate),
    /// updated atomically with every per-host transition; dashboards read it. Owner: bulk-dispatcher.
    public static func bulkProgress(_ op: String) -> String { "fleet:bulk:{\(op)}:progress" }
    /// Hash: host id -> the agent id that claimed it, so a repeated claim by the same agent (its
    /// first reply lost) is granted again. Owner: bulk-dispatcher.
    public static func bulkClaims(_ op: String) -> String { "fleet:bulk:{\(op)}:claims" }
    /// Set: hosts `bulk.dispatch` has sent, so none is sent twice. Owner: bulk-dispatcher.
    public static func bulkSent(_ op: String) -> String { "fleet:bulk:{\(op)}:sent" }
    /// List: hosts waiting for a slot in the operation's concurrency window, in order. Owner: bulk-dispatcher.
    public static func bulkPending(_ op: String) -> String { "fleet:bulk:{\(op)}:pending" }
    /// Sorted set: hosts whose command is being published, scored by when (ms); a host leaves it
    /// once its publish is confirmed. One left in it long after (its dispatcher died between the
    /// delivery deadline and the publish, or the broker stayed away past the retries) is sent
    /// again by the reconciler. Owner: bulk-dispatcher.
    public static func bulkUnconfirmed(_ op: String) -> String { "fleet:bulk:{\(op)}:unconfirmed" }
    /// Hash: host id -> when its command was last published (ms): what the dispatch-to-result
    /// histogram measures from. Owner: bulk-dispatcher.
    public static func bulkDispatchedAt(_ op: String) -> String { "fleet:bulk:{\(op)}:dispatched" }
    /// Hash: `cancelled` (0/1) and the operation record. Owner: bulk-dispatcher.
    public static func bulkOperation(_ op: String) -> String { "fleet:bulk:{\(op)}:op" }
    /// String: the operation's parameters as JSON, when too large to travel in each command.
    public static func bulkParameters(_ op: String) -> String { "fleet:bulk:{\(op)}:parameters" }

    /// Sorted set: `<op>|<host>|run` (result due) and `<op>|<host>|delivery` (claim due), scored by the
    /// due time (ms). Owner: bulk-dispatcher; its sweeper fails what is overdue.
    public static let bulkDeadlines = "fleet:bulk:deadlines"
    /// Sorted set: operation ids scored by creation time (ms). Owner: bulk-dispatcher.
    public static let bulkIndex = "fleet:bulk:index"
    /// Set: operations not finished yet, which the reconciler checks for hosts nobody moves on.
    /// Owner: bulk-dispatcher.
    public static let bulkOpen = "fleet:bulk:open"
    /// Sorted set: `<op>|<host>` of running hosts whose agent renews its claim, scored by when the
    /// lease runs out (ms); past it the host is failed `lost`. Owner: bulk-dispatcher.
    public static let bulkLeases = "fleet:bulk:leases"
    /// Hash: host id -> queued reason (`locked`, `budget`) of the hosts whose command waits for a
    /// host lock or a concurrency budget. Owner: bulk-dispatcher.
    public static func bulkWaiting(_ op: String) -> String { "fleet:bulk:{\(op)}:waiting" }
    /// Hash: host id -> `<op>|<lease end ms>`: the exclusive operation holding the host. Keys of
    /// fleet-wide coordination share the `{coord}` hash tag, so one script admits hosts against
    /// the locks and the budget together. Owner: bulk-dispatcher.
    public static let hostLocks = "fleet:{coord}:locks"
    /// Hash: operation type -> max hosts in flight fleet-wide. Owner: bulk-dispatcher.
    public static let budgets = "fleet:{coord}:budgets"
    /// Sorted set: `<op>|<host>` sent and not yet terminal, of one operation type, scored by the
    /// lease end (ms). Owner: bulk-dispatcher.
    public static func inFlight(_ operationType: String) -> String { "fleet:{coord}:inflight:\(operationType)" }
    /// Set: operations with hosts waiting for a lock or a budget. Owner: bulk-dispatcher.
    public static let waitingOperations = "fleet:{coord}:waiting"
    /// Sorted set: operations waiting for the host's lock, scored by when each began to wait (ms),
    /// so a release wakes the oldest. Expires with the longest wait's lease. Owner: bulk-dispatcher.
    public static func hostLockWaiters(_ host: String) -> String { hostLockWaitersPrefix + host }
    /// The prefix of `hostLockWaiters`, for the scripts that name a host's key themselves.
    public static let hostLockWaitersPrefix = "fleet:{coord}:lockwait:"
    /// Sorted set: operations with hosts waiting for a slot of the type's budget, scored by when
    /// each began to wait (ms). Owner: bulk-dispatcher.
    public static func budgetWaiters(_ operationType: String) -> String { "fleet:{coord}:budgetwait:\(operationType)" }
    /// Sorted set: `<op>|<host>` (woken by the host's lock) or `<op>|` (by a budget slot) to be
    /// tried again, scored by when (ms). A release writes it; every dispatcher replica takes from
    /// it. Owner: bulk-dispatcher.
    public static let wakeOperations = "fleet:{coord}:wake"
    /// String: `Idempotency-Key` -> operation id, kept a day. Owner: bulk-dispatcher.
    public static func bulkIdempotency(_ key: String) -> String { "fleet:bulk:idempotency:\(key)" }

    /// Stream: the audit trail, one entry per mutating request (`at actor action target status
    /// error request_id`), trimmed to `FLEET_AUDIT_RETENTION_DAYS`. Owner: the gateway (the only
    /// writer; the services publish their records on `fleet.events` for it).
    public static let audit = "fleet:audit"

    /// Sorted set: completion webhooks still to POST, `{"id", "url", "body", "attempt"}` scored by
    /// when the next attempt is due (ms). One per service, each the only writer of its own:
    /// `bulk-dispatcher` (operations), `rollout-controller` (rollouts), `scheduler` (runs).
    public static func webhooks(_ service: String) -> String { "fleet:webhooks:\(service)" }

    /// Hash: window name -> `{name, cron, duration_minutes, timezone}`. Owner: scheduler; the
    /// rollout controller reads it.
    public static let windows = "fleet:windows"

    /// Hash: `record` (the rollout as created, JSON), `state` (where it stands, JSON) and `rev` (bumped
    /// by every state write, which must name the rev it read: compare-and-set). Owner: rollout-controller.
    public static func rollingRecord(_ id: String) -> String { "fleet:rolling:{\(id)}:record" }
    /// List: the rollout's host ids in dispatch order (batch k is a range of it). Owner: rollout-controller.
    public static func rollingHosts(_ id: String) -> String { "fleet:rolling:{\(id)}:hosts" }
    /// Hash: the bulk counters (`total queued running succeeded failed skipped`) as of the
    /// controller's last look, plus `status current_batch total_batches failure_budget
    /// failed_counted next_batch_at` (ms, empty when none). Owner: rollout-controller.
    public static func rollingProgress(_ id: String) -> String { "fleet:rolling:{\(id)}:progress" }
    /// Sorted set: rollout ids scored by creation time (ms). Owner: rollout-controller.
    public static let rollingIndex = "fleet:rolling:index"
    /// Sorted set: rollout ids scored by when the controller must look at them next (ms): the
    /// next-batch instant, or a periodic re-check. Owner: rollout-controller.
    public static let rollingTimers = "fleet:rolling:timers"
    /// Hash: bulk operation id -> the rollout it belongs to (to route bulk events). Owner: rollout-controller.
    public static let rollingByOperation = "fleet:rolling:by-operation"

    /// Hash: `definition` (the schedule as last written, JSON), `next_run`, `last_run` (ms, empty when
    /// none), `last_status`, `last_operation_id`, `created_at`, `updated_at`. Owner: scheduler.
    public static func scheduleRecord(_ id: String) -> String { "fleet:schedules:{\(id)}:record" }
    /// Hash: fire instant (ms) -> the run (JSON: `fire_at`, `trigger`, `kind`, `operation_id`,
    /// `status`, `reason`, `missed`). A field per instant: setting it is the claim that makes each
    /// instant fire once. Owner: scheduler.
    public static func scheduleRuns(_ id: String) -> String { "fleet:schedules:{\(id)}:runs" }
    /// Sorted set: schedule ids scored by creation time (ms). Owner: scheduler.
    public static let schedulesIndex = "fleet:schedules:index"
    /// Sorted set: enabled schedule ids scored by their next fire instant (ms). Owner: scheduler.
    public static let schedulesDue = "fleet:schedules:due"
    /// Sorted set: `<id>|<fire ms>` runs claimed whose operation is not created yet, scored by the
    /// claim time (ms); a scheduler that finds one old retries it (the create is idempotent). Owner: scheduler.
    public static let schedulesPending = "fleet:schedules:pending"
    /// Hash: operation (or rollout) id -> `<id>|<fire ms>`, the run that created it. Owner: scheduler.
    public static let schedulesByOperation = "fleet:schedules:by-operation"
    /// Set: operation (or rollout) ids of runs not yet finished. Owner: scheduler.
    public static let schedulesOpen = "fleet:schedules:open"
    /// String (expires after a day, as the create's Idempotency-Key does): the final status a finish
    /// event announced for an operation (or rollout) no run was known to have created yet, while
    /// some run is being started (`schedulesPending` is not empty). A run's
    /// operation can finish before the scheduler has recorded which run created it; the run reads
    /// this when it records the operation. Owner: scheduler.
    public static func scheduleEarlyFinish(_ op: String) -> String { "fleet:schedules:early-finish:{\(op)}" }

    /// Hash: fleet-wide gauges and cumulative totals (integers; the fields are FleetCore's
    /// `FleetStats`). Owner: bulk-dispatcher.
    public static let fleetStats = "fleet:stats"

    /// Hash: SHA-256 (hex) of an API token -> `{"scope", "name", "created_at"}`. Owner: gateway.
    public static let tokens = "fleet:tokens"
}
