import FleetContracts
import FleetCore
import FleetStore

/// Fleet-wide coordination at the moment a command would go out: host locks (a host is in at
/// most one exclusive operation at a time) and concurrency budgets (at most N hosts of one
/// operation type in flight, whichever operations they come from).
///
/// One Lua script admits a batch of hosts against both, atomically, so two dispatchers (or two
/// operations) admitting at the same instant cannot both take a host or overfill a budget. Its keys
/// share the `{coord}` hash tag. Locks and in-flight entries are leases: each carries the instant
/// past which it counts for nothing, so a holder that died cannot keep a host or a budget slot for
/// good; `release` frees them on the host's terminal status, and `reap` frees those whose host
/// ended while its dispatcher died between the move and the release.
struct DispatchGate: Sendable {
    let redis: RedisClient
    let clock: WallClock

    struct Admission: Equatable, Sendable {
        var admitted: [String] = []
        /// Held by another operation's lock.
        var locked: [String] = []
        /// Their type's budget is full.
        var overBudget: [String] = []
    }

    /// How many hosts one script admits: a script blocks Redis while it runs.
    static let chunk = 1000

    /// Admits what it can of `hosts` for `op`: takes each admitted host's lock (when exclusive) and
    /// an in-flight slot of the type's budget, both until `leaseMs` from now. A host this
    /// operation already holds is admitted again without counting twice (a retry, a replica).
    func admit(op: String, hosts: [String], request: DispatchableRequest) async throws -> Admission {
        let lease = HostLease.milliseconds(
            deliveryTimeoutSeconds: request.deliveryTimeoutSeconds, timeoutSeconds: request.timeoutSeconds,
            graceMilliseconds: Deadlines.grace.wholeMilliseconds)
        var admission = Admission()
        for start in stride(from: 0, to: hosts.count, by: Self.chunk) {
            let now = clock.nowMs
            let slice = hosts[start..<min(start + Self.chunk, hosts.count)]
            let reply = try await redis.eval(
                Self.admitScript, keys: [RedisKeys.hostLocks, RedisKeys.budgets, RedisKeys.inFlight(request.operationType.rawValue)],
                arguments: [op, request.operationType.rawValue, request.exclusive ? "1" : "0", String(now), String(now + lease)] + slice)
            guard let parts = reply.array, parts.count == 3 else { throw RedisError(.reply, "unexpected admission reply \(reply)") }
            admission.admitted += parts[0].array?.compactMap(\.string) ?? []
            admission.locked += parts[1].array?.compactMap(\.string) ?? []
            admission.overBudget += parts[2].array?.compactMap(\.string) ?? []
        }
        return admission
    }

    /// Frees the locks `op` holds on `hosts` and their in-flight slots. With no type known (the
    /// operation's request expired), every type's slots are freed.
    @discardableResult
    func release(op: String, hosts: [String], operationType: OperationType?) async throws -> Int {
        guard !hosts.isEmpty else { return 0 }
        var released = 0
        for type in operationType.map { [$0] } ?? OperationType.allCases {
            for start in stride(from: 0, to: hosts.count, by: Self.chunk) {
                let slice = hosts[start..<min(start + Self.chunk, hosts.count)]
                released += Int(
                    try await redis.eval(
                        Self.releaseScript, keys: [RedisKeys.hostLocks, RedisKeys.inFlight(type.rawValue)], arguments: [op] + slice
                    ).int ?? 0)
            }
        }
        return released
    }

    /// A lock's value, `<op>|<lease end ms>`.
    struct Holder: Equatable, Sendable {
        let op: String
        let until: Int64

        init?(_ text: String) {
            guard let bar = text.lastIndex(of: "|"), let until = Int64(text[text.index(after: bar)...]) else { return nil }
            op = String(text[..<bar])
            self.until = until
        }
    }

