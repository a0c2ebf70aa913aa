import FleetBus
import FleetContracts
import FleetCore
import FleetMessaging
import FleetObservability
import FleetRuntime

/// Publishes each host its command on `fleet.to-agents` (routing key = host id): persistent, confirmed,
/// `mandatory` (a host no agent is bound for is reported back at once) and with the delivery
/// timeout as its TTL (a command that waits longer comes back `expired`). It only publishes; what
/// follows for the hosts is `BulkEngine`'s.
struct AgentDispatch: Sendable {
    let publisher: AMQPConnection

    /// The command an agent receives: the parameters inline, or where to fetch them.
    static func command(op: String, host: String, request: DispatchableRequest) -> AgentCommand {
        AgentCommand(
            opID: op, hostID: host, operationType: request.operationType, parameters: request.commandParameters,
            parametersRef: request.parametersRef, timeoutSeconds: request.timeoutSeconds)
    }

    /// How many commands one confirmed batch carries: with parameters of up to 64 KiB inline,
    /// a batch is at most 16 MiB however many hosts the operation has.
    static let window = 256

    /// How long a command whose publish was not confirmed (the broker went away) is retried
    /// before its host is left to its delivery deadline.
    static let retryFor: Duration = .seconds(60)

    /// Publishes the hosts' commands in confirmed batches of `window`; returns the hosts no queue
    /// took, and those still not confirmed when the retries ran out.
    /// A host counts as sent only once its publish is confirmed: one whose publish failed with a
    /// retriable error (a broker restart, a lost connection) is published again, with backoff,
    /// for up to `retryFor` (claim before run makes a second copy harmless).
    func publish(op: String, hosts: [String], request: DispatchableRequest) async -> (unroutable: [String], unconfirmed: [String]) {
        var unroutable: [String] = []
        var unsent = hosts
        var backoff = Backoff(base: .milliseconds(200), cap: .seconds(5))
        let giveUp = ContinuousClock.now + Self.retryFor
        while !unsent.isEmpty {
            let (returned, failed) = await publishOnce(op: op, hosts: unsent, request: request)
            unroutable += returned
            unsent = failed
            guard !unsent.isEmpty, ContinuousClock.now < giveUp, !Task.isCancelled else { break }
            FleetMetrics.count("fleet_bulk_dispatch_retries_total", by: unsent.count)
            try? await Task.sleep(for: backoff.next())
        }
        FleetMetrics.count("fleet_bulk_dispatched_total", by: hosts.count - unsent.count - unroutable.count)
        return (unroutable, unsent)
    }

    /// One pass: the hosts no queue took, and those whose publish failed and may succeed later.
    private func publishOnce(op: String, hosts: [String], request: DispatchableRequest) async -> (returned: [String], retriable: [String]) {
        let ttl = request.deliveryTimeoutSeconds * 1000
        var returned: [String] = []
        var retriable: [String] = []
        for start in stride(from: 0, to: hosts.count, by: Self.window) {
            let slice = Array(hosts[start..<min(start + Self.window, hosts.count)])
            let messages = slice.map { host in
                OutgoingMessage(
                    Self.command(op: op, host: host, request: request), exchange: BusNames.agentExchange, routingKey: host,
                    properties: MessageProperties(messageId: "\(op)/\(host)", expirationMilliseconds: ttl, persistent: true),
                    mandatory: true)
            }
            let results = await publisher.publish(batch: messages)
            for (host, result) in zip(slice, results) {
                guard case .failure(let e) = result else { continue }
                if case .returned = e.kind { returned.append(host) } else if e.isRetriable { retriable.append(host) }
            }
        }
        return (returned, retriable)
    }
}
