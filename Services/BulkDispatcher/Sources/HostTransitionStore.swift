import FleetContracts
import FleetCore
import FleetMessaging
import FleetRuntime
import FleetStore

/// Per-host statuses and progress counters of bulk operations in Redis.
///
/// Every move of a host is one Lua script that checks the host's current status against the
/// state machine, moves it, adjusts the counters, recomputes the aggregate, and says whether this
/// move finished the operation. So a duplicate or late result changes nothing, the counters always
/// add up to `total`, and exactly one caller learns that the operation finished. The move that
/// finishes an operation also sets every key of it to expire after the retention, in the same
/// script: nobody sees a finished operation without its expiry, and no crash leaves one. All keys
/// of an operation share the `{op}` hash tag.
struct HostTransitionStore: Sendable {
    let redis: RedisClient
    /// Seconds a finished operation's keys are kept.
    let retentionSeconds: Int

    init(redis: RedisClient, retentionSeconds: Int) {
        self.redis = redis
        self.retentionSeconds = retentionSeconds
    }

    /// Every key of one operation: the five the script moves first, then the rest it expires.
    static func keys(_ op: String) -> [String] {
        [
            RedisKeys.bulkHosts(op), RedisKeys.bulkProgress(op), RedisKeys.bulkResults(op), RedisKeys.bulkOperation(op),
            RedisKeys.bulkClaims(op), RedisKeys.bulkOrder(op), RedisKeys.bulkSent(op), RedisKeys.bulkPending(op),
            RedisKeys.bulkParameters(op), RedisKeys.bulkUnconfirmed(op), RedisKeys.bulkDispatchedAt(op), RedisKeys.bulkWaiting(op),
        ]
    }

    /// The outcome of moving hosts.
    struct Outcome: Equatable, Sendable {
        /// Hosts actually moved (the others were not in a status the move starts from).
        let applied: Int
        let aggregate: AggregateStatus
        /// True for exactly one call: the one whose move left no host queued or running.
        let justFinished: Bool
        /// The hosts that moved.
        var movedHosts: [String] = []
        /// For hosts moved out of running with their result (one host, or per-host results): when
        /// each one's command was published (ms), where recorded.
        var dispatchedAtMs: [Int64] = []
    }

    /// Writes an operation's hosts, all queued, and its counters, and lists it in `fleet:bulk:open`.
    func create(operation op: String, hostIDs: [String]) async throws {
        var commands = RedisCommand.chunked(["HSET", RedisKeys.bulkHosts(op)], hostIDs) { [$0, HostStatus.queued.rawValue] }
        commands += RedisCommand.chunked(["ZADD", RedisKeys.bulkOrder(op)], hostIDs) { ["0", $0] }
        let n = String(hostIDs.count)
        let initial: AggregateStatus = hostIDs.isEmpty ? .succeeded : .queued
        commands.append(
            RedisCommand([
                "HSET", RedisKeys.bulkProgress(op), "total", n, "queued", n, "running", "0", "succeeded", "0",
                "failed", "0", "skipped", "0", "status", initial.rawValue,
            ]))
        commands.append(RedisCommand(["HSET", RedisKeys.bulkOperation(op), "cancelled", "0"]))
        // Open from its first key on, so the reconciler sees an operation whose create died half-way.
        commands.append(RedisCommand(["SADD", RedisKeys.bulkOpen, op]))
        commands += FleetStats.created(hosts: hostIDs.count).map { RedisCommand(["HINCRBY", RedisKeys.fleetStats, $0.field, String($0.by)]) }
        try await redis.pipelineChecked(commands)
    }

    /// Moves `hosts` to `to` (with `reason`), each only if the state machine allows it from where
    /// that host is. `result` (JSON) is stored for a single host. A move to running with a
    /// `claimant` records it, and a host already running for that same claimant counts as moved
    /// again (without counting twice): an agent whose first claim reply was lost gets its host.
    func move(
        operation op: String, hosts: [String], to: HostStatus, reason: HostReason? = nil, result: String? = nil,
        claimant: String? = nil
    ) async throws -> Outcome {
        try await run(operation: op, to: to, reason: reason, result: result ?? "", claimant: claimant ?? "", hosts)
    }

