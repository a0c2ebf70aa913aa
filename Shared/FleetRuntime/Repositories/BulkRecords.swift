import FleetContracts
import FleetCore
import FleetStore

/// Reads the bulk dispatcher's records (it alone writes them): per-host statuses with their
/// reasons, the published progress counters, the operation's host ids. The dispatcher's encoding
/// of a host (`status` or `status:reason`) is parsed here and nowhere else.
public struct BulkRecords: Sendable {
    public let redis: RedisClient

    public init(_ redis: RedisClient) { self.redis = redis }

    /// One host's entry in `fleet:bulk:{op}:hosts`.
    public struct HostEntry: Sendable, Hashable {
        public let status: HostStatus
        public let reason: HostReason?

        public init(status: HostStatus, reason: HostReason?) {
            self.status = status
            self.reason = reason
        }

        /// Parses the stored form; nil for anything the dispatcher does not write.
        public init?(stored text: String) {
            let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard let status = parts.first.flatMap(HostStatus.init(rawValue:)) else { return nil }
            if parts.count > 1 {
                guard let reason = HostReason(rawValue: parts[1]) else { return nil }
                self.init(status: status, reason: reason)
            } else {
                self.init(status: status, reason: nil)
            }
        }

        /// The stored form.
        public var stored: String { reason.map { "\(status.rawValue):\($0.rawValue)" } ?? status.rawValue }
    }

    /// The counters and aggregate status of `fleet:bulk:{op}:progress`; nil if no such operation.
    public func progress(_ op: String) async throws -> (counters: ProgressCounters, status: AggregateStatus)? {
        let hash = try await redis.send("HGETALL", RedisKeys.bulkProgress(op)).dictionary ?? [:]
        return Self.progress(hash)
    }

    /// The counters alone (zero for an operation that does not exist).
    public func counters(_ op: String) async throws -> ProgressCounters {
        try await progress(op)?.counters ?? ProgressCounters(total: 0)
    }

    /// The aggregate status alone; nil if no such operation.
    public func aggregate(_ op: String) async throws -> AggregateStatus? {
        try await redis.send("HGET", RedisKeys.bulkProgress(op), "status").string.flatMap(AggregateStatus.init(rawValue:))
    }

    /// Every host id of the operation, sorted.
    public func hostIDs(_ op: String) async throws -> [String] {
        (try await redis.send("HKEYS", RedisKeys.bulkHosts(op)).array ?? []).compactMap(\.string).sorted()
    }

    /// The hosts of the operation a rerun would take, sorted: those whose final status (and
    /// reason) `rerun` names. Empty for an operation that does not exist.
    public func matching(_ op: String, _ rerun: RerunRequest) async throws -> [String] {
        let all = (try await redis.send("HGETALL", RedisKeys.bulkHosts(op)).dictionary ?? [:]).compactMapValues { $0.string.flatMap(HostEntry.init(stored:)) }
        return all.filter { rerun.matches($0.value.status, $0.value.reason) }.map(\.key).sorted()
    }

    /// The entries of `hosts`, in order (nil for a host not in the operation).
    public func entries(_ op: String, _ hosts: [String]) async throws -> [HostEntry?] {
        guard !hosts.isEmpty else { return [] }
        return (try await redis.send(RedisCommand(["HMGET", RedisKeys.bulkHosts(op)] + hosts)).array ?? []).map { $0.string.flatMap(HostEntry.init(stored:)) }
    }

    /// Whether every one of `hosts` is terminal, then the counters, read in that order in one round
    /// trip: the counters are at least as new as the statuses, so hosts seen done never come with
    /// counts that miss one of them.
    public func terminalThenCounters(_ op: String, _ hosts: [String]) async throws -> (
        allTerminal: Bool, counters: ProgressCounters, reasons: [HostReason: Int]
    ) {
        guard !hosts.isEmpty else {  // HMGET takes at least one field
            let (counters, reasons) = try await countersAndReasons(op)
            return (true, counters, reasons)
        }
        let replies = try await redis.pipelineChecked([
            RedisCommand(["HMGET", RedisKeys.bulkHosts(op)] + hosts),
            RedisCommand(["HGETALL", RedisKeys.bulkProgress(op)]),
        ])
        let entries = (replies[0].array ?? []).map { $0.string.flatMap(HostEntry.init(stored:)) }
        let done = entries.count == hosts.count && entries.allSatisfy { $0?.status.isTerminal == true }
        let hash = replies[1].dictionary ?? [:]
        return (done, Self.progress(hash)?.counters ?? ProgressCounters(total: 0), Self.reasons(hash))
    }

    /// The counters and the per-reason tallies (`failed_<reason>`, `skipped_<reason>`) in one read.
    public func countersAndReasons(_ op: String) async throws -> (counters: ProgressCounters, reasons: [HostReason: Int]) {
        let hash = try await redis.send("HGETALL", RedisKeys.bulkProgress(op)).dictionary ?? [:]
        return (Self.progress(hash)?.counters ?? ProgressCounters(total: 0), Self.reasons(hash))
    }

    static func reasons(_ hash: [String: RedisValue]) -> [HostReason: Int] {
        var out: [HostReason: Int] = [:]
        for reason in HostReason.allCases {
            if let n = hash["\(reason.status.rawValue)_\(reason.rawValue)"]?.int { out[reason] = Int(n) }
        }
        return out
    }

    static func progress(_ hash: [String: RedisValue]) -> (counters: ProgressCounters, status: AggregateStatus)? {
        guard !hash.isEmpty else { return nil }
        func n(_ k: String) -> Int { Int(hash[k]?.int ?? 0) }
        let counters = ProgressCounters(
            total: n("total"), queued: n("queued"), running: n("running"),
            succeeded: n("succeeded"), failed: n("failed"), skipped: n("skipped"))
        return (counters, hash["status"]?.string.flatMap(AggregateStatus.init(rawValue:)) ?? .queued)
    }
}
