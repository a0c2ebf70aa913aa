import FleetBus
import FleetContracts
import FleetCore
import FleetMessaging
import FleetObservability
import FleetRuntime
import Logging
import ServiceLifecycle

/// Consumes per-host results from agents (`result` on `fleet.from-agents`, believed only from a
/// sender that may speak for the host) and commands that expired unread (`expired` on
/// `fleet.results`). Each becomes one transition, acked only after it is durable; a duplicate or
/// late one changes nothing. The transition that finishes an operation announces it once.
public struct ResultsConsumer: Service {
    let engine: BulkEngine
    /// Agents' results, written together: while one batch's scripts run, the results that arrive
    /// wait and go in the next (one transition script per operation and outcome, not per host).
    let results: GroupCommit<AgentResultMove, Void>
    var context: ServiceContext { engine.context }
    var store: HostTransitionStore { engine.store }

    init(engine: BulkEngine) {
        self.engine = engine
        results = GroupCommit { [engine] moves in await AgentResultMove.write(moves, engine) }
    }

    static let topology = Topology(
        queues: [.quorum(BusNames.resultsQueue, deadLetterExchange: BusNames.deadLetterExchange, deliveryLimit: BusNames.brokerDeliveryLimit)],
        bindings: [
            BindingDeclaration(queue: BusNames.resultsQueue, exchange: BusNames.fromAgentsExchange, routingKey: BusNames.resultKey),
            BindingDeclaration(queue: BusNames.resultsQueue, exchange: BusNames.resultsExchange, routingKey: BusNames.expiredKey),
        ])

    public func run() async throws {
        try await context.consume(BusNames.resultsQueue, topology: Self.topology, prefetch: 200) { await handle($0) }
    }

    func handle(_ delivery: Delivery) async -> RequestOutcome {
        // A copy published again after a redelivery names its first sender in a header.
        let user = delivery.sender(serviceUser: context.consumer.config.user)
        do {
            if delivery.routingKey == BusNames.expiredKey, delivery.exchange == BusNames.resultsExchange {
                // A command that waited past its TTL, dead-lettered back unread (by the broker: no
                // agent may publish on `fleet.results`).
                let command = try delivery.decode(AgentCommand.self)
                let outcome = try await store.move(operation: command.opID, hosts: [command.hostID], to: .failed, reason: .undeliverable)
                try await engine.hostsEnded(op: command.opID, to: .failed, reason: .undeliverable, outcome)
            } else {
                let result = try delivery.decode(AgentResult.self)
                try SenderCheck.require(AgentIdentity(brokerUser: user, serviceUser: context.consumer.config.user), user: user, speaksFor: [result.hostID])
                guard let (to, reason) = result.transition else {
                    throw ValidationError(
                        "status", .invalidValue, "no agent reports \(result.status.rawValue) with reason \(result.reason?.rawValue ?? "none")")
                }
                try await results.submit(
                    AgentResultMove(op: result.opID, host: result.hostID, to: to, reason: reason, result: String(decoding: result.encoded, as: UTF8.self)))
            }
            return .done
        } catch let refused as SenderRefused {
            SenderCheck.refused(route: delivery.routingKey, user: user, reason: refused.reason, logger: context.logger)
            return .deadLetter(reason: refused.reason)
        } catch let refused as ValidationError {
            context.logger.warning(
                "result refused; dead-lettering",
                metadata: [
                    "amqp.routing_key": "\(delivery.routingKey)",
                    "amqp.message_id": "\(delivery.properties.messageId ?? "")", "error": "\(refused)",
                ])
            return .deadLetter(reason: "\(refused)")
        } catch {
            // Redis unavailable: the result goes around again, after a pause while this lasts.
            context.logger.error("result not recorded; delivered again shortly", metadata: ["error": "\(error)"])
            return .unavailable(reason: "\(error)")
        }
    }
}

/// One agent's result to write: its host's move and the result JSON.
struct AgentResultMove: Sendable {
    let op: String
    let host: String
    let to: HostStatus
    let reason: HostReason?
    let result: String

    private struct Group: Hashable {
        let op: String
        let to: HostStatus
        let reason: HostReason?
    }

    /// Writes a batch: one transition (and what follows a host's end) per operation and outcome,
    /// the groups at once. A group whose write fails fails its items only.
    static func write(_ moves: [AgentResultMove], _ engine: BulkEngine) async -> [Result<Void, any Error>] {
        let groups = Dictionary(grouping: moves.indices) { Group(op: moves[$0].op, to: moves[$0].to, reason: moves[$0].reason) }
        var results = [Result<Void, any Error>](repeating: .success(()), count: moves.count)
        await withTaskGroup(of: (Group, (any Error)?).self) { tasks in
            for (group, indices) in groups {
                tasks.addTask {
                    do {
                        let outcome = try await engine.store.move(
                            operation: group.op, results: indices.map { (moves[$0].host, moves[$0].result) }, to: group.to, reason: group.reason)
                        let now = engine.context.clock.nowMs
                        for sent in outcome.dispatchedAtMs {
                            FleetMetrics.observe(FleetMetrics.dispatchToResult, [], .milliseconds(now - sent))
                        }
                        try await engine.hostsEnded(op: group.op, to: group.to, reason: group.reason, outcome)
                        return (group, nil)
                    } catch { return (group, error) }
                }
            }
            for await (group, error) in tasks {
                if let error { for i in groups[group] ?? [] { results[i] = .failure(error) } }
            }
        }
        return results
    }
}
