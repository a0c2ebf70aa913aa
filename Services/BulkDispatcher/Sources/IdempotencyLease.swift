import FleetContracts
import FleetStore

/// The Idempotency-Key (`message_id`) of a create, held as a lease while the operation is written.
///
/// A create takes the key for a short lease naming its new operation id, and makes it a day's key
/// only when it writes the operation's record, and only if the lease is still its own. So:
/// - a dispatcher that dies before the record leaves a lease that runs out: the redelivered
///   command (or the client's retry) answers 409 `idempotency_in_progress` until then, and then
///   creates the operation (the half-written one is finished by the reconciler; no host of it
///   was ever sent, since hosts go out only after the record);
/// - a create that outlived its lease (another has taken the key since) writes no record: at most
///   one operation per key ever gets one;
/// - a create that failed before its record gives the key back; one that failed after it keeps it,
///   so a retry answers the operation that exists (the reconciler sends its hosts) instead of
///   creating a second;
/// - a key kept for an operation whose record never appeared (its write failed right after the
///   key was kept) is taken over by a create a lease's time later.
/// So no key blocks a create for longer than a lease, and none names two recorded operations.
struct IdempotencyLease: Sendable {
    let redis: RedisClient
    /// Longer than a create takes: the resolve's budget and the writes, well inside the callers'
    /// own timeout.
    let leaseSeconds: Int
    static let keptSeconds = 86_400

    enum Taken: Equatable {
        /// The key is this create's, for the lease.
        case ours
        /// Another create holds it (or held it and wrote its record): that operation's id.
        case heldBy(String)
    }

    func take(_ key: String, for op: String) async throws -> Taken {
        let set = try await redis.send(RedisCommand(["SET", RedisKeys.bulkIdempotency(key), op, "NX", "EX", String(leaseSeconds)]))
        guard set.isNull else { return .ours }
        guard let holder = try await redis.send("GET", RedisKeys.bulkIdempotency(key)).string else {
            return try await take(key, for: op)  // its lease ran out between the two calls
        }
        return .heldBy(holder)
    }

    /// Makes the key a day's, if the lease is still `op`'s. False: the lease ran out and another
    /// create may hold the key now; this one must not write its record.
    func keep(_ key: String, for op: String) async throws -> Bool {
        try await redis.eval(Self.keepScript, keys: [RedisKeys.bulkIdempotency(key)], arguments: [op, String(Self.keptSeconds)]).int == 1
    }

    /// Takes the key from `holder`, whose operation has no record, once that can no longer change:
    /// not while it is a lease (its create may still be writing), nor within a lease of its being
    /// kept (its record write may be in flight). True if the key is `op`'s lease now.
    func takeOver(_ key: String, from holder: String, for op: String) async throws -> Bool {
        try await redis.eval(
            Self.takeOverScript, keys: [RedisKeys.bulkIdempotency(key)],
            arguments: [holder, op, String(leaseSeconds), String(Self.keptSeconds)]
        ).int == 1
    }

    /// Gives the key back, if it is still `op`'s (a failed create holds no key).
    func giveBack(_ key: String, for op: String) async throws {
        _ = try await redis.eval(Self.giveBackScript, keys: [RedisKeys.bulkIdempotency(key)], arguments: [op])
    }

    static let keepScript = RedisScript(
        """
        if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
        redis.call('EXPIRE', KEYS[1], ARGV[2])
        return 1
        """)

    static let takeOverScript = RedisScript(
        """
        if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
        local ttl = redis.call('TTL', KEYS[1])
        local lease, kept = tonumber(ARGV[3]), tonumber(ARGV[4])
        if ttl <= lease or ttl > kept - lease then return 0 end
        redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
        return 1
        """)

    static let giveBackScript = RedisScript(
        """
        if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
        return 1
        """)
}
