import FleetBus
import FleetContracts
import FleetCore
import FleetRuntime
import FleetStore

/// Sends each host its command on `fleet.agent` (routing key = host id): persistent, confirmed,
/// `mandatory` (a host no agent is bound for fails `undeliverable` at once) and with the delivery
/// timeout as its TTL (a command that waits longer comes back `expired`).
struct AgentDispatch: Sendable {
    let publisher: AMQPConnection
    let store: HostTransitionStore
    var redis: FleetStore.RedisClient { store.redis }

    /// The command an agent receives.
    static func command(op: String, host: String, request: BulkOperationRequest) -> JSONValue {
        ["op_id": .string(op), "host_id": .string(host), "operation_type": .string(request.type.rawValue),
         "parameters": request.parameters.json, "timeout_seconds": .int(Int64(request.parameters.timeoutSeconds)), "attempt": 1]
    }

    /// Starts an operation: all hosts at once, or with a `concurrency` window the first N, the rest
    /// waiting in the pending list for `release`.
    func start(op: String, hosts: [String], request: BulkOperationRequest) async throws {
        guard let window = request.concurrency?.resolve(total: hosts.count), window < hosts.count else {
            return try await dispatch(op: op, hosts: hosts, request: request)
        }
        let waiting = Array(hosts[window...])
        var commands: [RedisCommand] = []
        for start in stride(from: 0, to: waiting.count, by: 1000) {
            commands.append(RedisCommand(["RPUSH", RedisKeys.bulkPending(op)] + waiting[start..<min(start + 1000, waiting.count)]))
        }
        _ = try await redis.pipeline(commands)
        try await dispatch(op: op, hosts: Array(hosts[..<window]), request: request)
    }

    /// `count` hosts finished: dispatch as many from the pending list (LPOP is atomic, so each
    /// pending host goes out once however many replicas release at the same time).
    func release(op: String, count: Int) async throws {
        guard count > 0 else { return }
        let popped = try await redis.send(RedisCommand(["LPOP", RedisKeys.bulkPending(op), String(count)])).array?.compactMap(\.string) ?? []
        guard !popped.isEmpty else { return }
        guard let text = try await redis.send("HGET", RedisKeys.bulkOperation(op), "request").string,
              let json = JSONCoding.decode(Array(text.utf8)), let request = try? BulkOperationRequest(json: json) else { return }
        try await dispatch(op: op, hosts: popped, request: request)
    }

    /// Publishes the commands; hosts whose command no queue takes fail `undeliverable` (and free
    /// their slots at once).
    func dispatch(op: String, hosts: [String], request: BulkOperationRequest) async throws {
        guard !hosts.isEmpty else { return }
        try await Deadlines(redis: redis).expectClaims(op: op, hosts: hosts, within: .seconds(request.deliveryTimeoutSeconds))
        let ttl = request.deliveryTimeoutSeconds * 1000
        let messages = hosts.map { host in
            OutgoingMessage(exchange: BusNames.agentExchange, routingKey: host,
                            body: JSONCoding.encode(Self.command(op: op, host: host, request: request)),
                            properties: MessageProperties(contentType: "application/json", messageId: "\(op)/\(host)",
                                                          expirationMilliseconds: ttl, persistent: true),
                            mandatory: true)
        }
        let results = await publisher.publish(batch: messages)
        FleetMetrics.count("fleet_bulk_dispatched_total", by: hosts.count)
        var unroutable: [String] = []
        for (host, result) in zip(hosts, results) {
            if case .failure(let e) = result, case .returned = e.kind { unroutable.append(host) }
        }
        if !unroutable.isEmpty {
            let outcome = try await store.move(operation: op, hosts: unroutable, to: .failed, reason: .undeliverable)
            try await ended(op: op, to: .failed, reason: .undeliverable, outcome)
        }
    }

    /// What follows hosts' move to a terminal status: announce each host, free their slots of the
    /// concurrency window, and announce the finish (exactly one move finishes an operation).
    func ended(op: String, to: HostStatus, reason: HostReason?, _ outcome: HostTransitionStore.Outcome) async throws {
        guard outcome.applied > 0 else { return }
        FleetMetrics.count("fleet_bulk_hosts_ended_total", [("status", to.rawValue), ("reason", reason?.rawValue ?? "none")], by: outcome.applied)
        for host in outcome.movedHosts {
            await announce(EventRoute.bulkHost(op), ["op_id": .string(op), "host_id": .string(host), "status": .string(to.rawValue),
                                                    "reason": reason.map { .string($0.rawValue) } ?? .null])
        }
        try await release(op: op, count: outcome.applied)
        if outcome.justFinished { await announceFinished(op: op, outcome.aggregate) }
    }

    func announceFinished(op: String, _ aggregate: AggregateStatus) async {
        await announce(EventRoute.bulkFinished(op), ["op_id": .string(op), "status": .string(aggregate.rawValue)])
    }

    func announce(_ route: String, _ body: JSONValue) async { await publisher.announce(route, body) }
}
