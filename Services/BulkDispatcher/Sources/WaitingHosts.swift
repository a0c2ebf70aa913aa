import FleetContracts
import FleetCore
import FleetRuntime
import FleetStore
import ServiceLifecycle

/// Sends the hosts that wait for a host lock or a concurrency budget once the gate admits them,
/// and reaps locks whose holder died between a host's end and its release.
///
/// A release wakes the operation that has waited longest for each host it frees (and one per
/// budget slot): every replica takes due wakes every `wakeInterval` and tries only those
/// operations, so a thousand operations queued on one host cost one try per release, not a
/// thousand per tick. A woken operation that takes nothing hands the wake on to the next waiter.
/// Every `sweepEvery` all waiting operations are tried as well: the backstop for a wake lost to a
/// crash, or for a lease that ran out without a release.
///
/// The waiting hash is the one source of truth (a host leaves it through
/// `BulkEngine.takeFromWaiting`, which exactly one caller wins), so replicas trying the same
/// operation never send a host twice. A waiting host keeps the delivery deadline its first dispatch
/// set: one that waits longer than its `delivery_timeout_seconds` fails `undeliverable`.
struct WaitingHosts: Service {
    let engine: BulkEngine
    /// How often due wakes are taken: how soon a host goes on after its lock is freed.
    let wakeInterval: Duration
    /// How often every waiting operation is tried again.
    let sweepEvery: Duration
    /// How often the locks are checked against their holders' hosts.
    let reapEvery: Duration
    /// Wakes taken per round trip.
    static let wakesPerTake = 200
    /// A woken operation whose waiting hash does not hold the host yet (its dispatcher is between
    /// the admission and writing the hash) looks once more after this.
    static let secondLookAfter = Duration.milliseconds(50)
    var context: ServiceContext { engine.context }

    init(
        engine: BulkEngine, wakeInterval: Duration = .milliseconds(20), sweepEvery: Duration = .seconds(5),
        reapEvery: Duration = .seconds(5)
    ) {
        self.engine = engine
        self.wakeInterval = wakeInterval
        self.sweepEvery = sweepEvery
        self.reapEvery = reapEvery
    }

    func run() async throws {
        var nextSweep = ContinuousClock.now + sweepEvery
        var nextReap = ContinuousClock.now + reapEvery
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            var busy = false
            do {
                busy = try await wakeDue() == Self.wakesPerTake
                if ContinuousClock.now >= nextSweep {
                    nextSweep = ContinuousClock.now + sweepEvery
                    try await sweep()
                }
                if ContinuousClock.now >= nextReap {
                    nextReap = ContinuousClock.now + reapEvery
                    let reaped = try await engine.gate.reap()
                    if reaped > 0 { context.logger.warning("freed host locks whose holders ended", metadata: ["locks": "\(reaped)"]) }
                }
            } catch { context.logger.warning("waiting hosts retry failed", metadata: ["error": "\(error)"]) }
            // A full take means more are due: no pause before the next.
            if !busy { try? await cancelWhenGracefulShutdown { try await Task.sleep(for: wakeInterval) } }
        }
    }

    /// Tries the operations of the wakes due now; answers how many wakes it took.
    @discardableResult
    func wakeDue() async throws -> Int {
        let wakes = try await engine.gate.takeWakes(limit: Self.wakesPerTake)
        guard !wakes.isEmpty else { return 0 }
        let byOp = Dictionary(grouping: wakes, by: \.op)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (op, opWakes) in byOp { group.addTask { try await woken(op, opWakes) } }
            try await group.waitForAll()
        }
        return wakes.count
    }

    /// One woken operation: tried, then each wake it did not use handed on (or, for a host not yet
    /// in its waiting hash, looked at once more shortly).
    private func woken(_ op: String, _ wakes: [DispatchGate.Wake]) async throws {
        let (waiting, sent, type) = try await retry(op)
        for wake in wakes {
            if let host = wake.host, sent.contains(host) { continue }
            if wake.host == nil, !sent.isEmpty { continue }
            // Not yet in the waiting hash (its dispatcher is between the admission and writing
            // the hash): once more shortly, before the turn is handed on.
            let notYetWaiting = wake.host.map { !waiting.contains($0) } ?? waiting.isEmpty
            if notYetWaiting, !wake.secondLook {
                try await engine.gate.wakeAgain(DispatchGate.Wake(op: op, host: wake.host, secondLook: true), after: Self.secondLookAfter)
                continue
            }
            if let host = wake.host {
                try await engine.gate.passOn(host: host)
            } else {
                // Gone (finished, expired) with no type known: every type's budget is looked at.
                for t in type.map({ [$0] }) ?? OperationType.allCases { try await engine.gate.passOn(budgetOf: t) }
            }
        }
    }

    /// One pass over every operation with waiting hosts (the backstop).
    func sweep() async throws {
        let ops = try await engine.redis.send("SMEMBERS", RedisKeys.waitingOperations).array?.compactMap(\.string) ?? []
        for op in ops.sorted() { _ = try await retry(op) }
    }

    /// Tries `op`'s waiting hosts (up to 1,000) through the gate. Answers the hosts found waiting,
    /// those it sent, and the operation's type (nil once its request is gone).
    func retry(_ op: String) async throws -> (waiting: Set<String>, sent: Set<String>, type: OperationType?) {
        let redis = engine.redis
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
            return ([], [], try await engine.requests.type(op))
        }
        let statuses = try await redis.send(RedisCommand(["HMGET", RedisKeys.bulkHosts(op)] + hosts)).array ?? []
        let queued = zip(hosts, statuses).filter { $0.1.string == HostStatus.queued.rawValue }.map(\.0)
        let gone = Set(hosts).subtracting(queued)
        if !gone.isEmpty { _ = try await redis.send(RedisCommand(["HDEL", RedisKeys.bulkWaiting(op)] + gone.sorted())) }
        // Without its request (expired) nothing can be sent: the delivery deadline ends them.
        guard !queued.isEmpty, let request = try await engine.requests.request(op) else { return (Set(queued), [], try await engine.requests.type(op)) }
        let sent = try await engine.admitAndPublish(op: op, hosts: queued, request: request, fromWaiting: true)
        return (Set(queued), Set(sent), request.operationType)
    }
}
