import FleetContracts
import FleetCore
import FleetObservability
import FleetStore
import Foundation
import Logging
import ServiceLifecycle

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Completion webhooks of one service's records (`fleet:webhooks:<service>`, the service its only
/// writer): a finished operation, rollout or schedule run is queued here with its final progress,
/// and `WebhookSender` POSTs it. An attempt takes a lease on its entry (a script moves the entry's
/// score to the lease's end, so of two replicas one sends it, and a sender that dies mid-attempt
/// leaves it to be sent again when the lease ends: at least once); a failed attempt (anything but
/// 2xx, no answer in 10 s) is tried again after 1, 2, 4, 8 s, then given up and logged. The POST
/// carries no caller's token or cookie, follows no redirect, and reads no answer body.
public struct Webhooks: Sendable {
    let redis: RedisClient
    let clock: WallClock
    let key: String

    public static let maxAttempts = 5
    static let leaseMs: Int64 = 30_000

    public init(context: ServiceContext, service: ServiceName) {
        redis = context.redis
        clock = context.clock
        key = RedisKeys.webhooks(service.rawValue)
    }

    /// Queues a POST of `body` to `notify.url`, due now.
    public func enqueue(_ notify: Notify, body: JSONValue) async throws {
        let entry: JSONValue = ["id": .string(RequestID.make()), "url": .string(notify.url), "body": body, "attempt": 0]
        _ = try await redis.send("ZADD", key, String(clock.nowMs), String(decoding: JSONCoding.encode(entry), as: UTF8.self))
    }

    /// Takes the lease of `member` if it is still due at `score` (false: another sender has it).
    func lease(_ member: String, score: String) async throws -> Bool {
        try await redis.eval(Self.leaseScript, keys: [key], arguments: [member, score, String(clock.nowMs + Self.leaseMs)]).int == 1
    }

    /// After an attempt: gone on success or after the last attempt; else due again after its backoff.
    func settle(_ member: String, entry: [String: JSONValue], delivered: Bool) async throws {
        let attempt = Int(entry["attempt"]?.intValue ?? 0) + 1
        guard !delivered, attempt < Self.maxAttempts else {
            _ = try await redis.send("ZREM", key, member)
            return
        }
        var next = entry
        next["attempt"] = .int(Int64(attempt))
        let due = clock.nowMs + (Int64(1) << Int64(attempt - 1)) * 1000
        _ = try await redis.eval(
            Self.retryScript, keys: [key], arguments: [member, String(decoding: JSONCoding.encode(.object(next)), as: UTF8.self), String(due)])
    }

    /// KEYS: the set. ARGV: member, the score it was read at, the lease's end.
    static let leaseScript = RedisScript(
        """
        if redis.call('ZSCORE', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
        redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
        return 1
        """)

    /// KEYS: the set. ARGV: the old member, the new member, when it is due.
    static let retryScript = RedisScript(
        """
        if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2]) end
        return 0
        """)
}

/// POSTs the webhooks that are due, a few at a time, every 500 ms.
public struct WebhookSender: Service {
    let webhooks: Webhooks
    let logger: Logger
    let allowedHosts: Set<String>?

    public init(_ webhooks: Webhooks, context: ServiceContext) {
        self.webhooks = webhooks
        logger = context.logger
        allowedHosts = context.config.webhookHosts
    }

    public func run() async throws {
        await everyTick(.milliseconds(500)) { _ in
            do { try await sendDue() } catch { logger.warning("webhooks not sent", metadata: ["error": "\(error)"]) }
        }
    }

    func sendDue() async throws {
        let now = String(webhooks.clock.nowMs)
        let due = try await webhooks.redis.send("ZRANGEBYSCORE", webhooks.key, "-inf", now, "WITHSCORES", "LIMIT", "0", "20").array ?? []
        for i in stride(from: 0, to: due.count - 1, by: 2) {
            guard let member = due[i].string, let score = due[i + 1].string else { continue }
            guard case .object(let entry)? = JSONCoding.decode(Array(member.utf8)), let url = entry["url"]?.stringValue else {
                _ = try await webhooks.redis.send("ZREM", webhooks.key, member)
                continue
            }
            guard try await webhooks.lease(member, score: score) else { continue }
            let delivered = await post(url, body: entry["body"] ?? .null)
            let attempt = Int(entry["attempt"]?.intValue ?? 0) + 1
            FleetMetrics.count("fleet_webhook_attempts_total", [("outcome", delivered ? "delivered" : "failed")])
            if !delivered {
                if attempt >= Webhooks.maxAttempts {
                    logger.warning("webhook given up", metadata: ["url": "\(url)", "attempts": "\(attempt)"])
                }
            }
            try await webhooks.settle(member, entry: entry, delivered: delivered)
        }
    }

    /// One POST: true for a 2xx answer.
    func post(_ url: String, body: JSONValue) async -> Bool {
        guard Notify(url: url).isAllowed(by: allowedHosts), let target = URL(string: url) else { return false }
        var request = URLRequest(url: target, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: 10)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue("fleet-engine/\(FleetVersion.current)", forHTTPHeaderField: "User-Agent")
        request.httpBody = Data(JSONCoding.encode(body))
        if case .status(let code) = await HTTPProbe.status(of: request, timeoutSeconds: 10), (200..<300).contains(code) { return true }
        return false
    }
}
