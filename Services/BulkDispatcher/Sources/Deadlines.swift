import FleetBus
import FleetContracts
import FleetCore
import FleetRuntime
import FleetStore
import Foundation
import Logging
import ServiceLifecycle

/// When each host must have been claimed and must have reported, in one sorted set scored by the
/// due time, so a restarted dispatcher (or any replica) still enforces them.
struct Deadlines: Sendable {
    let redis: RedisClient
    /// Time allowed for a result to travel after the run's own timeout (`FLEET_RESULT_GRACE_MS`).
    static let grace: Duration = .milliseconds(ProcessInfo.processInfo.environment["FLEET_RESULT_GRACE_MS"].flatMap(Int.init) ?? 5_000)

    enum Kind: String { case run, delivery }

    func expectClaims(op: String, hosts: [String], within: Duration) async throws {
        try await add(op: op, hosts: hosts, kind: .delivery, within: within + Self.grace)
    }

    func expectResults(op: String, hosts: [String], within: Duration) async throws {
        try await add(op: op, hosts: hosts, kind: .run, within: within + Self.grace)
    }

    private func add(op: String, hosts: [String], kind: Kind, within: Duration) async throws {
        let due = String(Int(Date().timeIntervalSince1970 * 1000) + Int(within.components.seconds * 1000) + Int(within.components.attoseconds / 1_000_000_000_000_000))
        var commands: [RedisCommand] = []
        for start in stride(from: 0, to: hosts.count, by: 1000) {
            var args = ["ZADD", RedisKeys.bulkDeadlines]
            for h in hosts[start..<min(start + 1000, hosts.count)] { args += [due, "\(op)|\(h)|\(kind.rawValue)"] }
            commands.append(RedisCommand(args))
        }
        for reply in try await redis.pipeline(commands) { if case .error(let e) = reply { throw RedisError(.reply, e) } }
    }
}

/// Fails what is overdue: a running host with no result becomes `timed_out`, a queued host never
/// claimed becomes `undeliverable` (the backstop for commands that could not be published).
/// Moves only apply from the expected status, so a late sweep, or two replicas sweeping, are harmless.
public struct DeadlineSweeper: Service {
    let engine: BulkEngine
    let interval: Duration
    var context: ServiceContext { engine.context }

    public init(context: ServiceContext, interval: Duration = .milliseconds(500)) {
        engine = BulkEngine(context: context)
        self.interval = interval
    }

    public func run() async throws {
        await everyTick(interval) { _ in
            do { try await sweep() } catch { context.logger.warning("deadline sweep failed", metadata: ["error": "\(error)"]) }
        }
    }

    func sweep() async throws {
        let now = String(Int(Date().timeIntervalSince1970 * 1000))
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
