import FleetBus
import FleetContracts
import FleetCore
import FleetMessaging
import FleetRuntime
import FleetTestSupport

/// A stand-in for agents: one queue bound to the given host ids on `fleet.agent`, declared as
/// every agent queue must be (expired commands go back to the dispatcher).
struct TestAgent {
    let connection: AMQPConnection
    let queue: String

    static func bind(_ hosts: [String]) async throws -> TestAgent {
        let connection = try await AMQPConnection.connect(url: TestEnvironment.serviceAMQPURL, name: "test-agent")
        let queue = unique("test.agent.")
        try await connection.declare(.agentQueue(queue, hostIDs: hosts, durable: false))
        return TestAgent(connection: connection, queue: queue)
    }

    /// Runs every command it receives: claims it, and if the claim is granted reports `outcome(host)`
    /// (nil: stay silent). Returns the task; cancel it to stop.
    func serve(bus: BusClient, outcome: @escaping @Sendable (String) -> JSONValue?) async throws -> Task<Void, Never> {
        let deliveries = try await connection.consume(queue: queue, prefetch: 50)
        let connection = connection
        return Task {
            for await d in deliveries {
                guard let cmd = JSONCoding.decode(d.body), let op = cmd["op_id"], let host = cmd["host_id"]?.stringValue else {
                    d.reject(requeue: false)
                    continue
                }
                let claim = await bus.call(Route.bulkClaim, ["op_id": op, "host_ids": [.string(host)], "agent_id": .string(queue)])
                if claim.body?["claimed"]?.arrayValue?.isEmpty == false, case .object(var result)? = outcome(host) {
                    result["op_id"] = op
                    result["host_id"] = .string(host)
                    let message = OutgoingMessage(
                        exchange: BusNames.fromAgentsExchange, routingKey: BusNames.resultKey, body: JSONCoding.encode(.object(result)))
                    _ = try? await connection.publish(message)
                }
                d.ack()
            }
        }
    }

    func close() async { await connection.close() }
}
