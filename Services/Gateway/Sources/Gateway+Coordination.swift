import FleetContracts
import FleetCore
import FleetMessaging
import Foundation
import Hummingbird
import Logging
import Synchronization

/// Whether a request's handler sent a bus command (whose service then records it in the audit
/// trail), so the gateway records only what it answered itself.
final class Forwarded: Sendable {
    @TaskLocal static var current: Forwarded?
    private let flag = Mutex(false)
    var value: Bool { flag.withLock { $0 } }
    func mark() { flag.withLock { $0 = true } }
}

/// Fleet-wide coordination over HTTP: concurrency budgets (`/budgets`, served by the dispatcher)
/// and maintenance windows (`/windows`, served by the scheduler).
extension Gateway {
    func coordinationRoutes(_ router: Router<Context>) {
        route(router, .get, "budgets", .read, nil) { _, _ in await forward(Route.budgetsList, [:]) }
        route(router, .put, "budgets/:type", .admin, nil) { r, c in
            guard case .object(var o) = try await body(r) else { throw Refusal.badRequest("the body is a JSON object with max_in_flight") }
            let type = try operationType(c)
            if let given = o["operation_type"], given != .null, given != type {
                return JSONResponse.from(.validation(ValidationError("operation_type", .invalidValue, "the body's operation_type differs from the path's")))
            }
            o["operation_type"] = type
            return await forward(Route.budgetsSet, .object(o))
        }
        route(router, .delete, "budgets/:type", .admin, nil) { _, c in
            await forward(Route.budgetsDelete, ["operation_type": try operationType(c)])
        }
    }

    /// `GET /audit` (admin): the audit trail, newest first.
    func auditRoutes(_ router: Router<Context>) {
        route(router, .get, "audit", .admin, nil) { r, _ in
            let q = r.uri.queryParameters
            var filter = AuditLog.Filter()
            for name in ["actor", "action", "target"] {
                guard let value = q.get(name).map({ String($0) }) else { continue }
                guard value.unicodeScalars.count <= 512 else {
                    return JSONResponse.from(.validation(ValidationError(name, .tooLong, "\(name) is longer than 512 characters")))
                }
                switch name {
                case "actor": filter.actor = value
                case "action": filter.action = value
                default: filter.target = value
                }
            }
            if let since = q.get("since") {
                guard let date = Self.instant(String(since)) else {
                    return JSONResponse.from(.validation(ValidationError("since", .invalidValue, "since is an ISO-8601 instant such as 2026-12-01T00:00:00Z")))
                }
                filter.sinceMs = max(0, Int64((date.timeIntervalSince1970 * 1000).rounded(.down)))
            }
            let cursor = q.get("cursor").map { String($0) }
            if let cursor, cursor.wholeMatch(of: /[0-9]{1,15}-[0-9]{1,10}/) == nil {
                return JSONResponse.from(.validation(ValidationError("cursor", .invalidValue, "cursor is the next_cursor of the page before")))
            }
            var limit = 100
            if let text = q.get("limit") {
                guard let n = Int(text), (1...1000).contains(n) else {
                    return JSONResponse.from(.validation(ValidationError("limit", .invalidValue, "limit is an integer from 1 to 1000")))
                }
                limit = n
            }
            do {
                let (entries, next) = try await audit.page(filter, cursor: cursor, limit: limit)
                return JSONResponse.make(200, ["entries": .array(entries), "next_cursor": next.map { .string($0) } ?? .null])
            } catch {
                return JSONResponse.error(503, "unavailable", "Redis is unavailable: \(error)")
            }
        }
    }

    /// An RFC 3339 instant, with or without fractional seconds (`2026-12-01T00:00:00Z`,
    /// `...00.250+02:00`).
    static func instant(_ text: String) -> Date? {
        let plain = ISO8601DateFormatter()
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return plain.date(from: text) ?? fractional.date(from: text) ?? plain.date(from: text.uppercased())
            ?? fractional.date(from: text.uppercased())
    }

    static let auditLogger = Logger(label: "fleet.gateway.audit")

    public var audit: AuditLog { AuditLog(redis: redis, retentionDays: config.auditRetentionDays) }

    /// `response`, after recording it in the audit trail when `request` is given (a mutating
    /// request the gateway answered itself: a refusal, or a route that does not go to the bus).
    func audited(_ request: Request?, actor: String?, _ response: Response) async -> Response {
        guard let request else { return response }
        let record = AuditRecord(
            at: Events.timestamp(Date()), actor: actor ?? "anonymous", action: "http:\(request.method.rawValue) \(request.uri.path)", target: nil,
            status: Int(response.status.code), error: nil, requestID: RequestID.current)
        do { try await audit.append([record]) } catch {
            Self.auditLogger.warning("audit entry not written", metadata: ["error": "\(error)"])
        }
        return response
    }

    func windowRoutes(_ router: Router<Context>) {
        route(router, .get, "windows", .read, nil) { _, _ in await forward(Route.windowsList, [:]) }
        route(router, .post, "windows", .admin, nil) { r, _ in try await forward(Route.windowsPut, body(r)) }
        route(router, .get, "windows/:name", .read, nil) { _, c in try await forward(Route.windowsGet, ["name": name(c)]) }
        route(router, .put, "windows/:name", .admin, nil) { r, c in
            guard case .object(var o) = try await body(r) else { throw Refusal.badRequest("the body is a JSON object") }
            let path = try name(c)
            if let given = o["name"], given != .null, given != path {
                return JSONResponse.from(.validation(ValidationError("name", .invalidValue, "the body's name differs from the path's")))
            }
            o["name"] = path
            return await forward(Route.windowsPut, .object(o))
        }
        route(router, .delete, "windows/:name", .admin, nil) { _, c in try await forward(Route.windowsDelete, ["name": name(c)]) }
    }

    private func name(_ context: Context) throws -> JSONValue {
        guard let raw = context.parameters.get("name"), let decoded = raw.removingPercentEncoding else { throw Refusal.badRequest("missing name") }
        return .string(decoded)
    }

    private func operationType(_ context: Context) throws -> JSONValue {
        guard let raw = context.parameters.get("type"), let decoded = raw.removingPercentEncoding else {
            throw Refusal.badRequest("missing operation type")
        }
        return .string(decoded)
    }
}
