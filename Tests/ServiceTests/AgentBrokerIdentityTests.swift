import FleetBus
import FleetContracts
import FleetCore
import FleetMessaging
import FleetRuntime
import FleetTestSupport
import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Issue 21, the broker side: with one enrolled agent's own broker user (made by
/// `fleet-gateway enroll-agent` through RabbitMQ's management API), what the broker refuses and
/// what the services refuse. Each refusal is checked by its effect, not only by an error.
@Suite(.serialized) struct AgentBrokerIdentityTests {
    @Test(.timeLimit(.minutes(2))) func anAgentUserCanServeItsOwnQueueAndNothingElse() async throws {
        _ = try await ServiceStack.shared.handle()  // the services declare the exchanges
        // A service connection of this test's own: what it declares and consumes stays off the
        // connection every other test shares.
        let service = try await AMQPConnection.connect(url: TestEnvironment.serviceAMQPURL, name: "ident-service")
        defer { Task { await service.close() } }
        let (host, other) = (unique("ident-"), unique("ident-other-"))
        let url = try await Enrolled.agent(host)
        defer { Task { await Enrolled.revoke(host) } }
        try await service.declare(.agentQueue(BusNames.agentQueue(other), hostIDs: [other]))

        let own = try await AMQPConnection.connect(url: url, name: "ident-own")
        try await own.declare(.agentQueue(BusNames.agentQueue(host), hostIDs: [host]))
        await own.close()

        // Each refusal on a connection of its own: a refused call closes the channel.
        #expect(await refused { try await $0.declare(.agentQueue(BusNames.agentQueue(host), hostIDs: [other])) } == 403, "binding another host's key")
        #expect(await refused { try await $0.declare(.agentQueue(BusNames.agentQueue(host), hostIDs: ["#"])) } == 403, "binding every key")
        #expect(await refused { try await $0.declare(.agentQueue(BusNames.agentQueue(other), hostIDs: [other])) } == 403, "another host's queue")
        #expect(await refused { _ = try await $0.consume(queue: BusNames.agentQueue(other)) } == 403, "consuming another host's queue")

        // Publishing on fleet.commands is refused by the broker: a tap bound there sees nothing.
        let key = unique("ident.tap.")
        let tap = unique("test.ident.tap.")
        try await service.declare(
            Topology(
                queues: [QueueDeclaration(name: tap, durable: false, exclusive: true, autoDelete: true)],
                bindings: [BindingDeclaration(queue: tap, exchange: BusNames.commandsExchange, routingKey: key)]))
        let create: JSONValue = ["operation_type": "run_script", "selector": ["all_hosts": true], "parameters": ["script": "id"]]
        #expect(
            await refused { try await $0.publish(OutgoingMessage(exchange: BusNames.commandsExchange, routingKey: key, body: JSONCoding.encode(create))) }
                == 403)
        #expect(
            await refused { try await $0.publish(OutgoingMessage(exchange: "", routingKey: BusNames.agentQueue(other), body: [])) } == 403,
            "the default exchange")
        // Nor publish an `expired` (which fails a host undeliverable) on `fleet.results`.
        var expired = OutgoingMessage(exchange: BusNames.resultsExchange, routingKey: BusNames.expiredKey, body: [])
        expired.properties.persistent = false
        #expect(await refused { try await $0.publish(expired) } == 403, "expired on fleet.results")
        // Nor may it pose as another broker user.
        var posing = OutgoingMessage(exchange: BusNames.fromAgentsExchange, routingKey: BusNames.resultKey, body: [])
        posing.properties.userId = "guest"
        #expect(await refused { try await $0.publish(posing) } == 406)
        let tapped = try await service.consume(queue: tap, noAck: true)
        let got = await firstDelivery(tapped, within: .seconds(1))
        #expect(got == nil, "the broker let a publish to fleet.commands through")

        func refused(_ attempt: (AMQPConnection) async throws -> Void) async -> UInt16? {
            guard let connection = try? await AMQPConnection.connect(url: url, name: "ident-refused") else { return nil }
            defer { Task { await connection.close() } }
            do {
                try await attempt(connection)
                return 0
            } catch let error as AMQPError {
                if case .channelClosed(let code) = error.kind { return code }
                return 1
            } catch {
                return 2
            }
        }
    }

    @Test(.timeLimit(.minutes(2))) func claimsResultsReportsAndFetchesForAnotherHostAreRefusedAndMoveNothing() async throws {
        let s = try await ServiceStack.shared.handle()
        let tag = unique("ident")
        let (mine, theirs) = ("\(tag)-mine", "\(tag)-theirs")
        _ = await s.bus.call(
            Route.hostsUpsert, ["hosts": .array([mine, theirs].map { ["id": .string($0), "tags": [.string(tag)], "approval_status": "approved"] })])
        let url = try await Enrolled.agent(mine)
        defer { Task { await Enrolled.revoke(mine) } }
        let connection = try await AMQPConnection.connect(url: url, name: "ident-agent")
        defer { Task { await connection.close() } }
        try await connection.declare(.agentQueue(BusNames.agentQueue(mine), hostIDs: [mine]))
        let unserved = try await TestAgent.bind([theirs])  // bound, so its command is held, never run
        defer { Task { await unserved.close() } }
        let agentBus = BusClient(rpc: try await RPCClient.start(on: connection), timeout: .seconds(3))
        let before = try await refusals(s)

        let created = await s.bus.call(Route.bulkCreate, ["operation_type": "reboot", "selector": ["tags": [.string(tag)]]])
        let op = try #require(created.body?["id"]?.stringValue)

        // A claim naming another host gets no answer (it is dead-lettered), and claims nothing.
        let stolen = await agentBus.call(Route.bulkClaim, ClaimRequest(opID: op, hostIDs: [theirs], agentID: mine).json)
        #expect(stolen.status == 504, "\(stolen)")
        let mixed = await agentBus.call(Route.bulkClaim, ClaimRequest(opID: op, hostIDs: [mine, theirs], agentID: mine).json)
        #expect(mixed.status == 504, "a claim naming one foreign host is refused whole: \(mixed)")
        // A result for another host moves nothing.
        try await connection.publish(
            OutgoingMessage(
                AgentResult(opID: op, hostID: theirs, status: .failed, reason: .exitCode, exitCode: 1), exchange: BusNames.fromAgentsExchange,
                routingKey: BusNames.resultKey))
        // Nor may it fetch parameters for a host it does not speak for.
        let fetch = await agentBus.call(Route.bulkParameters, ParametersChunkRequest(opID: op, hostID: theirs, offset: 0, length: 10).json)
        #expect(fetch.status == 504, "\(fetch)")
        // A fact report for another host changes nothing either.
        var report = HostReport(id: theirs)
        report.fqdn = "forged.example"
        let forgedReport = await agentBus.call(Route.hostsReport, report.json)
        #expect(forgedReport.status == 504, "\(forgedReport)")

        // Each refusal is logged, by whichever dispatcher took it (a test may run a replica beside
        // the stack's), and counted by the one that took it.
        let refusedLine = "agent message refused"
        let sender = "amqp.user_id=agent.\(mine)"
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(20)) {
                logLines(s, "fleet-bulk-dispatcher-").filter { $0.contains(refusedLine) && $0.contains(sender) }.count >= 4
            }, "two claims, a result and a fetch refused and logged")
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(20)) {
                logLines(s, "fleet-selector-").contains { $0.contains(refusedLine) && $0.contains(sender) && $0.contains(Route.hostsReport) }
            }, "the forged report refused and logged")
        let stackLog = try String(contentsOfFile: try #require(s.processes.first { $0.name == "fleet-bulk-dispatcher" }).logPath, encoding: .utf8)
        let seenByStack = stackLog.split(separator: "\n").filter { $0.contains(refusedLine) && $0.contains(sender) }.count
        #expect(try await refusals(s) >= before + seenByStack, "the stack's dispatcher counted each refusal it logged")
        let statuses = try await s.redis.send("HGETALL", RedisKeys.bulkHosts(op)).dictionary?.compactMapValues(\.string)
        #expect(statuses?[theirs] == "queued", "the other host did not move: \(String(describing: statuses))")
        #expect(await s.bus.call(Route.hostsGet, ["id": .string(theirs)]).body?["fqdn"] == nil, "the other host's record is unchanged")

        // Its own host: claimed, run, reported, and its own facts recorded.
        let claim = await agentBus.call(Route.bulkClaim, ClaimRequest(opID: op, hostIDs: [mine], agentID: mine), replying: ClaimReply.self)
        #expect((try? claim.get())?.claimed == [mine])
        try await connection.publish(
            OutgoingMessage(AgentResult(opID: op, hostID: mine, status: .succeeded), exchange: BusNames.fromAgentsExchange, routingKey: BusNames.resultKey))
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(20)) {
                (try? await s.redis.send("HGET", RedisKeys.bulkHosts(op), mine).string) == "succeeded"
            })
        var own = HostReport(id: mine)
        own.fqdn = "mine.example"
        #expect(await agentBus.call(Route.hostsReport, own.json).status == 200)
        let record = await s.bus.call(Route.hostsGet, ["id": .string(mine)]).body
        #expect(record?["fqdn"] == "mine.example" && record?["approval_status"] == "approved", "\(String(describing: record))")
    }

    @Test(.timeLimit(.minutes(2))) func anEnrolledAgentRunsOnceApprovedAndARevokedOneIsDisconnected() async throws {
        let s = try await ServiceStack.shared.handle()
        let host = unique("enrolled-")
        let url = try await Enrolled.agent(host)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(unique("enrolled"))
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let urlFile = dir.appendingPathComponent("amqp-url").path
        try Data((url + "\n").utf8).write(to: URL(fileURLWithPath: urlFile))
        let agent = try ServiceProcess(
            "fleet-agent", arguments: ["--host-id", host, "--dry-run", "--state-dir", dir.path],
            environment: ["FLEET_AMQP_URL": "amqp://nobody:nothing@127.0.0.1:1/%2f", "FLEET_AMQP_URL_FILE": urlFile])
        defer { agent.stop() }

        // It registers itself, pending: nothing runs on it yet.
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(30)) {
                let record = await s.bus.call(Route.hostsGet, ["id": .string(host)]).body
                return record?["id"] == .string(host) && (record?["approval_status"] ?? "pending") == "pending"
            })
        let selector: JSONValue = ["explicit_host_ids": [.string(host)]]
        let early = await s.bus.call(Route.bulkCreate, ["operation_type": "reboot", "selector": selector])
        #expect(early.body?["progress"]?["skipped"] == 1, "\(early)")
        _ = await s.bus.call(Route.hostsUpsert, ["hosts": [["id": .string(host), "approval_status": "approved"]]])
        let run = await s.bus.call(Route.bulkCreate, ["operation_type": "reboot", "selector": selector])
        let op = try #require(run.body?["id"])
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(30)) { await s.bus.call(Route.bulkGet, ["id": op]).body?["status"] == "succeeded" },
            "the enrolled agent ran it")

        // The management API lists a new connection once its first statistics arrive (seconds).
        #expect(await TestEnvironment.eventually(timeout: .seconds(15)) { ((try? await Enrolled.connections(of: "agent.\(host)")) ?? 0) > 0 })
        let revokedAt = ContinuousClock.now
        let revoke = try await CommandRun.run("fleet-gateway", ["revoke-agent", host])
        #expect(revoke.status == 0, "\(revoke.stderr)")
        #expect(
            await TestEnvironment.eventually(timeout: .seconds(5)) { ((try? await Enrolled.connections(of: "agent.\(host)")) ?? 1) == 0 },
            "disconnected within 5 s")
        #expect(ContinuousClock.now - revokedAt < .seconds(5))
        // And the agent saw it: its connection was closed by the broker, not merely unlisted.
        let log = (try? String(contentsOfFile: agent.logPath, encoding: .utf8)) ?? ""
        #expect(log.contains("is deleted") || log.contains("CONNECTION_FORCED"), "the agent's connection was closed")
        // Its old URL no longer opens a connection.
        await #expect(throws: AMQPError.self) { _ = try await AMQPConnection.connect(url: url, name: "revoked") }
    }

    /// Deleting the user closes its connections while the revocation closes them too; the
    /// management API answers 500 when one it listed ends under it. With many connections open
    /// that race is likely: each revocation still succeeds and leaves none open.
    @Test(.timeLimit(.minutes(2))) func revokingAUserWithManyConnectionsOpenSucceedsAndClosesThemAll() async throws {
        _ = try await ServiceStack.shared.handle()
        for round in 1...3 {
            let host = unique("revoked-many-")
            let url = try await Enrolled.agent(host)
            var connections: [AMQPConnection] = []
            for i in 0..<40 { connections.append(try await AMQPConnection.connect(url: url, name: "revoke-\(round)-\(i)")) }
            #expect(await TestEnvironment.eventually(timeout: .seconds(15)) { ((try? await Enrolled.connections(of: "agent.\(host)")) ?? 0) == 40 })
            let revoke = try await CommandRun.run("fleet-gateway", ["revoke-agent", host])
            #expect(revoke.status == 0, "round \(round): \(revoke.stderr)")
            #expect(
                await TestEnvironment.eventually(timeout: .seconds(5)) { ((try? await Enrolled.connections(of: "agent.\(host)")) ?? 1) == 0 },
                "round \(round): none left open")
            for connection in connections { await connection.close() }
        }
    }

    /// A request a router publishes again (here: its handler asked to retry) is stamped with the
    /// router's own user by the broker; the copy still names the agent that sent it, so a crash
    /// and a redelivery cannot turn an agent's claim into the services'.
    @Test(.timeLimit(.minutes(2))) func aRequestPublishedAgainKeepsItsSender() async throws {
        _ = try await ServiceStack.shared.handle()
        let service = try await AMQPConnection.connect(url: TestEnvironment.serviceAMQPURL, name: "resent-service")
        defer { Task { await service.close() } }
        let host = unique("resent-")
        let url = try await Enrolled.agent(host)
        defer { Task { await Enrolled.revoke(host) } }
        // A tap of our own on the agents' exchange (the selector gets the same report, for the
        // agent's own host, and records its facts: harmless).
        let tap = unique("test.resent.")
        try await service.declare(
            Topology(
                queues: [QueueDeclaration(name: tap, durable: false, exclusive: true, autoDelete: true)],
                bindings: [BindingDeclaration(queue: tap, exchange: BusNames.fromAgentsExchange, routingKey: Route.hostsReport)]))
        let serviceUser = service.config.user
        let senders = SendersSeen()
        let router = RequestRouter(handlers: [
            Route.hostsReport: { delivery in
                guard JSONCoding.decode(delivery.body)?["id"]?.stringValue == host else { return .deadLetter(reason: "another test's") }
                await senders.add(delivery.properties.userId, delivery.sender(serviceUser: serviceUser))
                return await senders.count < 2 ? .retryLater(reason: "once more") : .deadLetter(reason: "seen twice")
            }
        ])
        let consumer = try await service.consume(queue: tap)
        let serving = Task { await router.serve(consumer, replies: service) }
        defer {
            serving.cancel()
            consumer.cancel()
        }

        let agent = try await AMQPConnection.connect(url: url, name: "resent-agent")
        defer { Task { await agent.close() } }
        try await agent.publish(OutgoingMessage(HostReport(id: host), exchange: BusNames.fromAgentsExchange, routingKey: Route.hostsReport))
        #expect(await TestEnvironment.eventually(timeout: .seconds(20)) { await senders.count >= 2 })
        let seen = await senders.seen
        #expect(seen.first?.0 == "agent.\(host)" && seen.first?.1 == "agent.\(host)", "\(seen)")
        #expect(seen.dropFirst().first?.0 == serviceUser, "the copy is published by the router's own user")
        #expect(seen.dropFirst().first?.1 == "agent.\(host)", "and still names the agent: \(seen)")
    }

    /// The dispatcher's `fleet_agent_refused_total`, all routes summed.
    private func refusals(_ s: ServiceStack.Handle) async throws -> Int {
        let text = try await Enrolled.http("http://127.0.0.1:\(s.dispatcherMetricsPort)/metrics", authorization: nil).1
        return text.split(separator: "\n").filter { $0.hasPrefix("fleet_agent_refused_total") }.compactMap {
            $0.split(separator: " ").last.flatMap { Double($0) }
        }
        .reduce(0) { $0 + Int($1) }
    }

    /// The lines of this run's logs of processes whose log file name starts with `prefix`.
    private func logLines(_ s: ServiceStack.Handle, _ prefix: String) -> [Substring] {
        guard let any = s.processes.first else { return [] }
        let dir = URL(fileURLWithPath: any.logPath).deletingLastPathComponent()
        let files = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return files.filter { $0.hasPrefix(prefix) }.flatMap { name -> [Substring] in
            let text = (try? String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)) ?? ""
            return text.split(separator: "\n")
        }
    }

    private func firstDelivery(_ consumer: AMQPConsumer, within timeout: Duration) async -> Delivery? {
        await withTaskGroup(of: Delivery?.self) { group in
            group.addTask {
                for await d in consumer { return d }
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            consumer.cancel()
            return first
        }
    }
}

