import FleetBus
import FleetTestSupport
import Testing

/// The services' queues are quorum queues (`QueueDeclaration.quorum`, docs/bus.md "Queue types"),
/// here against the real broker.
@Suite("quorum queues")
struct QuorumQueueTests {
    /// A message whose consumer dies holding it, each time, is dead-lettered by the broker once
    /// it has been redelivered past the limit, instead of taking every consumer down forever.
    @Test func aMessageWhoseConsumersKeepDyingHoldingItIsDeadLetteredPastTheLimit() async throws {
        let setup = try await AMQPConnection.connect(url: TestEnvironment.amqpURL, name: "quorum-setup")
        let queue = TestEnvironment.uniqueName("quorum")
        let (dlx, dead) = (queue + ".dlx", queue + ".dead")
        var declaration = QueueDeclaration.quorum(queue, deadLetterExchange: dlx, deliveryLimit: 2)
        declaration.arguments["x-expires"] = .int(60_000)  // a quorum queue is durable: gone a minute after the test
        try await setup.declare(
            Topology(
                exchanges: [ExchangeDeclaration(name: dlx, kind: .fanout, durable: false)],
                queues: [QueueDeclaration(name: dead, durable: false, autoDelete: true), declaration],
                bindings: [BindingDeclaration(queue: dead, exchange: dlx, routingKey: "")]))
        let deadLetters = try await setup.consume(queue: dead, prefetch: 10)
        try await setup.publish(OutgoingMessage(exchange: "", routingKey: queue, body: Array("poison".utf8)))

        var deliveries = 0
        for _ in 1...5 {
            // A consumer that takes the message and dies (its connection closes) without settling it.
            let doomed = try await AMQPConnection.connect(url: TestEnvironment.amqpURL, name: "quorum-doomed")
            let consumer = try await doomed.consume(queue: queue, prefetch: 1)
            let got = await take(1, from: consumer, timeout: .seconds(2), ack: false)
            await doomed.close()
            if got.isEmpty { break }
            deliveries += 1
        }
        let deadLettered = await take(1, from: deadLetters, timeout: .seconds(5))
        #expect(deliveries == 3, "delivered the first time and redelivered twice (the limit), then no more")
        #expect(deadLettered.map(\.text) == ["poison"])
        await setup.close()
    }
}
