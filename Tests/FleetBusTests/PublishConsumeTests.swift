import FleetBus
import FleetTestSupport
import Testing

@Suite("publish and consume against a real broker")
struct PublishConsumeTests {
    @Test func roundTripKeepsBodyAndProperties() async throws {
        let f = try await BusFixture.make("roundtrip")
        defer { Task { await f.cleanUp() } }
        var props = MessageProperties(
            contentType: "application/json", correlationId: "c-1", messageId: "m-1",
            headers: ["x-fleet-version": "1", "attempt": 3, "flag": true])
        props.type = "hosts.upsert"
        try await f.connection.publish(OutgoingMessage(exchange: "", routingKey: f.queue, body: Array("{\"a\":1}".utf8), properties: props))
        let consumer = try await f.connection.consume(queue: f.queue, prefetch: 10)
        let got = await take(1, from: consumer, timeout: .seconds(5))
        try #require(got.count == 1)
        let d = got[0]
        #expect(d.text == "{\"a\":1}")
        #expect(d.routingKey == f.queue)
        #expect(d.properties.contentType == "application/json")
        #expect(d.properties.correlationId == "c-1")
        #expect(d.properties.messageId == "m-1")
        #expect(d.properties.type == "hosts.upsert")
        #expect(d.properties.persistent)
        #expect(d.properties.headers["x-fleet-version"] == .string("1"))
        #expect(d.properties.headers["attempt"] == .int(3))
        #expect(d.properties.headers["flag"] == .bool(true))
        #expect(!d.redelivered)
    }

