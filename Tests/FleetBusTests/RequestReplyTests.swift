import FleetBus
import FleetTestSupport
import Synchronization
import Testing

@Suite("request/reply over the broker")
struct RequestReplyTests {
    /// A responder on `queue` that answers `echo` with the request body reversed and dead-letters `poison`.
    private func startResponder(_ f: BusFixture) async throws -> (AMQPConnection, Task<Void, Never>) {
        let server = try await AMQPConnection.connect(url: TestEnvironment.amqpURL, name: "responder")
        let router = RequestRouter(handlers: [
            "echo": { d in .reply(Array(d.body.reversed())) },
            "poison": { _ in .deadLetter(reason: "undecodable") },
        ])
        try await server.declare(f.requestExchange)
        let consumer = try await server.consume(queue: f.queue, prefetch: 50)
        let task = Task { await router.serve(consumer, replies: server) }
        return (server, task)
    }

    @Test func hundredConcurrentRequestsGetTheirOwnReplies() async throws {
        let f = try await BusFixture.make("rpc")
        let (server, serving) = try await startResponder(f)
        let client = try await RPCClient.start(on: f.connection)
        let replies = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for i in 0..<100 {
                group.addTask {
                    let r = try await client.request(exchange: f.queue + ".x", routingKey: "echo", body: Array("req-\(i)".utf8), timeout: .seconds(10))
                    return (i, String(decoding: r.body, as: UTF8.self))
                }
            }
            var out: [Int: String] = [:]
            for try await (i, text) in group { out[i] = text }
            return out
        }
        #expect(replies.count == 100)
        for i in 0..<100 { #expect(replies[i] == String("req-\(i)".reversed())) }
        serving.cancel()
        await server.close()
        await f.cleanUp()
    }

    /// A request the caller gave no message id gets one of its own (what a create handled twice
    /// after a crash is recognised by); one given is kept.
    @Test func everyRequestCarriesAMessageIDOfItsOwn() async throws {
        let f = try await BusFixture.make("rpc-ids")
        let server = try await AMQPConnection.connect(url: TestEnvironment.amqpURL, name: "responder-ids")
        let router = RequestRouter(handlers: ["id": { d in .reply(Array((d.properties.messageId ?? "").utf8)) }])
        try await server.declare(f.requestExchange)
        let consumer = try await server.consume(queue: f.queue, prefetch: 10)
        let serving = Task { await router.serve(consumer, replies: server) }
        let client = try await RPCClient.start(on: f.connection)
        func id(_ given: String?) async throws -> String {
            let reply = try await client.request(
                exchange: f.queue + ".x", routingKey: "id", body: [1], properties: MessageProperties(messageId: given), timeout: .seconds(10))
            return String(decoding: reply.body, as: UTF8.self)
        }
        let first = try await id(nil), second = try await id(nil)
        #expect(!first.isEmpty && !second.isEmpty && first != second, "\(first) \(second)")
        #expect(try await id("the-callers-key") == "the-callers-key")
        serving.cancel()
        await server.close()
        await f.cleanUp()
    }

