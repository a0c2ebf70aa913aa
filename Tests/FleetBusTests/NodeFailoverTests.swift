import FleetBus
import FleetTestSupport
import Foundation
import Testing

/// A connection given several nodes (`FLEET_AMQP_URL` with commas) takes the first that answers
/// and, when its node dies, goes on on another with its consumers. The second "node" here is a TCP
/// relay in front of the test broker, so killing the relay is a node dying under the connection;
/// `make cluster-test` does the same across a real cluster.
@Suite("node failover")
struct NodeFailoverTests {
    @Test func aDeadNodeInTheListIsPassedOver() async throws {
        let live = try #require(URLComponents(string: TestEnvironment.amqpURL))
        var dead = live
        dead.port = 1  // nothing listens there
        let connection = try await AMQPConnection.connect(url: "\(dead.string!),\(live.string!)", name: "failover-dead-first")
        #expect(connection.isConnected)
        await connection.close()
    }

    @Test(.timeLimit(.minutes(1))) func whenItsNodeDiesTheConnectionMovesToAnotherAndItsConsumerResumes() async throws {
        let live = try #require(URLComponents(string: TestEnvironment.amqpURL))
        let relay = try TCPRelay(to: live.port ?? 5672)
        defer { relay.kill() }
        var viaRelay = live
        viaRelay.port = relay.port
        let connection = try await AMQPConnection.connect(url: "\(viaRelay.string!),\(live.string!)", name: "failover")
        defer { Task { await connection.close() } }
        let queue = TestEnvironment.uniqueName("failover")
        var declaration = QueueDeclaration.quorum(queue, deadLetterExchange: nil)
        declaration.arguments["x-expires"] = .int(60_000)
        try await connection.declare(Topology(queues: [declaration]))
        let consumer = try await connection.consume(queue: queue, prefetch: 10)
        let received = Received()
        let reader = Task {
            for await d in consumer {
                d.ack()
                await received.add(d.text)
            }
        }
        defer { reader.cancel() }
        try await connection.publish(OutgoingMessage(exchange: "", routingKey: queue, body: Array("before".utf8)))
        #expect(await TestEnvironment.eventually(timeout: .seconds(5)) { await received.texts == ["before"] })
        #expect(relay.connections() >= 1, "the connection went through the first node in the list")

        let before = connection.generation
        relay.kill()
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(20)) { connection.isConnected && connection.generation > before },
            "reconnected, to the node left")
        // The consumer goes on there: the queue is declared again and consumed on the new connection
        // ("before" may come again first: its ack may have died with the node).
        try await connection.publish(OutgoingMessage(exchange: "", routingKey: queue, body: Array("after".utf8)))
        let both = await TestEnvironment.eventually(timeout: .seconds(5)) {
            let texts = await received.texts
            return texts.last == "after" && Set(texts) == ["before", "after"]
        }
        let texts = await received.texts
        #expect(both, "\(texts)")
    }
}

private actor Received {
    private(set) var texts: [String] = []
    func add(_ text: String) { texts.append(text) }
}

/// A TCP relay on 127.0.0.1 in front of a local port (a small Python process): a broker node that
/// can be killed without touching the broker.
final class TCPRelay {
    let port: Int
    private let process: Process
    private let countFile: String

    init(to target: Int) throws {
        port = Int.random(in: 20_000...29_999)
        countFile = NSTemporaryDirectory() + "relay-\(port).count"
        let script = """
            import asyncio, sys
            target, port, count_file = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
            seen = 0
            async def pipe(r, w):
                try:
                    while data := await r.read(65536):
                        w.write(data); await w.drain()
                finally:
                    w.close()
            async def serve(r, w):
                global seen
                seen += 1
                open(count_file, "w").write(str(seen))
                tr, tw = await asyncio.open_connection("127.0.0.1", target)
                await asyncio.gather(pipe(r, tw), pipe(tr, w), return_exceptions=True)
            async def main():
                server = await asyncio.start_server(serve, "127.0.0.1", port)
                open(count_file, "w").write("0")
                async with server: await server.serve_forever()
            asyncio.run(main())
            """
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, String(target), String(port), countFile]
        try? FileManager.default.removeItem(atPath: countFile)
        try process.run()
        let deadline = Date() + 10
        while !FileManager.default.fileExists(atPath: countFile) && Date() < deadline { usleep(20_000) }
    }

    /// How many connections it has taken.
    func connections() -> Int { (try? String(contentsOfFile: countFile, encoding: .utf8)).flatMap { Int($0) } ?? 0 }

    /// SIGKILL: its connections drop at once, as a node's do when it dies.
    func kill() {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}
