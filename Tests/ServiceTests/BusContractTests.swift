import FleetBus
import FleetContracts
import FleetCore
import FleetMessaging
import FleetRuntime
import FleetTestSupport
import Foundation
import Testing

@Suite("bus contract: dead letters and draining")
struct BusContractTests {
    @Test func malformedMessageIsDeadLetteredAndTheServiceKeepsServing() async throws {
        let s = try await ServiceStack.shared.handle()
        let marker = unique("malformed-")
        let raw = try await AMQPConnection.connect(url: TestEnvironment.serviceAMQPURL, name: "raw")
        defer { Task { await raw.close() } }
        try await raw.publish(
            OutgoingMessage(
                exchange: BusNames.commandsExchange, routingKey: Route.hostsGet,
                body: Array("{not json".utf8), properties: MessageProperties(messageId: marker)))
        // Still serving.
        #expect(await s.bus.call(Route.hostsGet, ["id": "whatever"]).status == 404)
        // The message sits in fleet.dead, rejected (other runs' dead letters may be there too).
        let dead = try await raw.consume(queue: BusNames.deadLetterQueue, prefetch: 100)
        var found: Delivery?
        let deadline = ContinuousClock.now + .seconds(10)
        for await d in dead {
            d.ack()
            if d.properties.messageId == marker {
                found = d
                break
            }
            if ContinuousClock.now > deadline { break }
        }
        dead.cancel()
        #expect(found?.deathReason == "rejected")
        #expect(found.map { String(decoding: $0.body, as: UTF8.self) } == "{not json")
    }

    /// What the services declared, as the broker holds it: every queue of theirs a quorum queue,
    /// each but `fleet.dead` dead-lettering to `fleet.dlx` with the broker's delivery limit.
    @Test func everyServiceQueueIsAQuorumQueueWithADeliveryLimit() async throws {
        _ = try await ServiceStack.shared.handle()
        var m = Enrolled.management
        let auth = "Basic " + Data("\(m.user ?? "guest"):\(m.password ?? "guest")".utf8).base64EncodedString()
        let vhost = try #require(URLComponents(string: TestEnvironment.serviceAMQPURL)?.path.dropFirst())
        (m.user, m.password) = (nil, nil)
        m.percentEncodedPath = "/api/queues/" + (vhost.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
        m.query = "columns=name,type,arguments"
        let (status, body) = try await Enrolled.http(m.string!, authorization: auth)
        try #require(status == 200, "GET \(m.path): \(status)")
        let queues = Dictionary(
            (JSONCoding.decode(Array(body.utf8))?.arrayValue ?? []).compactMap { q in q["name"]?.stringValue.map { ($0, q) } },
            uniquingKeysWith: { a, _ in a })
        let serving = ServiceName.allCases.map(BusNames.serviceQueue) + [BusNames.resultsQueue, BusNames.rolloutEventsQueue, BusNames.schedulerEventsQueue]
        for name in serving {
            let q = queues[name]
            #expect(q?["type"] == "quorum", "\(name): \(String(describing: q))")
            #expect(q?["arguments"]?["x-delivery-limit"] == .int(Int64(BusNames.brokerDeliveryLimit)), "\(name)")
            #expect(q?["arguments"]?["x-dead-letter-exchange"] == .string(BusNames.deadLetterExchange), "\(name)")
        }
        #expect(queues[BusNames.deadLetterQueue]?["type"] == "quorum")
    }

    /// Consumers check the contract version: another one is refused (400), its absence is version 1.
    @Test func aCommandOfAnotherContractVersionIsRefused() async throws {
        let s = try await ServiceStack.shared.handle()
        func call(_ headers: [String: AMQPFieldValue]) async throws -> BusReply? {
            let delivery = try await s.bus.rpc.request(
                exchange: BusNames.commandsExchange, routingKey: Route.hostsGet,
                body: JSONCoding.encode(["id": "no-such-host"]),
                properties: MessageProperties(contentType: "application/json", persistent: false, headers: headers),
                timeout: .seconds(15))
            return JSONCoding.decode(delivery.body).flatMap(BusReply.init(json:))
        }
        let other = try await call([BusNames.versionHeader: "2"])
        #expect(other?.status == 400 && other?.error?.error == "unsupported_version", "\(String(describing: other))")
        #expect(try await call([BusNames.versionHeader: .string(BusNames.contractVersion)])?.status == 404)
        #expect(try await call([:])?.status == 404)
    }

    @Test func noServiceIs503AndASilentServiceIs504() async throws {
        let s = try await ServiceStack.shared.handle()
        let nobody = await s.bus.call("nobody.\(unique("x")).get", [:])
        #expect(nobody.status == 503)
        #expect(nobody.error?.error == "unavailable")
        // A queue bound for the route, with no consumer: the command waits, nobody answers.
        let route = "silent.\(unique("x"))"
        try await s.connection.declare(
            Topology(
                queues: [QueueDeclaration(name: route, durable: false, exclusive: true, autoDelete: true)],
                bindings: [BindingDeclaration(queue: route, exchange: BusNames.commandsExchange, routingKey: route)]))
        let impatient = BusClient(rpc: s.bus.rpc, timeout: .milliseconds(300))
        let silent = await impatient.call(route, [:])
        #expect(silent.status == 504)
        #expect(silent.error?.error == "timeout")
    }

    /// Services with background work and a /metrics endpoint stop in order on SIGTERM, at once:
    /// every part waits for its turn (an endpoint that stopped on its own would fail the group).
    @Test(arguments: ["fleet-bulk-dispatcher", "fleet-rollout-controller", "fleet-scheduler"])
    func sigtermStopsEveryPartInOrderAndExitsZero(service: String) async throws {
        _ = try await ServiceStack.shared.handle()  // the vhost and its topology exist
        let port = TestEnvironment.freePort()
        let replica = try ServiceProcess(service, environment: ["FLEET_METRICS_PORT": String(port)])
        #expect(await replica.waitForLog("serving", "listening on 127.0.0.1:\(port)"), "\(replica.log.suffix(1500))")
        let asked = ContinuousClock.now
        let status = await replica.terminate()
        #expect(status == 0, "\(replica.log.suffix(1500))")
        // Promptly: no timer loop (a retention sweep waits a minute between runs) holds it up.
        #expect(ContinuousClock.now - asked < .seconds(20), "stopped \(ContinuousClock.now - asked) after SIGTERM")
    }

    @Test func sigtermDrainsInFlightCommandsAndExitsZero() async throws {
        let s = try await ServiceStack.shared.handle()
        // With its /metrics endpoint up, which must stop in the same orderly shutdown.
        let replica = try ServiceProcess("fleet-groups", environment: ["FLEET_METRICS_PORT": String(TestEnvironment.freePort())])
        #expect(await replica.waitForLog("serving"), "\(replica.log.suffix(1500))")
        // Many commands in flight across both replicas, then SIGTERM to one of them.
        async let replies = withTaskGroup(of: Int.self) { group in
            for i in 0..<200 { group.addTask { await s.bus.call(Route.groupsGet, ["id": .string("missing-\(i)")]).status } }
            return await group.reduce(into: [Int]()) { $0.append($1) }
        }
        try await Task.sleep(for: .milliseconds(30))
        let exitStatus = await replica.terminate()
        let statuses = await replies
        #expect(exitStatus == 0)
        #expect(statuses.count == 200)
        #expect(statuses.allSatisfy { $0 == 404 }, "every command answered, none lost: \(Set(statuses))")
        #expect(replica.log.contains("drained"))
    }
}
