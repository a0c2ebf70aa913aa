import FleetBus
import FleetContracts
import FleetCore
import FleetMessaging
import FleetObservability
import FleetRuntime
import FleetStore
import Foundation
import Hummingbird

/// The HTTP face of the engine: every route checks its feature and the caller's token, then
/// becomes one bus command whose reply becomes the HTTP response. It owns no records but the tokens.
public struct Gateway: Sendable {
    public typealias Context = BasicRequestContext
    public static let version = FleetVersion.current
    public static let prefix = "/api/v1/fleet"

    let config: GatewayConfig
    let bus: BusClient
    let tokens: TokenStore
    let redis: RedisClient
    let broker: AMQPConnection
    /// Broker users for agents; nil when no management API is configured (enrolling answers 503).
    let enrollment: AgentEnrollment?
    /// The gateway's one subscription to `fleet.events`, fanned out to SSE clients.
    let events: EventHub

    public init(
        config: GatewayConfig, bus: BusClient, tokens: TokenStore, redis: RedisClient, broker: AMQPConnection,
        enrollment: AgentEnrollment? = nil
    ) {
        self.config = config
        self.bus = bus
        self.tokens = tokens
        self.redis = redis
        self.broker = broker
        self.enrollment = enrollment
        events = EventHub(connection: broker)
    }