/// Enrollment through the real `fleet-gateway` commands, and the management API as the tests read it.
enum Enrolled {
    static func agent(_ host: String) async throws -> String {
        let run = try await CommandRun.run("fleet-gateway", ["enroll-agent", host])
        try #require(run.status == 0, "enroll-agent failed: \(run.stderr)")
        return run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func revoke(_ host: String) async { _ = try? await CommandRun.run("fleet-gateway", ["revoke-agent", host]) }

    static var management: URLComponents {
        URLComponents(string: ProcessInfo.processInfo.environment["FLEET_RABBITMQ_MANAGEMENT_URL"] ?? "http://guest:guest@127.0.0.1:15672")!
    }

    /// How many connections the broker has open for `user`.
    static func connections(of user: String) async throws -> Int {
        var m = management
        let auth = "Basic " + Data("\(m.user ?? "guest"):\(m.password ?? "guest")".utf8).base64EncodedString()
        m.user = nil
        m.password = nil
        m.path = "/api/connections"
        m.query = "columns=user"
        let (status, body) = try await http(m.string!, authorization: auth)
        try #require(status == 200, "GET /api/connections: \(status)")
        let list = JSONCoding.decode(Array(body.utf8))?.arrayValue ?? []
        return list.filter { $0["user"]?.stringValue == user }.count
    }

    static func http(_ url: String, authorization: String?) async throws -> (Int, String) {
        var request = URLRequest(url: URL(string: url)!)
        if let authorization { request.setValue(authorization, forHTTPHeaderField: "Authorization") }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }
}

/// What the router's handler saw: each delivery's `user_id` and the sender it resolved.
actor SendersSeen {
    private(set) var seen: [(String?, String?)] = []
    var count: Int { seen.count }
    func add(_ userID: String?, _ sender: String?) { seen.append((userID, sender)) }
}
