import FleetBus
import FleetContracts
import FleetCore
import FleetMessaging
import FleetRuntime
import FleetStore
import Foundation
import Logging
import ServiceLifecycle

/// The audit trail `fleet:audit`, a Redis stream whose one writer is the gateway: the services
/// publish an `AuditRecord` for every mutating command they answer onto `fleet.events`
/// (`audit.<route>`, into the quorum queue `fleet.audit`), and every gateway replica appends what
/// it consumes, plus the requests it refused itself before the bus. Entries older than the
/// retention (`FLEET_AUDIT_RETENTION_DAYS`) are trimmed by each append.
public struct AuditLog: Sendable {
    let redis: RedisClient
    let retentionMs: Int64
    let clock: WallClock
    /// `fleet:audit`; another key only in tests.
    let key: String

    public init(redis: RedisClient, retentionDays: Int, clock: WallClock = .system, key: String = RedisKeys.audit) {
        self.redis = redis
        retentionMs = Int64(retentionDays) * 86_400_000
        self.clock = clock
        self.key = key
    }

    /// The stream's fields for `record`, after the trim that drops what is past the retention.
    func command(_ record: AuditRecord) -> RedisCommand {
        var args = ["XADD", key, "MINID", String(max(0, clock.nowMs - retentionMs)), "*"]
        args += ["at", record.at, "actor", record.actor, "action", record.action, "status", String(record.status)]
        if let target = record.target { args += ["target", target] }
        if let error = record.error { args += ["error", error] }
        if let requestID = record.requestID { args += ["request_id", requestID] }
        return RedisCommand(args)
    }

    public func append(_ records: [AuditRecord]) async throws {
        guard !records.isEmpty else { return }
        try await redis.pipelineChecked(records.map(command))
    }

    /// What a page is filtered by: each given one must hold.
    public struct Filter: Sendable {
        public var actor: String?
        public var action: String?
        public var target: String?
        /// Only entries at or after this instant (ms).
        public var sinceMs: Int64?

        public init(actor: String? = nil, action: String? = nil, target: String? = nil, sinceMs: Int64? = nil) {
            self.actor = actor
            self.action = action
            self.target = target
            self.sinceMs = sinceMs
        }

        /// `actor` matches a token's id or name, or a broker user; `action` a route exactly or
        /// a prefix ending in `.` (`bulk.`); `target` exactly.
        func matches(_ fields: [String: String]) -> Bool {
            if let actor {
                let (_, id, name) = AuditActor.parts(fields["actor"] ?? "")
                guard id == actor || name == actor || fields["actor"] == actor else { return false }
            }
            if let action, !(fields["action"] == action || (action.hasSuffix(".") && fields["action"]?.hasPrefix(action) == true)) { return false }
            if let target, fields["target"] != target { return false }
            return true
        }
    }

    /// Newest first, after `cursor` (an entry id the page before ended on): at most `limit`
    /// entries, reading at most `scan` entries of the stream per page, so a filter that matches
    /// little costs bounded work; `next_cursor` says where to go on (nil at the end).
    public func page(_ filter: Filter, cursor: String?, limit: Int, scan: Int = 5_000) async throws -> (entries: [JSONValue], next: String?) {
        var entries: [JSONValue] = []
        // Nothing comes before the first possible id (and `(0-0` is no range Redis takes).
        if cursor == "0-0" { return ([], nil) }
        var end = cursor.map { "(" + $0 } ?? "+"
        let start = filter.sinceMs.map { "\($0)-0" } ?? "-"
        var scanned = 0
        while entries.count < limit, scanned < scan {
            let chunk = min(500, scan - scanned)
            let reply = try await redis.send(RedisCommand(["XREVRANGE", key, end, start, "COUNT", String(chunk)])).array ?? []
            for item in reply {
                guard let pair = item.array, pair.count == 2, let id = pair[0].string, let flat = pair[1].array?.compactMap(\.string) else { continue }
                end = "(" + id
                scanned += 1
                var fields: [String: String] = [:]
                for i in stride(from: 0, to: flat.count - 1, by: 2) { fields[flat[i]] = flat[i + 1] }
                guard filter.matches(fields) else { continue }
                entries.append(Self.entry(id: id, fields))
                if entries.count == limit { return (entries, id) }
            }
            if reply.count < chunk { return (entries, nil) }
        }
        return (entries, end == "+" ? nil : String(end.dropFirst()))
    }

    /// The entry as the API shows it.
    static func entry(id: String, _ f: [String: String]) -> JSONValue {
        let (kind, actorID, name) = AuditActor.parts(f["actor"] ?? "")
        var actor: [String: JSONValue] = ["kind": .string(kind)]
        if kind == "token" {
            actor["token_id"] = .string(actorID)
            actor["name"] = .string(name ?? "")
        } else {
            actor["user"] = .string(actorID)
        }
        return [
            "id": .string(id), "at": .string(f["at"] ?? ""), "actor": .object(actor), "action": .string(f["action"] ?? ""),
            "target": f["target"].map { .string($0) } ?? .null,
            "outcome": ["status": .int(Int64(f["status"] ?? "") ?? 0), "error": f["error"].map { .string($0) } ?? .null],
            "request_id": f["request_id"].map { .string($0) } ?? .null,
        ]
    }
}

/// Consumes `fleet.audit` and appends each record to the stream (acked once appended; Redis away:
/// delivered again later, not lost).
public struct AuditWriter: Service {
    let log: AuditLog
    let connection: AMQPConnection
    let logger: Logger

    public init(log: AuditLog, connection: AMQPConnection, logger: Logger) {
        self.log = log
        self.connection = connection
        self.logger = logger
    }

    public func run() async throws {
        try await connection.declare(.audit)
        let deliveries = try await connection.consume(queue: BusNames.auditQueue, prefetch: 200)
        let router = RequestRouter(
            handlers: [:],
            fallback: { delivery in
                let record: AuditRecord
                do { record = try delivery.decode(AuditRecord.self) } catch { return .deadLetter(reason: "not an audit record: \(error)") }
                do {
                    try await log.append([record])
                    return .done
                } catch { return .unavailable(reason: "\(error)") }
            }, logger: logger)
        await withGracefulShutdownHandler {
            await router.serve(deliveries, replies: connection)
        } onGracefulShutdown: {
            deliveries.cancel()
        }
    }
}