    /// Moves each host of `results` to `to` (with `reason`), storing its own result JSON: the
    /// results of many agents in one script. A host named twice moves once.
    func move(operation op: String, results: [(host: String, result: String)], to: HostStatus, reason: HostReason?) async throws -> Outcome {
        try await run(operation: op, to: to, reason: reason, result: Self.perHostResults, claimant: "", results.flatMap { [$0.host, $0.result] })
    }

    /// The result argument that says the hosts come in `host, result JSON` pairs (no JSON result is
    /// a bare `*`).
    static let perHostResults = "*"

    private func run(operation op: String, to: HostStatus, reason: HostReason?, result: String, claimant: String, _ hosts: [String]) async throws
        -> Outcome
    {
        let reply = try await redis.eval(
            Self.script, keys: Self.keys(op), arguments: [to.rawValue, reason?.rawValue ?? "", result, claimant, String(retentionSeconds)] + hosts)
        guard let parts = reply.array, parts.count == 7, let applied = parts[0].int,
            let aggregate = parts[1].string.flatMap(AggregateStatus.init(rawValue:)), let finished = parts[2].int,
            let fromQueued = parts[4].int, let fromRunning = parts[5].int
        else {
            throw RedisError(.reply, "unexpected transition reply \(reply)")
        }
        let sent = parts[6].array?.compactMap { $0.string.flatMap { Int64($0) } } ?? []
        let outcome = Outcome(
            applied: Int(applied), aggregate: aggregate, justFinished: finished == 1,
            movedHosts: parts[3].array?.compactMap(\.string) ?? [], dispatchedAtMs: sent)
        try await count(
            FleetStats.Move(to: to, fromQueued: Int(fromQueued), fromRunning: Int(fromRunning), finished: finished == 1 ? aggregate : nil))
        return outcome
    }

    /// Fleet-wide counters and gauges. They live outside the operation's hash slot (so the script
    /// cannot update them on Redis Cluster); they follow the script in the next round trip, so a
    /// dispatcher killed between the two leaves them off by that one move (documented).
    private func count(_ move: FleetStats.Move) async throws {
        let changes = FleetStats.changes(move)
        guard !changes.isEmpty else { return }
        _ = try await redis.pipeline(changes.map { RedisCommand(["HINCRBY", RedisKeys.fleetStats, $0.field, String($0.by)]) })
    }

    /// Of `hosts`, those running for `claimant` (one round trip; nothing moves).
    func heldBy(_ claimant: String, operation op: String, hosts: [String]) async throws -> [String] {
        guard !claimant.isEmpty, !hosts.isEmpty else { return [] }
        let replies = try await redis.pipeline([
            RedisCommand(["HMGET", RedisKeys.bulkHosts(op)] + hosts), RedisCommand(["HMGET", RedisKeys.bulkClaims(op)] + hosts),
        ])
        guard replies.count == 2, let statuses = replies[0].array, let claims = replies[1].array else { return [] }
        return zip(hosts, zip(statuses, claims)).filter { _, entry in
            entry.0.string == HostStatus.running.rawValue && entry.1.string == claimant
        }.map(\.0)
    }

    /// Skips every queued host with `reason`; `cancelled` also marks the operation cancelled (the
    /// aggregate becomes `cancelled`).
    func skipQueued(operation op: String, reason: HostReason) async throws -> Outcome {
        if reason == .cancelled { _ = try await redis.send("HSET", RedisKeys.bulkOperation(op), "cancelled", "1") }
        let queued = try await statuses(operation: op).filter { $0.value == HostStatus.queued.rawValue }.map(\.key)
        return try await move(operation: op, hosts: queued, to: .skipped, reason: reason)
    }

    func progress(operation op: String) async throws -> (ProgressCounters, AggregateStatus)? {
        try await BulkRecords(redis).progress(op)
    }

    func statuses(operation op: String) async throws -> [String: String] {
        (try await redis.send("HGETALL", RedisKeys.bulkHosts(op)).dictionary ?? [:]).compactMapValues(\.string)
    }

