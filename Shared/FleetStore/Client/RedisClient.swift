import CoreMetrics
import Dispatch
import Foundation
import Synchronization

/// A small pool of hiredis connections, each owned by its own OS thread, reached from async code.
///
/// Callers queue commands; a pool thread takes everything queued (up to `maxPipeline` commands),
/// sends it in one pipelined round trip and hands each caller its replies. So concurrent callers
/// share round trips without asking for it, and no C call ever runs on Swift's cooperative pool.
/// A connection that fails is discarded and the next job opens a new one: a Redis restart costs
/// the commands in flight (reported as retriable errors), not the client.
public final class RedisClient: Sendable {
    private typealias Waiter = CheckedContinuation<Result<[RedisValue], RedisError>, Never>
    private struct Job {
        let commands: [RedisCommand]
        let waiter: Waiter
    }
    private struct Queue {
        var jobs: [Job] = []
        var closed = false
    }

    public let config: RedisConfig
    private let queue = Mutex(Queue())
    private let wakeups = DispatchSemaphore(value: 0)
    private let scriptSHAs = Mutex<[String: String]>([:])
    /// For a Redis Cluster: routes every command to its slot's node, each a pool of its own.
    private let router: RedisClusterRouter?

    private init(config: RedisConfig) {
        self.config = config
        self.router = config.clusterSeeds.map { RedisClusterRouter(config: config, seeds: $0) }
    }

    /// Starts the pool (for a cluster: reads its slot map) and checks that Redis answers (a wrong
    /// URL or password fails here).
    public static func connect(_ config: RedisConfig) async throws(RedisError) -> RedisClient {
        let client = config.clusterSeeds == nil ? started(config) : RedisClient(config: config)
        do throws(RedisError) {
            try await client.router?.refresh()
            _ = try await client.send("PING")
        } catch {
            client.close()
            throw error
        }
        return client
    }

    /// One node's pool, its threads running, not yet asked anything (a cluster node's, made when
    /// the map first names it).
    static func started(_ config: RedisConfig) -> RedisClient {
        let client = RedisClient(config: config)
        for i in 0..<config.poolSize {
            let thread = Thread { [client] in client.workerLoop() }
            thread.name = "redis-\(i)"
            thread.start()
        }
        return client
    }

    public static func connect(url: String, poolSize: Int = 2) async throws(RedisError) -> RedisClient {
        try await connect(RedisConfig(url: url, poolSize: poolSize))
    }

    // MARK: - Commands

    /// Runs one command; an error reply is thrown as `.reply`.
    public func send(_ command: RedisCommand) async throws(RedisError) -> RedisValue {
        let reply = try await pipeline([command])[0]
        if case .error(let message) = reply { throw RedisError(.reply, message) }
        return reply
    }

    public func send(_ name: String, _ arguments: String...) async throws(RedisError) -> RedisValue {
        try await send(RedisCommand([name] + arguments))
    }

    /// Runs the commands in order in one round trip. Error replies come back in place as `.error`;
    /// only a broken connection throws (and then whether any of them ran is unknown).
    public func pipeline(_ commands: [RedisCommand]) async throws(RedisError) -> [RedisValue] {
        guard !commands.isEmpty else { return [] }
        if let router { return try await router.pipeline(commands) }
        let result = await withCheckedContinuation { (waiter: Waiter) in
            let accepted = queue.withLock { q -> Bool in
                guard !q.closed else { return false }
                q.jobs.append(Job(commands: commands, waiter: waiter))
                return true
            }
            if accepted { wakeups.signal() } else { waiter.resume(returning: .failure(RedisError(.closed, "client closed"))) }
        }
        return try result.get()
    }

    /// Runs a Lua script with EVALSHA; a node that does not know it (after a restart, a SCRIPT
    /// FLUSH, a failover to a replica, which keeps no script cache) runs it from its source with
    /// EVAL, which also teaches it the script. Keys must share a hash slot for Redis Cluster.
    public func eval(_ script: RedisScript, keys: [String], arguments: [String]) async throws(RedisError) -> RedisValue {
        let sha = try await scriptSHA(script)
        do throws(RedisError) {
            return try await send(RedisCommand(["EVALSHA", sha, String(keys.count)] + keys + arguments))
        } catch  where error.kind == .reply && error.message.hasPrefix("NOSCRIPT") {
            return try await send(RedisCommand(["EVAL", script.source, String(keys.count)] + keys + arguments))
        }
    }

    /// Every key matching `pattern` (SCAN, on every primary of a cluster): for a start or a
    /// repair, never a request's path.
    public func keys(matching pattern: String) async throws(RedisError) -> [String] {
        if let router { return try await router.keys(matching: pattern) }
        var found: [String] = []
        var cursor = "0"
        repeat {
            let reply = try await send("SCAN", cursor, "MATCH", pattern, "COUNT", "1000").array ?? []
            guard reply.count == 2, let next = reply[0].string else { break }
            cursor = next
            found += reply[1].array?.compactMap(\.string) ?? []
        } while cursor != "0"
        return found
    }

    private func scriptSHA(_ script: RedisScript) async throws(RedisError) -> String {
        if let sha = scriptSHAs.withLock({ $0[script.source] }) { return sha }
        guard let sha = try await send("SCRIPT", "LOAD", script.source).string else {
            throw RedisError(.reply, "SCRIPT LOAD returned no SHA")
        }
        scriptSHAs.withLock { $0[script.source] = sha }
        return sha
    }

    /// Stops the pool threads; queued commands fail with `.closed`.
    public func close() {
        router?.close()
        let orphans = queue.withLock { q -> [Job] in
            q.closed = true
            defer { q.jobs.removeAll() }
            return q.jobs
        }
        for job in orphans { job.waiter.resume(returning: .failure(RedisError(.closed, "client closed"))) }
        for _ in 0..<config.poolSize { wakeups.signal() }
    }

    // MARK: - Pool threads

    private func workerLoop() {
        let connection = HiredisConnection()
        while true {
            wakeups.wait()
            let (batch, closed) = takeBatch()
            if batch.isEmpty {
                if closed { break } else { continue }
            }
            run(batch, on: connection)
        }
        connection.close()
    }

    /// Takes queued jobs up to `maxPipeline` commands (always at least one job).
    private func takeBatch() -> ([Job], Bool) {
        queue.withLock { q in
            var count = 0
            var taken = 0
            while taken < q.jobs.count, taken == 0 || count + q.jobs[taken].commands.count <= config.maxPipeline {
                count += q.jobs[taken].commands.count
                taken += 1
            }
            let batch = Array(q.jobs.prefix(taken))
            q.jobs.removeFirst(taken)
            return (batch, q.closed)
        }
    }

    private func run(_ batch: [Job], on connection: HiredisConnection) {
        do throws(RedisError) {
            if !connection.isOpen {
                let reopening = connection.everOpened
                try connection.open(config)
                if reopening { Counter(label: "fleet_redis_reconnects_total").increment() }
            }
            let replies = try connection.pipeline(batch.flatMap(\.commands))
            var offset = 0
            for job in batch {
                job.waiter.resume(returning: .success(Array(replies[offset..<offset + job.commands.count])))
                offset += job.commands.count
            }
        } catch {
            for job in batch { job.waiter.resume(returning: .failure(error)) }
        }
    }
}
