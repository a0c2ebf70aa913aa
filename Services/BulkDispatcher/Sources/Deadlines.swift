import FleetBus
import FleetContracts
import FleetCore
import FleetMessaging
import FleetRuntime
import FleetStore
import Foundation
import Logging
import ServiceLifecycle

/// When each host must have been claimed and must have reported, in one sorted set scored by the
/// due time, so a restarted dispatcher (or any replica) still enforces them.
struct Deadlines: Sendable {
    let redis: RedisClient
    let clock: WallClock
    /// Time allowed for a result to travel after the run's own timeout (`FLEET_RESULT_GRACE_MS`).
    static let grace: Duration = .milliseconds(ProcessInfo.processInfo.environment["FLEET_RESULT_GRACE_MS"].flatMap(Int.init) ?? 5_000)

    enum Kind: String { case run, delivery }

    /// The writes of hosts' delivery deadlines, for a caller to send in one pipeline with its own.
    func claimDeadlines(op: String, hosts: [String], within: Duration) -> [RedisCommand] {
        commands(op: op, hosts: hosts, kind: .delivery, within: within + Self.grace)
    }

    /// A host runs once per operation, so its run deadline is set once (`NX`): an agent claiming
    /// its host again (a lost reply, or a hostile agent) cannot push its own deadline on.
    func expectResults(op: String, hosts: [String], within: Duration) async throws {
        try await add(op: op, hosts: hosts, kind: .run, within: within + Self.grace, onlyNew: true)
    }

    /// Of `hosts`, those without a `kind` deadline (one pipelined round trip).
    func missing(_ kind: Kind, op: String, hosts: [String]) async throws -> [String] {
        guard !hosts.isEmpty else { return [] }
        let scores = try await redis.pipeline(hosts.map { RedisCommand(["ZSCORE", RedisKeys.bulkDeadlines, Self.member(op, $0, kind)]) })
        return zip(hosts, scores).filter { $0.1.isNull }.map(\.0)
    }

    /// Starts (or starts again) the lease of `hosts`, running for an agent that renews its claim.
    func lease(op: String, hosts: [String], for lease: Duration) async throws {
        guard !hosts.isEmpty else { return }
        let due = String(clock.nowMs + lease.wholeMilliseconds)
        try await redis.pipelineChecked(RedisCommand.chunked(["ZADD", RedisKeys.bulkLeases], hosts) { [due, "\(op)|\($0)"] })
    }

    /// The sorted set's member for one host's deadline: `<op>|<host>|<kind>`.
    static func member(_ op: String, _ host: String, _ kind: Kind) -> String { "\(op)|\(host)|\(kind.rawValue)" }

    private func add(op: String, hosts: [String], kind: Kind, within: Duration, onlyNew: Bool = false) async throws {
        try await redis.pipelineChecked(commands(op: op, hosts: hosts, kind: kind, within: within, onlyNew: onlyNew))
    }

    private func commands(op: String, hosts: [String], kind: Kind, within: Duration, onlyNew: Bool = false) -> [RedisCommand] {
        let due = String(clock.nowMs + within.wholeMilliseconds)
        let head = onlyNew ? ["ZADD", RedisKeys.bulkDeadlines, "NX"] : ["ZADD", RedisKeys.bulkDeadlines]
        return RedisCommand.chunked(head, hosts) { [due, Self.member(op, $0, kind)] }
    }
}

/// Fails what is overdue: a running host with no result becomes `timed_out`, a queued host never
/// claimed becomes `undeliverable` (the backstop for commands that could not be published), a
/// running host whose agent stopped renewing its lease becomes `lost`.
/// Moves only apply from the expected status, so a late sweep, or two replicas sweeping, are harmless.
public struct DeadlineSweeper: Service {
    let engine: BulkEngine
    let interval: Duration
    var context: ServiceContext { engine.context }

    init(engine: BulkEngine, interval: Duration = .milliseconds(500)) {
        self.engine = engine
        self.interval = interval
    }

    public func run() async throws {
        // Leases are judged only once this dispatcher has been up, and on the broker, for a whole
        // lease: while no dispatcher ran, or the broker was away (a restart, a stall), no agent
        // could renew, and a lease that ran out then says nothing about its agent.
        let lease = context.config.agentLease
        var judgeLeasesFrom = ContinuousClock.now + lease
        var generation = context.consumer.generation
        await everyTick(interval) { _ in
            if !context.consumer.isConnected || context.consumer.generation != generation {
                generation = context.consumer.generation
                judgeLeasesFrom = ContinuousClock.now + lease
            }
            do {
                try await sweep()
                if ContinuousClock.now >= judgeLeasesFrom { try await sweepLeases() }
            } catch { context.logger.warning("deadline sweep failed", metadata: ["error": "\(error)"]) }
        }
    }

    func sweepLeases() async throws {
        let now = String(context.clock.nowMs)
        let due = try await context.redis.send("ZRANGEBYSCORE", RedisKeys.bulkLeases, "-inf", now, "LIMIT", "0", "500").array?.compactMap(\.string) ?? []
        for member in due {
            let parts = member.split(separator: "|").map(String.init)
            if parts.count == 2 {
                let outcome = try await engine.store.move(operation: parts[0], hosts: [parts[1]], to: .failed, reason: .lost)
                if outcome.applied > 0 {
                    context.logger.warning("agent lease ran out; host lost", metadata: ["op.id": "\(parts[0])", "host.id": "\(parts[1])"])
                }
                try await engine.hostsEnded(op: parts[0], to: .failed, reason: .lost, outcome)
            }
            _ = try await context.redis.send("ZREM", RedisKeys.bulkLeases, member)
        }
    }

    func sweep() async throws {
        let now = String(context.clock.nowMs)
        let due = try await context.redis.send("ZRANGEBYSCORE", RedisKeys.bulkDeadlines, "-inf", now, "LIMIT", "0", "500").array?.compactMap(\.string) ?? []
        for member in due {
            let parts = member.split(separator: "|").map(String.init)
            guard parts.count == 3 else { continue }
            let (op, host) = (parts[0], parts[1])
            let reason: HostReason = parts[2] == Deadlines.Kind.run.rawValue ? .timedOut : .undeliverable
            let outcome = try await engine.store.move(operation: op, hosts: [host], to: .failed, reason: reason)
            try await engine.hostsEnded(op: op, to: .failed, reason: reason, outcome)
            _ = try await context.redis.send("ZREM", RedisKeys.bulkDeadlines, member)
        }
    }
}
