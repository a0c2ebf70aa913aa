import FleetContracts
import FleetCore
import FleetRuntime
import FleetStore
import ServiceLifecycle

/// Sends the hosts that wait for a host lock or a concurrency budget once the gate admits them,
/// and reaps locks whose holder died between a host's end and its release.
///
/// Every replica runs it; the waiting hash is the one source of truth (a host leaves it through
/// `BulkEngine.takeFromWaiting`, which exactly one caller wins), so replicas retrying the same
/// operation never send a host twice. A waiting host keeps the delivery deadline its first dispatch
/// set: one that waits longer than its `delivery_timeout_seconds` fails `undeliverable`.
struct WaitingHosts: Service {
    let engine: BulkEngine
    /// How often waiting hosts are tried again: how soon a host goes on after its lock is freed.
    let interval: Duration
    /// How often the locks are checked against their holders' hosts.
    let reapEvery: Duration
    var context: ServiceContext { engine.context }

    init(engine: BulkEngine, interval: Duration = .milliseconds(100), reapEvery: Duration = .seconds(5)) {
        self.engine = engine
        self.interval = interval
        self.reapEvery = reapEvery
    }

    func run() async throws {
        var nextReap = ContinuousClock.now + reapEvery
        await everyTick(interval) { _ in
            do {
                try await retry()
                if ContinuousClock.now >= nextReap {
                    nextReap = ContinuousClock.now + reapEvery
                    let reaped = try await engine.gate.reap()
                    if reaped > 0 { context.logger.warning("freed host locks whose holders ended", metadata: ["locks": "\(reaped)"]) }
                }
            } catch { context.logger.warning("waiting hosts retry failed", metadata: ["error": "\(error)"]) }
        }
    }

    /// One pass over every operation with waiting hosts.
    func retry() async throws {
        let redis = engine.redis
        let ops = try await redis.send("SMEMBERS", RedisKeys.waitingOperations).array?.compactMap(\.string) ?? []
        for op in ops.sorted() {
            let page = try await redis.send("HSCAN", RedisKeys.bulkWaiting(op), "0", "COUNT", "1000").array ?? []
            let flat = page.count == 2 ? page[1].array?.compactMap(\.string) ?? [] : []
            let hosts = stride(from: 0, to: flat.count - 1, by: 2).map { flat[$0] }
            guard !hosts.isEmpty else {
                // Off the set, then looked at again: a dispatcher adding hosts writes them before
                // the set, so one that did so in between is seen here and put back.
                _ = try await redis.send("SREM", RedisKeys.waitingOperations, op)
                if try await redis.send("HLEN", RedisKeys.bulkWaiting(op)).int ?? 0 > 0 {
                    _ = try await redis.send("SADD", RedisKeys.waitingOperations, op)
                }
                continue
            }
            let statuses = try await redis.send(RedisCommand(["HMGET", RedisKeys.bulkHosts(op)] + hosts)).array ?? []
            let queued = zip(hosts, statuses).filter { $0.1.string == HostStatus.queued.rawValue }.map(\.0)
            let gone = Set(hosts).subtracting(queued)
            if !gone.isEmpty { _ = try await redis.send(RedisCommand(["HDEL", RedisKeys.bulkWaiting(op)] + gone.sorted())) }
            guard !queued.isEmpty else { continue }
            // Without its request (expired) nothing can be sent: the delivery deadline ends them.
            guard let request = try await engine.requests.request(op) else { continue }
            try await engine.admitAndPublish(op: op, hosts: queued, request: request, fromWaiting: true)
        }
    }
}
