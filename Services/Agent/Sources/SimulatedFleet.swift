import FleetBus
import FleetContracts
import FleetCore
import FleetRuntime
import Logging

/// One process playing many hosts, for the local stack, tests and benchmarks. It never touches
/// the machine it runs on. Its behaviour is fixed by its settings, so a test knows every outcome
/// in advance: host `k` (0-based) fails when `k % failEvery == failEvery - 1`, stays silent after
/// claiming when `k % silentEvery == silentEvery - 1`, and answers after `latency`.
public struct SimulatedFleet: Sendable {
    public struct Settings: Sendable {
        public var prefix: String
        public var count: Int
        public var failEvery: Int?
        public var silentEvery: Int?
        public var unapprovedEvery: Int?
        public var latency: Duration

        public init(prefix: String, count: Int, failEvery: Int? = nil, silentEvery: Int? = nil, unapprovedEvery: Int? = nil,
                    latency: Duration = .zero) {
            self.prefix = prefix
            self.count = count
            self.failEvery = failEvery
            self.silentEvery = silentEvery
            self.unapprovedEvery = unapprovedEvery
            self.latency = latency
        }
    }

    public let settings: Settings
    let logger: Logger
    static let platforms = [("Linux", "Ubuntu 24.04"), ("Linux", "Debian 12"), ("Windows", "Server 2022"), ("macOS", "14.5"), ("FreeBSD", "14.1")]
    static let tags = ["webserver", "db", "cache", "edge", "batch"]

    public init(settings: Settings, logger: Logger) {
        self.settings = settings
        self.logger = logger
    }

    public func hostID(_ k: Int) -> String { "\(settings.prefix)-\(k)" }
    public var hostIDs: [String] { (0..<settings.count).map(hostID) }
    public var queue: String { "fleet.agent.\(settings.prefix)" }

    func every(_ n: Int?, _ k: Int) -> Bool { n.map { $0 > 0 && k % $0 == $0 - 1 } ?? false }

    /// The host records it registers: varied platforms and tags, all tagged with the prefix.
    func host(_ k: Int) -> JSONValue {
        let (platform, release) = Self.platforms[k % Self.platforms.count]
        return ["id": .string(hostID(k)), "fqdn": .string("\(hostID(k)).sim.example"), "platform": .string(platform),
                "platform_release": .string(release), "tags": [.string(settings.prefix), .string(Self.tags[k % Self.tags.count])],
                "approval_status": .string(every(settings.unapprovedEvery, k) ? "pending" : "approved"), "status": "up",
                "agent_version": "sim-1", "cpu_cores": .int(Int64(1 << (k % 4)))]
    }

    /// Registers the hosts through the selector service.
    public func register(_ bus: BusClient) async throws {
        for start in stride(from: 0, to: settings.count, by: 2000) {
            let batch = JSONValue.array((start..<min(start + 2000, settings.count)).map(host))
            let reply = await bus.call(Route.hostsUpsert, ["hosts": batch])
            guard reply.status == 200 else { throw BusReplyError(reply) }
        }
    }

    /// Binds every host id to one queue declared per the agent contract.
    public func bind(_ connection: AMQPConnection) async throws {
        try await connection.declare(.agentQueue(queue, hostIDs: hostIDs))
    }

    /// Serves commands until the consumer ends: claim, wait `latency`, report (or stay silent).
    public func serve(_ connection: AMQPConnection, bus: BusClient) async throws {
        let deliveries = try await connection.consume(queue: queue, prefetch: 256)
        await withDiscardingTaskGroup { group in
            for await delivery in deliveries {
                group.addTask { await handle(delivery, connection, bus) }
            }
        }
    }

    func handle(_ delivery: Delivery, _ connection: AMQPConnection, _ bus: BusClient) async {
        guard let command = JSONCoding.decode(delivery.body), let op = command["op_id"], let host = command["host_id"]?.stringValue,
              let k = Int(host.dropFirst(settings.prefix.count + 1)) else {
            return delivery.reject(requeue: false)
        }
        let claim = await bus.call(Route.bulkClaim, ["op_id": op, "host_ids": [.string(host)], "agent_id": .string(queue)])
        guard claim.status == 200 else { return delivery.nack(requeue: true) }  // dispatcher unavailable: later
        guard claim.body?["claimed"]?.arrayValue?.isEmpty == false else { return delivery.ack() }  // refused: drop unrun
        if every(settings.silentEvery, k) { return delivery.ack() }
        if settings.latency > .zero { try? await Task.sleep(for: settings.latency) }
        let failed = every(settings.failEvery, k)
        let result: JSONValue = ["op_id": op, "host_id": .string(host), "status": .string(failed ? "failed" : "succeeded"),
                                 "exit_code": .int(failed ? 1 : 0), "stdout": .string(failed ? "" : "simulated"),
                                 "stderr": .string(failed ? "simulated failure" : ""), "truncated": false]
        do {
            try await connection.publish(OutgoingMessage(exchange: BusNames.resultsExchange, routingKey: BusNames.resultKey,
                                                         body: JSONCoding.encode(result), properties: MessageProperties(contentType: "application/json")))
            delivery.ack()
        } catch {
            logger.warning("result not published; the command will come again", metadata: ["host.id": "\(host)", "error": "\(error)"])
            delivery.nack(requeue: true)
        }
    }
}
