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
    /// Hash: `cancelled` (0/1) and the operation record. Owner: bulk-dispatcher.
    public static func bulkOperation(_ op: String) -> String { "fleet:bulk:{\(op)}:op" }

    /// Sorted set: `<op>|<host>|run` (result due) and `<op>|<host>|delivery` (claim due), scored by the
    /// due time (ms). Owner: bulk-dispatcher; its sweeper fails what is overdue.
    public static let bulkDeadlines = "fleet:bulk:deadlines"
    /// Sorted set: operation ids scored by creation time (ms). Owner: bulk-dispatcher.
    public static let bulkIndex = "fleet:bulk:index"
    /// String: `Idempotency-Key` -> operation id, kept a day. Owner: bulk-dispatcher.
    public static func bulkIdempotency(_ key: String) -> String { "fleet:bulk:idempotency:\(key)" }

    /// Hash: fleet-wide counters (integers): `operations_created`, `hosts_targeted`, `hosts_<status>`
    /// (moves into running, succeeded, failed, skipped) and `operations_<aggregate>` (finished
    /// operations by outcome). Owner: bulk-dispatcher.
    public static let fleetStats = "fleet:stats"

    /// Hash: SHA-256 (hex) of an API token -> `{"scope", "name", "created_at"}`. Owner: gateway.
    public static let tokens = "fleet:tokens"
}
