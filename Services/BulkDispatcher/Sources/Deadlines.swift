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

    func expectClaims(op: String, hosts: [String], within: Duration) async throws {
        try await add(op: op, hosts: hosts, kind: .delivery, within: within + Self.grace)
    }

    func expectResults(op: String, hosts: [String], within: Duration) async throws {
        try await add(op: op, hosts: hosts, kind: .run, within: within + Self.grace)
    }

    /// Of `hosts`, those without a `kind` deadline (one pipelined round trip).
    func missing(_ kind: Kind, op: String, hosts: [String]) async throws -> [String] {
        guard !hosts.isEmpty else { return [] }
        let scores = try await redis.pipeline(hosts.map { RedisCommand(["ZSCORE", RedisKeys.bulkDeadlines, Self.member(op, $0, kind)]) })
        return zip(hosts, scores).filter { $0.1.isNull }.map(\.0)
    }

    /// The sorted set's member for one host's deadline: `<op>|<host>|<kind>`.
    static func member(_ op: String, _ host: String, _ kind: Kind) -> String { "\(op)|\(host)|\(kind.rawValue)" }

    private func add(op: String, hosts: [String], kind: Kind, within: Duration) async throws {
        let due = String(clock.nowMs + within.wholeMilliseconds)
        try await redis.pipelineChecked(RedisCommand.chunked(["ZADD", RedisKeys.bulkDeadlines], hosts) { [due, Self.member(op, $0, kind)] })
    }
}

/// Fails what is overdue: a running host with no result becomes `timed_out`, a queued host never
/// claimed becomes `undeliverable` (the backstop for commands that could not be published).
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
        await everyTick(interval) { _ in
            do { try await sweep() } catch { context.logger.warning("deadline sweep failed", metadata: ["error": "\(error)"]) }
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