    public func router() -> Router<Context> {
        let router = Router(context: Context.self)
        router.add(middleware: AccessMiddleware())  // outside ErrorMiddleware: it sees the final status
        router.add(middleware: ErrorMiddleware())
        router.get("/health") { _, _ in JSONResponse.make(200, ["status": "ok"]) }
        router.get("/dashboard") { _, _ in Dashboard.response() }
        router.get("/openapi.yaml") { _, _ in APIDescription.response() }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(string: FleetMetrics.exposition())))
        }
        router.get("/ready") { _, _ in await readiness() }
        router.get("\(Self.prefix)/module-info") { _, _ in
            JSONResponse.make(
                200,
                [
                    "module": "fleet_engine", "version": .string(Self.version),
                    "features": .array(config.features.enabled.sorted().map { .string($0) }),
                ])
        }

        route(router, .post, "select", .read, "fleet_groups") { r, _ in try await forward(Route.selectorResolve, body(r)) }
        route(router, .get, "groups", .read, "fleet_groups") { r, _ in
            await forward(Route.groupsList, query(r, ["parent_id", "cursor"]))
        }
        route(router, .post, "groups", .operate, "fleet_groups") { r, _ in try await forward(Route.groupsUpsert, body(r), r, locating: true) }
        route(router, .get, "groups/:id", .read, "fleet_groups") { _, c in try await forward(Route.groupsGet, ["id": id(c)]) }
        route(router, .delete, "groups/:id", .operate, "fleet_groups") { _, c in try await forward(Route.groupsDelete, ["id": id(c)]) }
        route(router, .get, "groups/:id/hosts", .read, "fleet_groups") { _, c in try await forward(Route.groupsHosts, ["id": id(c)]) }

        route(router, .post, "bulk", .operate, "fleet_bulk_operations") { r, _ in try await create(Route.bulkCreate, r) }
        route(router, .get, "bulk", .read, "fleet_bulk_operations") { r, _ in await forward(Route.bulkList, query(r, ["status", "cursor"])) }
        route(router, .get, "bulk/:id", .read, "fleet_bulk_operations") { _, c in try await forward(Route.bulkGet, ["id": id(c)]) }
        route(router, .get, "bulk/:id/progress", .read, "fleet_bulk_operations") { _, c in try await bulkProgress(id(c)) }
        route(router, .get, "bulk/:id/hosts", .read, "fleet_bulk_operations") { r, c in
            try await forward(Route.bulkHosts, query(r, ["status", "cursor"], id: id(c)))
        }
        route(router, .post, "bulk/:id/cancel", .operate, "fleet_bulk_operations") { _, c in try await forward(Route.bulkCancel, ["id": id(c)]) }
        route(router, .post, "bulk/:id/rerun", .operate, "fleet_bulk_operations") { r, c in try await rerun(Route.bulkRerun, r, c) }

        route(router, .post, "rolling", .operate, "fleet_rolling_deployments") { r, _ in try await create(Route.rollingCreate, r) }
        route(router, .get, "rolling", .read, "fleet_rolling_deployments") { r, _ in await forward(Route.rollingList, query(r, ["status", "cursor"])) }
        route(router, .get, "rolling/:id", .read, "fleet_rolling_deployments") { _, c in try await forward(Route.rollingGet, ["id": id(c)]) }
        route(router, .get, "rolling/:id/progress", .read, "fleet_rolling_deployments") { _, c in
            try await forward(Route.rollingProgress, ["id": id(c)])
        }
        for (action, route) in [
            ("pause", Route.rollingPause), ("resume", Route.rollingResume), ("cancel", Route.rollingCancel), ("promote", Route.rollingPromote),
        ] {
            self.route(router, .post, "rolling/:id/\(action)", .operate, "fleet_rolling_deployments") { _, c in
                try await forward(route, ["id": id(c)])
            }
        }
        route(router, .post, "rolling/:id/rerun", .operate, "fleet_rolling_deployments") { r, c in try await rerun(Route.rollingRerun, r, c) }
        route(router, .post, "rolling/:id/halt", .operate, "fleet_rolling_deployments") { r, c in
            guard case .object(var o) = try await body(r) else { throw Refusal.badRequest("the body is a JSON object with a reason") }
            o["id"] = try id(c)
            return await forward(Route.rollingHalt, .object(o))
        }

        // `/scheduled` answers as an alias of `/schedules`.
        for base in ["schedules", "scheduled"] {
            route(router, .post, base, .operate, "fleet_scheduled_operations") { r, _ in try await create(Route.schedulesCreate, r) }
            route(router, .get, base, .read, "fleet_scheduled_operations") { r, _ in await forward(Route.schedulesList, query(r, ["status", "cursor"])) }
            route(router, .get, "\(base)/:id", .read, "fleet_scheduled_operations") { _, c in try await forward(Route.schedulesGet, ["id": id(c)]) }
            route(router, .put, "\(base)/:id", .operate, "fleet_scheduled_operations") { r, c in
                guard case .object(var o) = try await body(r) else { throw Refusal.badRequest("the body is a JSON object") }
                if let typeRefused = typeRefusal(.object(o)) { return typeRefused }
                let path = try id(c)
                if let given = o["id"], given != .null, given != path {
                    return JSONResponse.from(.validation(ValidationError("id", .invalidValue, "the body's id differs from the path's")))
                }
                o["id"] = path
                return await forward(Route.schedulesUpdate, .object(o))
            }
            route(router, .delete, "\(base)/:id", .operate, "fleet_scheduled_operations") { _, c in try await forward(Route.schedulesDelete, ["id": id(c)]) }
            route(router, .post, "\(base)/:id/run", .operate, "fleet_scheduled_operations") { _, c in try await forward(Route.schedulesRun, ["id": id(c)]) }
            route(router, .get, "\(base)/:id/runs", .read, "fleet_scheduled_operations") { r, c in
                try await forward(Route.schedulesRuns, query(r, ["status", "cursor"], id: id(c)))
            }
        }

        route(router, .get, "hosts", .read, nil) { r, _ in await forward(Route.hostsList, query(r, ["cursor"])) }
        route(router, .post, "hosts", .operate, nil) { r, _ in
            let hosts = try await body(r)
            if let refusal = await approvalRefusal(r, hosts["hosts"]?.arrayValue ?? [hosts]) { return refusal }
            return await forward(Route.hostsUpsert, hosts, r)
        }
        route(router, .get, "hosts/:id", .read, nil) { _, c in try await forward(Route.hostsGet, ["id": id(c)]) }
        route(router, .delete, "hosts/:id", .operate, nil) { _, c in try await forward(Route.hostsDelete, ["id": id(c)]) }
        route(router, .put, "hosts/:id", .operate, nil) { r, c in
            let path = try id(c)
            guard case .object(var host) = try await body(r) else { throw Refusal.badRequest("a host must be a JSON object") }
            if let given = host["id"], given != path {
                return JSONResponse.from(.validation(ValidationError("id", .invalidValue, "the body's id differs from the path's")))
            }
            host["id"] = path
            if let refusal = await approvalRefusal(r, [.object(host)]) { return refusal }
            return await forward(Route.hostsUpsert, .object(host), r)
        }
        route(router, .post, "hosts/:id/enroll", .admin, nil) { _, c in try await enroll(id(c)) }
        route(router, .delete, "hosts/:id/enroll", .admin, nil) { _, c in try await revoke(id(c)) }
        coordinationRoutes(router)
        windowRoutes(router)
        auditRoutes(router)
        eventRoutes(router)
        router.add(middleware: MethodNotAllowedMiddleware(table: RouteTable(router.routes)))
        return router
    }

    /// Registers a route behind its feature gate (402) and scope check (401/403).
    func route(
        _ router: Router<Context>, _ method: HTTPRequest.Method, _ path: String, _ scope: Scope, _ feature: String?,
        _ handler: @escaping @Sendable (Request, Context) async throws -> Response
    ) {
        let mutating = method != .get && method != .head
        router.on(RouterPath("\(Self.prefix)/\(path)"), method: method) { request, context in
            if let feature, !config.features.isEnabled(feature) {
                let refused = JSONResponse.error(402, "feature_not_enabled", "the \(feature) feature is not enabled", feature: feature)
                return await audited(mutating ? request : nil, actor: nil, refused)
            }
            let (refusal, actor) = await authorize(request, scope)
            if let refusal { return await audited(mutating ? request : nil, actor: actor, refusal) }
            // The services record what reaches them; the gateway records what it answers itself.
            let forwarded = Forwarded()
            do {
                let response = try await AuditActor.$current.withValue(actor) {
                    try await Forwarded.$current.withValue(forwarded) { try await handler(request, context) }
                }
                return await audited(mutating && !forwarded.value ? request : nil, actor: actor, response)
            } catch let refusal as Refusal {
                return await audited(mutating ? request : nil, actor: actor, refusal.response)
            }
        }
    }

    /// The token's actor (`AuditActor`, nil without a valid token), and nil when the token has at
    /// least `scope`, otherwise the 401/403/503 to answer.
    private func authorize(_ request: Request, _ scope: Scope) async -> (Response?, String?) {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer "), case let token = String(header.dropFirst(7)),
            !token.isEmpty
        else {
            return (JSONResponse.error(401, "unauthorized", "send Authorization: Bearer <token>"), nil)
        }
        let identity: (scope: Scope, id: String, name: String)?
        do { identity = try await tokens.identity(of: token) } catch {
            return (JSONResponse.error(503, "unavailable", "cannot check the token: storage is unavailable"), nil)
        }
        guard let identity else { return (JSONResponse.error(401, "unauthorized", "the token is not valid"), nil) }
        let actor = AuditActor.token(id: identity.id, name: identity.name)
        guard identity.scope >= scope else {
            return (JSONResponse.error(403, "forbidden", "this needs the \(scope.rawValue) scope; the token has \(identity.scope.rawValue)"), actor)
        }
        return (nil, actor)
    }

    /// Approving (or rejecting, or revoking) a host decides whether it runs anything: that needs
    /// `admin`, not the `operate` scope that registers hosts. nil when no host sets an approval.
    private func approvalRefusal(_ request: Request, _ hosts: [JSONValue]) async -> Response? {
        guard hosts.contains(where: { $0["approval_status"].map { $0 != .null } ?? false }) else { return nil }
        return await authorize(request, .admin).0
    }

    /// One bus call, its reply as the response. `locating`: a create, whose 201 carries the new
    /// record's URL in `Location` (the collection's path, `collection` or the request's, and the
    /// reply's `id`).
    func forward(
        _ route: String, _ body: JSONValue, _ request: Request? = nil, locating: Bool = false, collection: String? = nil
    ) async -> Response {
        let key = request?.headers.first { $0.name.canonicalName == "idempotency-key" }?.value
        Forwarded.current?.mark()
        let reply = await bus.call(route, body, messageID: key)
        var response = JSONResponse.from(reply)
        if locating, reply.status == 201, let request, let id = reply.body?["id"]?.stringValue,
            let encoded = id.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed)
        {
            response.headers[.location] = (collection ?? request.uri.path) + "/" + encoded
        }
        return response
    }

    /// `GET /bulk/{id}/progress`, the route dashboards poll: read from the dispatcher's counters
    /// through its typed repository (BulkRecords) rather than asked of it over the bus, with the
    /// body `bulk.progress` answers. Over the bus it answered about 1/40 of what the HGETALL alone does under wrk (README
    /// "Performance"); the counters are written in the dispatcher's transition script, so a read
    /// sees them whole either way.
    private func bulkProgress(_ id: JSONValue) async -> Response {
        let op = id.stringValue ?? ""
        do {
            guard let (counters, _) = try await BulkRecords(redis).progress(op) else {
                return JSONResponse.error(404, "not_found", "no bulk operation '\(op)'")
            }
            return JSONResponse.make(200, BulkProgress(counters).json)
        } catch {
            return JSONResponse.error(503, "unavailable", "Redis is unavailable: \(error)")
        }
    }

    func body(_ request: Request) async throws -> JSONValue {
        var r = request
        let buffer = try await r.collectBody(upTo: config.bodyLimit)
        // Every route with a body documents it as required: an empty one is refused, not read as `{}`.
        if buffer.readableBytes == 0 { throw Refusal.badRequest("the request needs a JSON body") }
        guard let json = JSONCoding.decode(Array(buffer.readableBytesView)) else { throw Refusal.badRequest("the body is not valid JSON") }
        return json
    }

    /// A create: the body, refused if its operation type is a disabled feature, else forwarded
    /// with the request's Idempotency-Key.
    private func create(_ route: String, _ r: Request) async throws -> Response {
        let body = try await body(r)
        if let refusal = typeRefusal(body) { return refusal }
        return await forward(route, body, r, locating: true)
    }

    /// A rerun: the body with the path's id, forwarded with the Idempotency-Key; its 201 locates
    /// the new record like a create's.
    private func rerun(_ route: String, _ r: Request, _ c: Context) async throws -> Response {
        guard case .object(var o) = try await body(r) else { throw Refusal.badRequest("the body is a JSON object with statuses") }
        o["id"] = try id(c)
        // `/api/v1/fleet/bulk/{id}/rerun` -> `/api/v1/fleet/bulk`: the new record is a sibling.
        let collection = r.uri.path.split(separator: "/", omittingEmptySubsequences: false).dropLast(2).joined(separator: "/")
        return await forward(route, .object(o), r, locating: true, collection: collection)
    }

    /// The list parameters of a GET: `limit` as an integer (anything else is passed on, for the
    /// service to refuse naming the field), the named string parameters, and the path's `id`.
    func query(_ r: Request, _ strings: [String] = [], id: JSONValue? = nil) -> JSONValue {
        var q: [String: JSONValue] = [:]
        if let id { q["id"] = id }
        for key in strings { if let v = r.uri.queryParameters.get(key) { q[key] = .string(String(v)) } }
        if let limit = r.uri.queryParameters.get("limit") { q["limit"] = Int64(limit).map { .int($0) } ?? .string(String(limit)) }
        return .object(q)
    }

    /// The deployment-plan type is a feature of its own: 402 when it is off, whatever creates it.
    private func typeRefusal(_ body: JSONValue) -> Response? {
        let feature = OperationType.applyDeploymentPlan.feature
        guard body["operation_type"]?.stringValue == OperationType.applyDeploymentPlan.rawValue, !config.features.isEnabled(feature) else {
            return nil
        }
        return JSONResponse.error(402, "feature_not_enabled", "the \(feature) feature is not enabled", feature: feature)
    }

    /// The path's `{id}`, percent-decoded: the router hands it over as sent, so `web%3A1` (how a
    /// client may spell the id `web:1`) would otherwise name another host.
    private func id(_ context: Context) throws -> JSONValue {
        guard let raw = context.parameters.get("id") else { throw Refusal.badRequest("missing id") }
        guard let id = raw.removingPercentEncoding else { throw Refusal.badRequest("the id in the path is not valid percent-encoding") }
        return .string(id)
    }

    /// Ready when the broker connection and Redis are up and every service answers its health route.
    private func readiness() async -> Response {
        var checks: [String: JSONValue] = ["broker": .bool(broker.isConnected)]
        checks["redis"] = .bool((try? await redis.send("PING")) != nil)
        let services: [ServiceName] = ServiceName.allCases
        await withTaskGroup(of: (String, Bool).self) { group in
            for s in services { group.addTask { (s.rawValue, await bus.call(s.healthRoute, [:]).status == 200) } }
            for await (name, ok) in group { checks[name] = .bool(ok) }
        }
        let ready = checks.values.allSatisfy { $0 == .bool(true) }
        return JSONResponse.make(ready ? 200 : 503, ["ready": .bool(ready), "checks": .object(checks)])
    }
}

/// An answer decided before reaching the bus (bad JSON, a missing id).
struct Refusal: Error {
    let response: Response
    static func badRequest(_ message: String) -> Refusal { Refusal(response: JSONResponse.error(400, "bad_request", message)) }
}

extension Gateway {
    /// The application `main` runs and the live benchmark calls.
    public func application() -> some ApplicationProtocol {
        Application(router: router(), configuration: .init(address: .hostname(config.host, port: config.port), serverName: "fleet-gateway"))
    }
}
