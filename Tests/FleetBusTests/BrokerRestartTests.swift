import FleetBus
import FleetTestSupport
import Testing

/// Stops and starts the real broker, so `make test` runs this suite alone, after the others.
@Suite("BrokerRestartTests: the client survives a broker restart", .serialized)
struct BrokerRestartTests {
    actor Received {
        var texts = Set<String>()
        func add(_ t: String) { texts.insert(t) }
    }

    @Test func requestsInFlightFailAtOnceWhenTheConnectionDrops() async throws {
        let f = try await BusFixture.make("rpc-drop", heartbeatSeconds: 2)
        let client = try await RPCClient.start(on: f.connection)
        // Nobody consumes the queue: without the drop this would wait the full five minutes.
        async let outcome: AMQPError? = {
            do throws(AMQPError) {
                _ = try await client.request(exchange: "", routingKey: f.queue, body: [1], timeout: .seconds(300))
                return nil
            } catch { return error }
        }()
        try await Task.sleep(for: .milliseconds(300))
        let clock = ContinuousClock()
        let start = clock.now
        try await TestEnvironment.stack("stop-rabbitmq")
        let error = await outcome
        #expect(error?.kind == .connectionLost)
        #expect(error?.isRetriable == true)
        // Measured from before the stop script, which alone takes tens of seconds on a loaded machine;
        // a request left to its timeout would take five minutes.
        #expect(clock.now - start < .seconds(150), "failed when the connection dropped, not at the timeout")
        try await TestEnvironment.stack("start-rabbitmq")
        #expect(await TestEnvironment.eventually(timeout: .seconds(30)) { f.connection.isConnected })
        await f.cleanUp()
    }

    @Test func nothingConfirmedIsLostAndConsumersResume() async throws {
        let f = try await BusFixture.make("restart", heartbeatSeconds: 2)
        let consumerConnection = try await AMQPConnection.connect(url: TestEnvironment.amqpURL, heartbeatSeconds: 2, name: "restart-consumer")
        let consumer = try await consumerConnection.consume(queue: f.queue, prefetch: 50)
        let received = Received()
        let reader = Task {
            for await d in consumer {
                await received.add(d.text)
                d.ack()
            }
        }
        var confirmed = Set<String>()
        func publish(_ texts: [String]) async -> [AMQPError] {
            let results = await f.connection.publish(batch: texts.map { f.message($0) })
            var errors: [AMQPError] = []
            for (t, r) in zip(texts, results) {
                switch r {
                case .success: confirmed.insert(t)
                case .failure(let e): errors.append(e)
                }
            }
            return errors
        }

        #expect(await publish((0..<200).map { "before-\($0)" }).isEmpty)
        try await TestEnvironment.stack("stop-rabbitmq")
        #expect(await TestEnvironment.eventually(timeout: .seconds(30)) { !f.connection.isConnected })

        // While the broker is down, a publish fails at once with a retriable error: it never hangs
        // and never pretends to succeed.
        let during = await publish(["during-0"])
        #expect(during.count == 1)
        #expect(during.allSatisfy { $0.isRetriable })

        try await TestEnvironment.stack("start-rabbitmq")
        #expect(await TestEnvironment.eventually(timeout: .seconds(30)) { f.connection.isConnected && consumerConnection.isConnected })

        // After the restart, retry what fails until it is confirmed (bounded).
        var pendingAfter = (0..<200).map { "after-\($0)" }
        for _ in 0..<20 where !pendingAfter.isEmpty {
            _ = await publish(pendingAfter)
            pendingAfter.removeAll { confirmed.contains($0) }
            if !pendingAfter.isEmpty { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(pendingAfter.isEmpty)
        #expect(confirmed.count == 400)

        // The consumer started before the restart receives every confirmed message.
        let all = await TestEnvironment.eventually(timeout: .seconds(30)) { await received.texts.isSuperset(of: confirmed) }
        let missing = confirmed.subtracting(await received.texts)
        #expect(all, "missing \(missing.count) confirmed messages, e.g. \(missing.sorted().prefix(5))")
        reader.cancel()
        consumer.cancel()
        await consumerConnection.close()
        await f.cleanUp()
    }
}
