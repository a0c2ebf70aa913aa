import FleetBus
import FleetContracts
import FleetCore
import FleetMessaging
import Logging

/// What an agent does with a command once it holds the claim: the real host runs it (or, in dry
/// run, describes it); the simulated fleet plays it. Everything around that is `CommandLoop`'s.
protocol CommandExecutor: Sendable {
    /// The agent id a claim names (the host id, or the simulated fleet's queue).
    var agentID: String { get }
    /// Whether this agent speaks for `hostID`: a command for any other host is refused unrun.
    func serves(_ hostID: String) -> Bool
    /// The result to publish, or nil to stay silent (a simulated host that never answers).
    func execute(_ command: AgentCommand, bus: BusClient) async -> AgentResult?
}

/// The one command loop of every agent, real or simulated: decode, claim, execute, report. A
/// command that does not decode, or names a host this agent does not serve, is dead-lettered;
/// an unavailable dispatcher or broker puts it back for later; a refused claim drops it unrun.
struct CommandLoop<Executor: CommandExecutor>: Sendable {
    let executor: Executor
    let logger: Logger
    /// What a stop reports if it comes before the result is out.
    var stop: AgentStop? = nil
    /// An agent of many hosts claims its commands together (`AgentClaims`); one host claims alone.
    var claims: AgentClaims? = nil

    func handle(_ delivery: Delivery, _ connection: AMQPConnection, _ bus: BusClient) async {
        guard let command = try? delivery.decode(AgentCommand.self), executor.serves(command.hostID) else {
            return delivery.reject(requeue: false)
        }
        let request = ClaimRequest(opID: command.opID, hostIDs: [command.hostID], agentID: executor.agentID, renews: true)
        let claim: ClaimReply?
        if let claims {
            claim = await claims.claim(request)
        } else {
            claim = try? await bus.call(Route.bulkClaim, request, replying: ClaimReply.self).get()
        }
        guard let granted = claim else { return delivery.nack(requeue: true) }
        guard !granted.claimed.isEmpty else { return delivery.ack() }
        stop?.hold(command)
        defer { stop?.release(command) }
        // While the command runs, the claim is renewed well within its lease: an agent that dies
        // stops renewing, and its host is failed `lost` within a lease instead of the run timeout.
        let renewing = granted.leaseMs.map { lease in Task { await renew(command, every: .milliseconds(max(100, lease / 3)), bus) } }
        // Renewed until the result is out, not only while the command runs: a result waiting for
        // the broker must not find its host lost.
        defer { renewing?.cancel() }
        guard let result = await executor.execute(command, bus: bus) else { return delivery.ack() }
        do {
            try await connection.publish(OutgoingMessage(result, exchange: BusNames.fromAgentsExchange, routingKey: BusNames.resultKey))
            delivery.ack()
        } catch {
            logger.warning("result not published; the command will come again", metadata: ["host.id": "\(command.hostID)", "error": "\(error)"])
            delivery.nack(requeue: true)
        }
    }

    /// Claims the command's host again every `interval` until cancelled, or until the dispatcher
    /// no longer grants it (the host ended: cancelled, timed out, lost).
    func renew(_ command: AgentCommand, every interval: Duration, _ bus: BusClient) async {
        let renewal = ClaimRequest(opID: command.opID, hostIDs: [command.hostID], agentID: executor.agentID, renewal: true)
        while true {
            do { try await Task.sleep(for: interval) } catch { return }
            if case .success(let held) = await bus.call(Route.bulkClaim, renewal, replying: ClaimReply.self), held.claimed.isEmpty { return }
        }
    }
}
