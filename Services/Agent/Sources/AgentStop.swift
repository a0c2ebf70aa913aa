import FleetBus
import FleetContracts
import FleetCore
import FleetMessaging
import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// How an agent stops on SIGTERM (or SIGINT): it takes no new command, lets the ones it holds
/// finish for `grace` and reports them as usual, then reports any still running as failed
/// `agent_error` ("stopped before it finished") and exits 0. So a host is never left `running`
/// for its whole lease because its agent was restarted: it ends at once, with a reason that says
/// why. (Under systemd, `KillMode=mixed` then stops what a step left behind: see
/// Services/Agent/fleet-agent.service.)
public final class AgentStop: Sendable {
    let grace: Duration
    let logger: Logger
    private let held = Mutex<[String: AgentCommand]>([:])
    private let consumer = Mutex<AMQPConsumer?>(nil)
    private let stopping = Atomic<Bool>(false)

    public init(grace: Duration, logger: Logger) {
        self.grace = grace
        self.logger = logger
    }

    /// The deliveries to stop taking at the signal.
    func consuming(_ deliveries: AMQPConsumer) {
        consumer.withLock { $0 = deliveries }
        if stopping.load(ordering: .acquiring) { deliveries.cancel() }
    }

    func hold(_ command: AgentCommand) { held.withLock { $0[Self.key(command)] = command } }
    func release(_ command: AgentCommand) { _ = held.withLock { $0.removeValue(forKey: Self.key(command)) } }
    var holding: [AgentCommand] { held.withLock { Array($0.values) } }

    private static func key(_ c: AgentCommand) -> String { c.opID + "|" + c.hostID }

    /// Begins the stop: no new deliveries; after the grace, what is still held is reported
    /// `agent_error` on `connection` and the process exits 0. Idempotent.
    public func begin(_ connection: AMQPConnection) {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        logger.info(
            "stopping: no new commands; finishing the ones held", metadata: ["held": "\(holding.count)", "grace_ms": "\(grace.components.seconds * 1000)"])
        consumer.withLock { $0?.cancel() }
        Task {
            try? await Task.sleep(for: grace)
            await reportHeld(connection)
            exit(0)
        }
    }

    /// Publishes a failed `agent_error` result for each command still held.
    func reportHeld(_ connection: AMQPConnection) async {
        for command in holding {
            let result = AgentResult(
                opID: command.opID, hostID: command.hostID, status: .failed, reason: .agentError, exitCode: nil, stdout: "",
                stderr: "the agent was stopped before the command finished", truncated: false)
            do {
                try await connection.publish(OutgoingMessage(result, exchange: BusNames.fromAgentsExchange, routingKey: BusNames.resultKey))
                logger.warning("stopped while running; reported agent_error", metadata: ["op.id": "\(command.opID)", "host.id": "\(command.hostID)"])
            } catch {
                logger.error("stopped while running; not reported", metadata: ["op.id": "\(command.opID)", "error": "\(error)"])
            }
        }
    }

    /// SIGTERM and SIGINT begin the stop (their default action, ending at once, is turned off).
    public func installSignalHandlers(_ connection: AMQPConnection) -> [any DispatchSourceSignal] {
        [SIGTERM, SIGINT].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [self] in begin(connection) }
            source.resume()
            return source
        }
    }
}
