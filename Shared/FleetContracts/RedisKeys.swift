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
    /// Hash: SHA-256 (hex) of an API token -> `{"scope", "name", "created_at"}`. Owner: gateway.
    public static let tokens = "fleet:tokens"
}