    /// The allowed moves, generated from FleetCore's HostStatusMachine so the two cannot disagree:
    /// `"from>to>reason"` for every allowed combination (reason empty when there is none).
    static let allowedMoves: [String] = {
        var out: [String] = []
        for from in HostStatus.allCases {
            for to in HostStatus.allCases {
                for reason in [nil] + HostReason.allCases.map(Optional.some) where HostStatusMachine.allows(from: from, to: to, reason: reason) {
                    out.append("\(from.rawValue)>\(to.rawValue)>\(reason?.rawValue ?? "")")
                }
            }
        }
        return out
    }()

    /// KEYS: hosts, progress, results, operation, claims, then the operation's other keys (`keys(_:)`).
    /// ARGV: to, reason, result JSON, claimant, retention seconds, host ids... (or, with result
    /// `*`, host id and result JSON pairs).
    /// Returns {applied, aggregate, justFinished, moved hosts, moved from queued, moved from running,
    /// the dispatch instants of the hosts moved out of running with a result}.
    /// The aggregate follows ProgressCounters.aggregate.
    static let script = RedisScript(
        """
        local allowed = {\(allowedMoves.map { "['\($0)']=true" }.joined(separator: ","))}
        local to, reason, result, claimant, retention = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
        local applied, fromQueued, fromRunning, dispatchedAt = 0, 0, 0, {}
        local perHost = result == '*'
        local step = perHost and 2 or 1
        if not perHost and #ARGV ~= 6 then result = '' end
        local moved = {}
        local wasOpen = false
        do
          local q = tonumber(redis.call('HGET', KEYS[2], 'queued') or '0')
          local r = tonumber(redis.call('HGET', KEYS[2], 'running') or '0')
          wasOpen = (q + r) > 0
        end
        for i = 6, #ARGV, step do
          local host = ARGV[i]
          local hostResult = perHost and ARGV[i + 1] or result
          local current = redis.call('HGET', KEYS[1], host)
          if current then
            local from = string.match(current, '^[a-z]+')
            if allowed[from .. '>' .. to .. '>' .. reason] then
              redis.call('HSET', KEYS[1], host, reason == '' and to or (to .. ':' .. reason))
              redis.call('HINCRBY', KEYS[2], from, -1)
              redis.call('HINCRBY', KEYS[2], to, 1)
              -- Per-reason tallies (`failed_undeliverable`, `skipped_not_approved`): a rollout's failure
              -- policy counts some reasons and not others. Only terminal moves carry a reason.
              if reason ~= '' then redis.call('HINCRBY', KEYS[2], to .. '_' .. reason, 1) end
              if hostResult ~= '' then redis.call('HSET', KEYS[3], host, hostResult) end
              if to == 'running' and claimant ~= '' then redis.call('HSET', KEYS[5], host, claimant) end
              applied = applied + 1
              if from == 'queued' then fromQueued = fromQueued + 1 elseif from == 'running' then fromRunning = fromRunning + 1 end
              if from == 'running' and hostResult ~= '' then
                local sentAt = redis.call('HGET', KEYS[11], host)
                if sentAt then dispatchedAt[#dispatchedAt + 1] = sentAt end
              end
              moved[#moved + 1] = host
            elseif to == 'running' and from == 'running' and claimant ~= '' and redis.call('HGET', KEYS[5], host) == claimant then
              moved[#moved + 1] = host
            end
          end
        end
        local p = redis.call('HMGET', KEYS[2], 'total', 'queued', 'running', 'succeeded')
        local total, q, r, s = tonumber(p[1] or '0'), tonumber(p[2] or '0'), tonumber(p[3] or '0'), tonumber(p[4] or '0')
        local status
        if redis.call('HGET', KEYS[4], 'cancelled') == '1' then status = 'cancelled'
        elseif total > 0 and q == total then status = 'queued'
        elseif q + r > 0 then status = 'running'
        elseif s == total then status = 'succeeded'
        elseif s == 0 then status = 'failed'
        else status = 'partial' end
        -- An operation past its retention is gone: a late move (a deadline, a stale result) must not
        -- bring back a bare progress hash.
        if p[1] then redis.call('HSET', KEYS[2], 'status', status) end
        local finished = 0
        if wasOpen and applied > 0 and q + r == 0 then
          finished = 1
          for k = 1, #KEYS do redis.call('EXPIRE', KEYS[k], retention) end
        end
        return {applied, status, finished, moved, fromQueued, fromRunning, dispatchedAt}
        """)
}