    /// Frees the locks and in-flight slots whose host is no longer queued or running in the
    /// holding operation (or whose operation is gone): a dispatcher that died between a host's
    /// terminal move and its release. A lease past its end is freed too. Answers how many.
    func reap() async throws -> Int {
        var byOp: [String: Set<String>] = [:]
        var cursor = "0"
        repeat {
            let reply = try await redis.send("HSCAN", RedisKeys.hostLocks, cursor, "COUNT", "1000").array ?? []
            guard reply.count == 2, let next = reply[0].string, let flat = reply[1].array?.compactMap(\.string) else { break }
            cursor = next
            for i in stride(from: 0, to: flat.count - 1, by: 2) {
                if let holder = Holder(flat[i + 1]) { byOp[holder.op, default: []].insert(flat[i]) }
            }
        } while cursor != "0"
        for type in OperationType.allCases {
            let members = try await redis.send("ZRANGE", RedisKeys.inFlight(type.rawValue), "0", "-1").array?.compactMap(\.string) ?? []
            for member in members {
                guard let bar = member.lastIndex(of: "|") else { continue }
                byOp[String(member[..<bar]), default: []].insert(String(member[member.index(after: bar)...]))
            }
        }
        var reaped = 0
        for (op, hosts) in byOp {
            let ids = hosts.sorted()
            let statuses = try await redis.send(RedisCommand(["HMGET", RedisKeys.bulkHosts(op)] + ids)).array ?? []
            let ended = zip(ids, statuses).filter { _, status in
                guard let s = status.string, let current = HostStatus(rawValue: String(s.prefix { $0 != ":" })) else { return true }
                return current.isTerminal
            }.map(\.0)
            reaped += try await release(op: op, hosts: ended, operationType: nil)
        }
        // Leases past their end count for nothing already; removing them keeps the hash small.
        _ = try await redis.eval(Self.expireScript, keys: [RedisKeys.hostLocks], arguments: [String(clock.nowMs)])
        return reaped
    }

    /// KEYS: locks, budgets, in-flight of the type. ARGV: op, type, exclusive (1/0), now ms, lease end ms, hosts...
    /// Returns {admitted, locked, over budget}.
    static let admitScript = RedisScript(
        """
        local op, otype, exclusive, now, untilMs = ARGV[1], ARGV[2], ARGV[3] == '1', tonumber(ARGV[4]), ARGV[5]
        local max = tonumber(redis.call('HGET', KEYS[2], otype) or '-1')
        redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
        local inflight = redis.call('ZCARD', KEYS[3])
        local admitted, locked, over = {}, {}, {}
        for i = 6, #ARGV do
          local host = ARGV[i]
          local member = op .. '|' .. host
          local blocked = false
          if exclusive then
            local holder = redis.call('HGET', KEYS[1], host)
            if holder then
              local hop, hend = string.match(holder, '^(.*)|(%d+)$')
              if hop ~= op and tonumber(hend or '0') > now then blocked = true end
            end
          end
          local counted = redis.call('ZSCORE', KEYS[3], member)
          if blocked then
            locked[#locked + 1] = host
          elseif max >= 0 and not counted and inflight >= max then
            over[#over + 1] = host
          else
            if exclusive then redis.call('HSET', KEYS[1], host, op .. '|' .. untilMs) end
            if not counted then inflight = inflight + 1 end
            redis.call('ZADD', KEYS[3], untilMs, member)
            admitted[#admitted + 1] = host
          end
        end
        return {admitted, locked, over}
        """)

    /// KEYS: locks, in-flight of one type. ARGV: op, hosts... Frees only what `op` holds; answers
    /// how many locks and slots it freed.
    static let releaseScript = RedisScript(
        """
        local op = ARGV[1]
        local freed = 0
        local prefix = op .. '|'
        for i = 2, #ARGV do
          local host = ARGV[i]
          local holder = redis.call('HGET', KEYS[1], host)
          if holder and string.sub(holder, 1, #prefix) == prefix and not string.find(string.sub(holder, #prefix + 1), '|', 1, true) then
            redis.call('HDEL', KEYS[1], host)
            freed = freed + 1
          end
          freed = freed + redis.call('ZREM', KEYS[2], prefix .. host)
        end
        return freed
        """)

    /// KEYS: locks. ARGV: now ms. Deletes the locks whose lease has ended.
    static let expireScript = RedisScript(
        """
        local now = tonumber(ARGV[1])
        local cursor = '0'
        repeat
          local page = redis.call('HSCAN', KEYS[1], cursor, 'COUNT', 1000)
          cursor = page[1]
          local flat = page[2]
          for i = 1, #flat, 2 do
            local hend = string.match(flat[i + 1], '|(%d+)$')
            if tonumber(hend or '0') <= now then redis.call('HDEL', KEYS[1], flat[i]) end
          end
        until cursor == '0'
        return 0
        """)
}