    /// Work handed to a closed connection is refused at once, never left waiting for a thread
    /// that has gone.
    @Test(.timeLimit(.minutes(1))) func aClosedConnectionRefusesLaterWorkAtOnce() async throws {
        let connection = try await AMQPConnection.connect(url: TestEnvironment.amqpURL, name: "test-closed")
        await connection.close()
        let started = ContinuousClock.now
        await #expect(throws: AMQPError.self) {
            try await connection.declare(Topology(queues: [QueueDeclaration(name: "test.after-close", durable: false, autoDelete: true)]))
        }
        await #expect(throws: AMQPError.self) {
            try await connection.publish(OutgoingMessage(exchange: "", routingKey: "test.after-close", body: [1]))
        }
        await connection.close()  // twice is fine
        // Work left waiting would wait forever (the time limit); answered at once is milliseconds.
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    @Test func tenThousandBatchedMessagesAreConsumedExactlyOnce() async throws {
        let f = try await BusFixture.make("tenk")
        defer { Task { await f.cleanUp() } }
        let count = 10_000
        let results = await f.connection.publish(batch: (0..<count).map { f.message("m\($0)") })
        #expect(results.count == count)
        #expect(results.allSatisfy { (try? $0.get()) != nil })

        let consumer = try await f.connection.consume(queue: f.queue, prefetch: 500)
        let got = await take(count, from: consumer, timeout: .seconds(60))
        #expect(got.count == count)
        #expect(Set(got.map(\.text)) == Set((0..<count).map { "m\($0)" }))
        // Acks went out: nothing is redelivered to a second consumer.
        consumer.cancel()
        let second = try await f.connection.consume(queue: f.queue, prefetch: 10)
        let leftovers = await take(1, from: second, timeout: .milliseconds(700))
        #expect(leftovers.isEmpty)
    }

    @Test func unroutableMandatoryMessageFailsAloneInItsBatch() async throws {
        let f = try await BusFixture.make("mandatory")
        defer { Task { await f.cleanUp() } }
        var batch = (0..<5).map { f.message("ok\($0)") }
        for i in batch.indices { batch[i].mandatory = true }
        batch.insert(OutgoingMessage(exchange: "", routingKey: "no.such.queue.\(f.queue)", body: [1], mandatory: true), at: 2)
        let results = await f.connection.publish(batch: batch)
        for (i, r) in results.enumerated() {
            if i == 2 {
                #expect(throws: AMQPError.self) { try r.get() }
                if case .failure(let e) = r { #expect(e.kind == .returned(code: 312)) }
            } else {
                #expect((try? r.get()) != nil, "message \(i) should be confirmed")
            }
        }
        // The connection stays usable after a return.
        try await f.connection.publish(f.message("after"))
    }

    @Test func brokerNackFailsExactlyTheMessagesItConcerns() async throws {
        // A full queue with reject-publish makes the broker basic.nack further publishes.
        let connection = try await AMQPConnection.connect(url: TestEnvironment.amqpURL, name: "nack")
        defer { Task { await connection.close() } }
        let queue = TestEnvironment.uniqueName("full")
        try await connection.declare(
            Topology(queues: [
                QueueDeclaration(
                    name: queue, durable: false, autoDelete: true,
                    arguments: ["x-max-length": 5, "x-overflow": "reject-publish"])
            ]))
        let batch = (0..<8).map { OutgoingMessage(exchange: "", routingKey: queue, body: Array("m\($0)".utf8)) }
        let results = await connection.publish(batch: batch)
        let outcomes = results.map { r -> String in
            switch r {
            case .success: return "ok"
            case .failure(let e): return e.kind == .nacked ? "nacked" : "other: \(e)"
            }
        }
        #expect(outcomes == Array(repeating: "ok", count: 5) + Array(repeating: "nacked", count: 3))
        #expect(results.compactMap { if case .failure(let e) = $0 { e } else { nil } }.allSatisfy { $0.isRetriable })
    }

    @Test func nackedAndRejectedMessagesAreDeadLettered() async throws {
        let f = try await BusFixture.make("dlq")
        defer { Task { await f.cleanUp() } }
        _ = await f.connection.publish(batch: [f.message("to-nack"), f.message("to-reject")])
        let consumer = try await f.connection.consume(queue: f.queue, prefetch: 10)
        let got = await take(2, from: consumer, timeout: .seconds(5), ack: false)
        try #require(got.count == 2)
        for d in got {
            if d.text == "to-nack" { d.nack(requeue: false) } else { d.reject(requeue: false) }
        }
        let dead = try await f.connection.consume(queue: f.deadQueue, prefetch: 10)
        let deadLettered = await take(2, from: dead, timeout: .seconds(5))
        #expect(Set(deadLettered.map(\.text)) == ["to-nack", "to-reject"])
        #expect(deadLettered.allSatisfy { $0.deathReason == "rejected" })
    }

    @Test func publishingToMissingExchangeFailsAndConnectionRecovers() async throws {
        let f = try await BusFixture.make("noexchange")
        defer { Task { await f.cleanUp() } }
        let bad = OutgoingMessage(exchange: "no.such.exchange.\(f.queue)", routingKey: "x", body: [1])
        await #expect(throws: AMQPError.self) { try await f.connection.publish(bad) }
        // The channel error is recovered by reconnecting: later publishes succeed.
        let recovered = await TestEnvironment.eventually(timeout: .seconds(30)) {
            (try? await f.connection.publish(f.message("later"))) != nil
        }
        #expect(recovered)
    }

    @Test func idleConnectionKeepsHeartbeating() async throws {
        // A 1 s heartbeat: the broker drops a connection that is silent for 2 s.
        let f = try await BusFixture.make("heartbeat", heartbeatSeconds: 1)
        defer { Task { await f.cleanUp() } }
        let before = f.connection.generation
        try await Task.sleep(for: .seconds(4))
        try await f.connection.publish(f.message("still-here"))
        #expect(f.connection.generation == before, "the connection was dropped and re-established")
    }

    @Test func wrongCredentialsFailFastWithoutRetry() async throws {
        let url = TestEnvironment.amqpURL.replacingOccurrences(of: "guest:guest", with: "guest:wrong")
        let clock = ContinuousClock()
        let elapsed = await clock.measure {
            await #expect(throws: AMQPError.self) { _ = try await AMQPConnection.connect(url: url) }
        }
        // A connect that retried would back off and retry for ever; one that gives up answers in
        // milliseconds. The bound only tells the two apart.
        #expect(elapsed < .seconds(20))
    }
}
