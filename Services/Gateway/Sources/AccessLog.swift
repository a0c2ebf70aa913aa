import FleetContracts
import FleetCore
import FleetObservability
import Foundation
import Hummingbird
import Logging

/// The outermost layer of every request: its id, its access log line and its metrics.
///
/// - The id is the client's `X-Request-Id` when it is 1-128 characters of `[A-Za-z0-9._:-]`, else
///   a new one; it is returned in the response and set as `RequestID.current` while the request
///   runs, so the bus commands it sends carry it and every service logs it.
/// - One `info` line per request on `fleet.gateway.access`: method, route template, status,
///   duration, the token's id (the first 12 hex digits of its SHA-256, as `list-tokens` shows it;
///   never the token) and the request id.
/// - `fleet_http_requests_total{method, route, status}` and
///   `fleet_http_request_duration_seconds{method, route}`: the route is the matched template
///   (`/api/v1/fleet/bulk/{id}`), never the raw path, so the labels stay bounded.
struct AccessMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger = Logger(label: "fleet.gateway.access")

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let sent = request.headers[.init("X-Request-Id")!]
        let id = sent.flatMap { RequestID.accepts($0) ? $0 : nil } ?? RequestID.make()
        var response = try await RequestID.$current.withValue(id) { try await next(request, context) }
        response.headers[.init("X-Request-Id")!] = id
        let elapsed = ContinuousClock.now - started
        let route = context.endpointPath ?? "unmatched"
        let method = request.method.rawValue
        FleetMetrics.count("fleet_http_requests_total", [("method", method), ("route", route), ("status", String(response.status.code))])
        FleetMetrics.observe(FleetMetrics.httpRequestDuration, [("method", method), ("route", route)], elapsed)
        RequestID.$current.withValue(id) {
            logger.info(
                "request",
                metadata: [
                    "method": "\(method)", "route": "\(route)", "status": "\(response.status.code)",
                    "duration_ms": "\(String(format: "%.1f", elapsed.seconds * 1000))", "token_id": "\(Self.tokenID(request))",
                ])
        }
        return response
    }

    /// The id of the bearer token sent (`-` when none): what `list-tokens` shows for it.
    static func tokenID(_ request: Request) -> String {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer "), header.count > 7 else { return "-" }
        return String(TokenStore.digest(String(header.dropFirst(7))).prefix(12))
    }
}
