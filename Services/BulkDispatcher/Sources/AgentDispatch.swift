import FleetBus
import FleetContracts
import FleetCore
import FleetRuntime

/// Sends each host its command on `fleet.agent` (routing key = host id): persistent, confirmed,
/// `mandatory` (a host no agent is bound for fails `undeliverable` at once) and with the delivery
/// timeout as its TTL (a command that waits longer comes back `expired`).
struct AgentDispatch: Sendable {
    let publisher: AMQPConnection
    let store: HostTransitionStore

    /// The command an agent receives.
    static func command(op: String, host: String, request: BulkOperationRequest) -> JSONValue {
        ["op_id": .string(op), "host_id": .string(host), "operation_type": .string(request.type.rawValue),
         "parameters": request.parameters.json, "timeout_seconds": .int(Int64(request.parameters.timeoutSeconds)), "attempt": 1]
    }

    /// Publishes the commands; hosts whose command no queue takes fail `undeliverable`.
    func dispatch(op: String, hosts: [String], request: BulkOperationRequest) async throws {
        guard !hosts.isEmpty else { return }
        let ttl = request.deliveryTimeoutSeconds * 1000
        let messages = hosts.map { host in
            OutgoingMessage(exchange: BusNames.agentExchange, routingKey: host,
                            body: JSONCoding.encode(Self.command(op: op, host: host, request: request)),
                            properties: MessageProperties(contentType: "application/json", messageId: "\(op)/\(host)",
                                                          expirationMilliseconds: ttl, persistent: true),
                            mandatory: true)
        }
        let results = await publisher.publish(batch: messages)
        var unroutable: [String] = []
        for (host, result) in zip(hosts, results) {
            if case .failure(let e) = result, case .returned = e.kind { unroutable.append(host) }
        }
        if !unroutable.isEmpty { _ = try await store.move(operation: op, hosts: unroutable, to: .failed, reason: .undeliverable) }
    }
}