    @Test func requestWithoutAnyQueueFailsAtOnce() async throws {
        let f = try await BusFixture.make("rpc-noroute")
        let client = try await RPCClient.start(on: f.connection)
        await #expect(throws: AMQPError.self) {
            _ = try await client.request(exchange: "", routingKey: "nobody.listens.\(f.queue)", body: [1], timeout: .seconds(30))
        }
        await f.cleanUp()
    }

    @Test func unansweredRequestTimesOut() async throws {
        let f = try await BusFixture.make("rpc-timeout")
        let client = try await RPCClient.start(on: f.connection)
        // The queue exists but nobody consumes it.
        do {
            _ = try await client.request(exchange: "", routingKey: f.queue, body: [1], timeout: .milliseconds(300))
            Issue.record("expected a timeout")
        } catch {
            #expect(error.kind == .timeout)
        }
        await f.cleanUp()
    }

    @Test func poisonAndUnknownRequestsAreDeadLetteredAndTheResponderKeepsServing() async throws {
        let f = try await BusFixture.make("rpc-poison")
        let (server, serving) = try await startResponder(f)
        let client = try await RPCClient.start(on: f.connection)
        await #expect(throws: AMQPError.self) {
            _ = try await client.request(exchange: f.queue + ".x", routingKey: "poison", body: [1], timeout: .milliseconds(500))
        }
        await #expect(throws: AMQPError.self) {
            _ = try await client.request(exchange: f.queue + ".x", routingKey: "unknown.action", body: [2], timeout: .milliseconds(500))
        }
        let ok = try await client.request(exchange: f.queue + ".x", routingKey: "echo", body: Array("ab".utf8), timeout: .seconds(5))
        #expect(String(decoding: ok.body, as: UTF8.self) == "ba")
        let dead = try await f.connection.consume(queue: f.deadQueue, prefetch: 10)
        // Both requests timed out at the caller; on a loaded machine the responder may still be
        // getting to one of them: the dead letters get the time a slow delivery takes.
        let deadLettered = await take(2, from: dead, timeout: .seconds(20))
        #expect(Set(deadLettered.map(\.routingKey)) == ["poison", "unknown.action"])
        serving.cancel()
        await server.close()
        await f.cleanUp()
    }

    /// A request that keeps failing is handled `deliveryLimit` times, then dead-lettered with its
    /// count and reason; one the broker hands back unsettled (its handler died) is counted too.
    @Test func aRequestIsHandledAtMostDeliveryLimitTimesThenDeadLettered() async throws {
        let f = try await BusFixture.make("rpc-limit")
        let server = try await AMQPConnection.connect(url: TestEnvironment.amqpURL, name: "limit-responder")
        let handled = Mutex<[String: Int]>([:])
        let router = RequestRouter(
            handlers: [
                "flaky": { d in
                    handled.withLock { $0[d.text, default: 0] += 1 }
                    return .retryLater(reason: "dependency down")
                }
            ], deliveryLimit: 5)
        try await server.declare(f.requestExchange)
        func flaky(_ text: String) -> OutgoingMessage {
            OutgoingMessage(exchange: f.queue + ".x", routingKey: "flaky", body: Array(text.utf8), properties: MessageProperties(contentType: "text/plain"))
        }
        // The first delivery of "crashed" goes to a consumer that hands it back unsettled, as a
        // handler that died would: the broker redelivers it marked redelivered.
        let crashing = try await server.consume(queue: f.queue, prefetch: 1)
        try await f.connection.publish(flaky("crashed"))
        let first = await take(1, from: crashing, timeout: .seconds(5), ack: false)
        #expect(first.map(\.text) == ["crashed"])
        crashing.cancel()
        first.first?.nack(requeue: true)
        try await f.connection.publish(flaky("failing"))
        let consumer = try await server.consume(queue: f.queue, prefetch: 10)
        let serving = Task { await router.serve(consumer, replies: server) }

        let dead = try await f.connection.consume(queue: f.deadQueue, prefetch: 10)
        let deadLettered = await take(2, from: dead, timeout: .seconds(20))
        #expect(Set(deadLettered.map(\.text)) == ["crashed", "failing"])
        // "failing": five failed handlings; "crashed": one unsettled delivery, then four handlings.
        #expect(handled.withLock { $0 } == ["failing": 5, "crashed": 4])
        for d in deadLettered {
            #expect(d.properties.headers[RequestRouter.deliveriesHeader]?.intValue == 5, "\(d.text)")
            #expect(d.properties.headers[RequestRouter.failureHeader]?.stringValue == "dependency down")
            #expect(d.deathReason == "rejected")
        }
        serving.cancel()
        await server.close()
        await f.cleanUp()
    }

    /// A message whose dependency is away (`.unavailable`) comes back after a growing pause, as
    /// often as it takes, never dead-lettered for it; `.done` acks it; a fallback takes routing
    /// keys no handler is named for (events carry ids in theirs).
    @Test func anUnavailableDependencyIsWaitedOutWithPausesAndNotCounted() async throws {
        let f = try await BusFixture.make("rpc-unavailable")
        let server = try await AMQPConnection.connect(url: TestEnvironment.amqpURL, name: "unavailable-responder")
        let attempts = Mutex<[ContinuousClock.Instant]>([])
        let clock = ContinuousClock()
        let router = RequestRouter(
            handlers: [:],
            fallback: { d in
                let count = attempts.withLock {
                    $0.append(clock.now)
                    return $0.count
                }
                return count <= 5 ? .unavailable(reason: "redis is loading") : .done
            }, deliveryLimit: 5)
        try await server.declare(f.requestExchange)
        let consumer = try await server.consume(queue: f.queue, prefetch: 10)
        let serving = Task { await router.serve(consumer, replies: server) }
        try await f.connection.publish(
            OutgoingMessage(exchange: f.queue + ".x", routingKey: "bulk.op-1.finished", body: Array("event".utf8)))
        #expect(await TestEnvironment.eventually(timeout: .seconds(30)) { attempts.withLock { $0.count } == 6 })
        try await Task.sleep(for: .milliseconds(300))
        let times = attempts.withLock { $0 }
        #expect(times.count == 6, "handled once more than it was unavailable, then acked")
        // 100 ms, doubling: 0.1, 0.2, 0.4, 0.8, 1.6 s.
        let gaps = zip(times.dropFirst(), times).map { $0 - $1 }
        #expect(gaps.first.map { $0 >= .milliseconds(90) } ?? false, "\(gaps)")
        #expect(gaps.last.map { $0 >= .milliseconds(1_400) } ?? false, "the pause grew: \(gaps)")
        let dead = try await f.connection.consume(queue: f.deadQueue, prefetch: 10)
        #expect(await take(1, from: dead, timeout: .milliseconds(500)).isEmpty, "more than the delivery limit, and not dead-lettered")
        serving.cancel()
        await server.close()
        await f.cleanUp()
    }

    /// A request whose caller stopped waiting is not handled: expired in the queue by the broker
    /// (it carries the caller's timeout), or dropped by the router when it was already taken.
    @Test func aRequestWhoseCallerGaveUpIsNotHandled() async throws {
        let f = try await BusFixture.make("rpc-gave-up")
        let server = try await AMQPConnection.connect(url: TestEnvironment.amqpURL, name: "gave-up-responder")
        try await server.declare(f.requestExchange)
        let client = try await RPCClient.start(on: f.connection)
        // Nobody serves the queue yet: the caller times out, and its request expires where it waits.
        await #expect(throws: AMQPError.self) {
            _ = try await client.request(exchange: f.queue + ".x", routingKey: "work", body: Array("late".utf8), timeout: .milliseconds(200))
        }
        // One already past its deadline, without an expiration: as if a handler had held it too long.
        let past = RPCClient.nowMs() - 5_000
        try await f.connection.publish(
            OutgoingMessage(
                exchange: f.queue + ".x", routingKey: "work", body: Array("stale".utf8),
                properties: MessageProperties(headers: [RPCClient.deadlineHeader: .int(past)])))
        try await Task.sleep(for: .milliseconds(400))
        let handled = Mutex<[String]>([])
        let router = RequestRouter(handlers: [
            "work": { d in
                handled.withLock { $0.append(d.text) }
                return .reply(d.body)
            }
        ])
        let consumer = try await server.consume(queue: f.queue, prefetch: 10)
        let serving = Task { await router.serve(consumer, replies: server) }
        let fresh = try await client.request(exchange: f.queue + ".x", routingKey: "work", body: Array("fresh".utf8), timeout: .seconds(5))
        #expect(fresh.text == "fresh")
        #expect(handled.withLock { $0 } == ["fresh"])
        let dead = try await f.connection.consume(queue: f.deadQueue, prefetch: 10)
        let expired = await take(1, from: dead, timeout: .seconds(5))
        #expect(expired.map(\.text) == ["late"] && expired.first?.deathReason == "expired")
        serving.cancel()
        await server.close()
        await f.cleanUp()
    }
}
