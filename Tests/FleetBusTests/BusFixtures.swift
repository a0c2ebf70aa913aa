import FleetBus
import FleetTestSupport

/// A connection to the test broker and a fresh durable queue with a dead-letter queue of its own.
struct BusFixture {
    let connection: AMQPConnection
    let queue: String
    let deadQueue: String
    let deadExchange: String

    static func make(_ name: String, heartbeatSeconds: Int = 10) async throws -> BusFixture {
        let connection = try await AMQPConnection.connect(url: TestEnvironment.amqpURL, heartbeatSeconds: heartbeatSeconds, name: name)
        let queue = TestEnvironment.uniqueName(name)
        let dlx = queue + ".dlx"
        let dead = queue + ".dead"
        try await connection.declare(
            Topology(
                exchanges: [ExchangeDeclaration(name: dlx, kind: .fanout, durable: false)],
                queues: [
                    QueueDeclaration(name: dead, durable: false, autoDelete: false),
                    QueueDeclaration(name: queue, durable: true, arguments: ["x-dead-letter-exchange": .string(dlx)]),
                ],
                bindings: [BindingDeclaration(queue: dead, exchange: dlx, routingKey: "")]))
        return BusFixture(connection: connection, queue: queue, deadQueue: dead, deadExchange: dlx)
    }

    /// A topic exchange `<queue>.x` bound to the queue with `#`: requests published to it keep their
    /// routing key, which a `RequestRouter` routes by.
    var requestExchange: Topology {
        Topology(
            exchanges: [ExchangeDeclaration(name: queue + ".x", kind: .topic, durable: false)],
            bindings: [BindingDeclaration(queue: queue, exchange: queue + ".x", routingKey: "#")])
    }

    func message(_ text: String, id: String? = nil) -> OutgoingMessage {
        OutgoingMessage(
            exchange: "", routingKey: queue, body: Array(text.utf8),
            properties: MessageProperties(contentType: "text/plain", messageId: id ?? text))
    }

    /// Deletes the test's queues and exchange by declaring them away on a scratch connection.
    func cleanUp() async {
        await connection.close()
    }
}

extension Delivery {
    var text: String { String(decoding: body, as: UTF8.self) }
}

/// Takes up to `count` deliveries, or fewer if `timeout` passes first.
func take(_ count: Int, from consumer: AMQPConsumer, timeout: Duration, ack: Bool = true) async -> [Delivery] {
    await withTaskGroup(of: [Delivery]?.self) { group in
        group.addTask {
            var got: [Delivery] = []
            for await d in consumer {
                if ack { d.ack() }
                got.append(d)
                if got.count == count { break }
            }
            return got
        }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return nil
        }
        var result: [Delivery] = []
        // The first finisher decides; a timeout leaves whatever the reader had gathered unknown,
        // so the reader is bounded by cancelling the consumer.
        if let first = await group.next(), let got = first {
            result = got
        } else {
            consumer.cancel()
            if let second = await group.next(), let got = second { result = got }
        }
        group.cancelAll()
        return result
    }
}
