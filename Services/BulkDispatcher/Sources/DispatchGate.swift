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
            let type = request.operationType.rawValue
            let reply = try await redis.eval(
                Self.admitScript,
                keys: [RedisKeys.hostLocks, RedisKeys.budgets, RedisKeys.inFlight(type), RedisKeys.budgetWaiters(type)],
                arguments: [op, type, request.exclusive ? "1" : "0", String(now), String(now + lease), RedisKeys.hostLockWaitersPrefix] + slice)
            guard let parts = reply.array, parts.count == 3 else { throw RedisError(.reply, "unexpected admission reply \(reply)") }
            admission.admitted += parts[0].array?.compactMap(\.string) ?? []
            admission.locked += parts[1].array?.compactMap(\.string) ?? []
            admission.overBudget += parts[2].array?.compactMap(\.string) ?? []
        }
        return admission
    }

    /// What a release did: locks and in-flight slots freed, and waiting operations woken.
    struct Released: Equatable, Sendable {
        var freed = 0
        var woken = 0
    }

    /// Frees the locks `op` holds on `hosts` and their in-flight slots, and wakes, for each host
    /// left without a lock, the operation that has waited longest for it, and for each slot freed
    /// the oldest waiting for the type's budget (`WaitingHosts` tries them again at once). With no
    /// type known (the operation's request expired), every type's slots are freed.
    @discardableResult
    func release(op: String, hosts: [String], operationType: OperationType?) async throws -> Released {
        guard !hosts.isEmpty else { return Released() }
        var released = Released()
        for type in operationType.map { [$0] } ?? OperationType.allCases {
            for start in stride(from: 0, to: hosts.count, by: Self.chunk) {
                let slice = hosts[start..<min(start + Self.chunk, hosts.count)]
                let reply = try await redis.eval(
                    Self.releaseScript,
                    keys: [RedisKeys.hostLocks, RedisKeys.inFlight(type.rawValue), RedisKeys.budgetWaiters(type.rawValue), RedisKeys.wakeOperations],
                    arguments: [op, String(clock.nowMs), RedisKeys.hostLockWaitersPrefix] + slice)
                released.freed += Int(reply.array?.first?.int ?? 0)
                released.woken += Int(reply.array?.last?.int ?? 0)
            }
        }
        return released
    }

    /// One operation woken: by `host`'s lock, or (host nil) by a slot of its type's budget.
    /// `secondLook`: woken again because its first try found the host not yet in its waiting hash.
    struct Wake: Equatable, Hashable, Sendable {
        let op: String
        let host: String?
        var secondLook = false

        init(op: String, host: String?, secondLook: Bool = false) {
            self.op = op
            self.host = host
            self.secondLook = secondLook
        }

        /// `[+]<op>|<host>`, or `<op>|` for a budget's wake.
        init?(_ member: String) {
            secondLook = member.hasPrefix("+")
            let text = secondLook ? member.dropFirst() : Substring(member)
            guard let bar = text.firstIndex(of: "|"), bar > text.startIndex else { return nil }
            op = String(text[..<bar])
            let rest = text[text.index(after: bar)...]
            host = rest.isEmpty ? nil : String(rest)
        }

        var member: String { (secondLook ? "+" : "") + op + "|" + (host ?? "") }
    }

    /// Takes up to `limit` wakes that are due (every replica calls it; each wake goes to one).
    func takeWakes(limit: Int) async throws -> [Wake] {
        let reply = try await redis.eval(Self.takeWakesScript, keys: [RedisKeys.wakeOperations], arguments: [String(clock.nowMs), String(limit)])
        return reply.array?.compactMap { $0.string.flatMap(Wake.init) } ?? []
    }

    /// Queues `wake` again `after` from now.
    func wakeAgain(_ wake: Wake, after: Duration) async throws {
        _ = try await redis.send("ZADD", RedisKeys.wakeOperations, "NX", String(clock.nowMs + after.wholeMilliseconds), wake.member)
    }

    /// A woken operation did not take `host`: wakes the host's next waiter if its lock is free.
    func passOn(host: String) async throws {
        _ = try await redis.eval(
            Self.passOnLockScript, keys: [RedisKeys.hostLocks, RedisKeys.wakeOperations],
            arguments: [String(clock.nowMs), RedisKeys.hostLockWaitersPrefix, host])
    }

    /// A woken operation took no slot of its type's budget: wakes the next waiter if it has room.
    func passOn(budgetOf operationType: OperationType) async throws {
        let type = operationType.rawValue
        _ = try await redis.eval(
            Self.passOnBudgetScript, keys: [RedisKeys.budgets, RedisKeys.inFlight(type), RedisKeys.budgetWaiters(type), RedisKeys.wakeOperations],
            arguments: [String(clock.nowMs), type])
    }

    /// Wakes every operation waiting for the type's budget (it was raised or removed).
    func wakeBudgetWaiters(_ operationType: OperationType) async throws {
        _ = try await redis.eval(
            Self.wakeAllScript, keys: [RedisKeys.budgetWaiters(operationType.rawValue), RedisKeys.wakeOperations], arguments: [String(clock.nowMs)])
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
            reaped += try await release(op: op, hosts: ended, operationType: nil).freed
        }
        // Leases past their end count for nothing already; removing them keeps the hash small (and
        // wakes the host's next waiter).
        _ = try await redis.eval(
            Self.expireScript, keys: [RedisKeys.hostLocks, RedisKeys.wakeOperations], arguments: [String(clock.nowMs), RedisKeys.hostLockWaitersPrefix])
        return reaped
    }

    /// KEYS: locks, budgets, in-flight of the type, budget waiters of the type. ARGV: op, type,
    /// exclusive (1/0), now ms, lease end ms, lock waiters' key prefix, hosts...
    /// Returns {admitted, locked, over budget}. A locked host's waiters (and, over budget, the
    /// type's) list `op` from now on, so the release that frees it wakes `op`.
    static let admitScript = RedisScript(
        """
        local op, otype, exclusive, now, untilMs, prefix = ARGV[1], ARGV[2], ARGV[3] == '1', tonumber(ARGV[4]), ARGV[5], ARGV[6]
        local max = tonumber(redis.call('HGET', KEYS[2], otype) or '-1')
        redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
        local inflight = redis.call('ZCARD', KEYS[3])
        local admitted, locked, over = {}, {}, {}
        for i = 7, #ARGV do
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
            local wk = prefix .. host
            redis.call('ZADD', wk, 'NX', now, op)
            if redis.call('PTTL', wk) < 0 then redis.call('PEXPIREAT', wk, untilMs) else redis.call('PEXPIREAT', wk, untilMs, 'GT') end
          elseif max >= 0 and not counted and inflight >= max then
            over[#over + 1] = host
          else
            if exclusive then
              redis.call('HSET', KEYS[1], host, op .. '|' .. untilMs)
              redis.call('ZREM', prefix .. host, op)
            end
            if not counted then inflight = inflight + 1 end
            redis.call('ZADD', KEYS[3], untilMs, member)
            admitted[#admitted + 1] = host
          end
        end
        if #over > 0 then redis.call('ZADD', KEYS[4], 'NX', now, op) end
        return {admitted, locked, over}
        """)

    /// KEYS: locks, in-flight of one type, budget waiters of the type, wakes. ARGV: op, now ms,
    /// lock waiters' key prefix, hosts... Frees only what `op` holds; for each host left without a
    /// live lock, wakes its oldest waiter (so a host that ends while waiting hands its turn on);
    /// for each slot freed, the type's oldest budget waiter. Answers {freed, woken}.
    static let releaseScript = RedisScript(
        """
        local op, nowText, prefix = ARGV[1], ARGV[2], ARGV[3]
        local now = tonumber(nowText)
        local freed, slots, woken = 0, 0, 0
        local pfx = op .. '|'
        for i = 4, #ARGV do
          local host = ARGV[i]
          local holder = redis.call('HGET', KEYS[1], host)
          local free = not holder
          if holder and string.sub(holder, 1, #pfx) == pfx and not string.find(string.sub(holder, #pfx + 1), '|', 1, true) then
            redis.call('HDEL', KEYS[1], host)
            freed = freed + 1
            free = true
          elseif holder and tonumber(string.match(holder, '|(%d+)$') or '0') <= now then
            free = true
          end
          local wk = prefix .. host
          redis.call('ZREM', wk, op)
          if free then
            local nxt = redis.call('ZPOPMIN', wk)
            if nxt[1] then
              redis.call('ZADD', KEYS[4], 'NX', nowText, nxt[1] .. '|' .. host)
              woken = woken + 1
            end
          end
          slots = slots + redis.call('ZREM', KEYS[2], pfx .. host)
        end
        if slots > 0 then
          local waiters = redis.call('ZPOPMIN', KEYS[3], slots)
          for j = 1, #waiters, 2 do
            redis.call('ZADD', KEYS[4], 'NX', nowText, waiters[j] .. '|')
            woken = woken + 1
          end
        end
        return {freed + slots, woken}
        """)

    /// KEYS: wakes. ARGV: now ms, limit. Takes (removes and answers) up to `limit` due wakes.
    static let takeWakesScript = RedisScript(
        """
        local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
        if #due > 0 then redis.call('ZREM', KEYS[1], unpack(due)) end
        return due
        """)

    /// KEYS: locks, wakes. ARGV: now ms, lock waiters' key prefix, host. Wakes the host's next
    /// waiter when it has no live lock.
    static let passOnLockScript = RedisScript(
        """
        local nowText, host = ARGV[1], ARGV[3]
        local holder = redis.call('HGET', KEYS[1], host)
        if holder and tonumber(string.match(holder, '|(%d+)$') or '0') > tonumber(nowText) then return 0 end
        local nxt = redis.call('ZPOPMIN', ARGV[2] .. host)
        if not nxt[1] then return 0 end
        redis.call('ZADD', KEYS[2], 'NX', nowText, nxt[1] .. '|' .. host)
        return 1
        """)

    /// KEYS: budgets, in-flight of the type, budget waiters of the type, wakes. ARGV: now ms, type.
    /// Wakes the type's next budget waiter when the budget has room.
    static let passOnBudgetScript = RedisScript(
        """
        local max = tonumber(redis.call('HGET', KEYS[1], ARGV[2]) or '-1')
        redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
        if max >= 0 and redis.call('ZCARD', KEYS[2]) >= max then return 0 end
        local nxt = redis.call('ZPOPMIN', KEYS[3])
        if not nxt[1] then return 0 end
        redis.call('ZADD', KEYS[4], 'NX', ARGV[1], nxt[1] .. '|')
        return 1
        """)

    /// KEYS: a type's budget waiters, wakes. ARGV: now ms. Wakes them all.
    static let wakeAllScript = RedisScript(
        """
        local waiters = redis.call('ZRANGE', KEYS[1], 0, -1)
        for _, op in ipairs(waiters) do redis.call('ZADD', KEYS[2], 'NX', ARGV[1], op .. '|') end
        redis.call('DEL', KEYS[1])
        return #waiters
        """)

    /// KEYS: locks, wakes. ARGV: now ms, lock waiters' key prefix. Deletes the locks whose lease
    /// has ended, waking each host's oldest waiter.
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
            if tonumber(hend or '0') <= now then
              redis.call('HDEL', KEYS[1], flat[i])
              local nxt = redis.call('ZPOPMIN', ARGV[2] .. flat[i])
              if nxt[1] then redis.call('ZADD', KEYS[2], 'NX', ARGV[1], nxt[1] .. '|' .. flat[i]) end
            end
          end
        until cursor == '0'
        return 0
        """)
}
