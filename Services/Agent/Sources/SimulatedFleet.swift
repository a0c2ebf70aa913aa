import FleetBus
import FleetContracts
import FleetCore
import FleetMessaging
import Logging

/// One process playing many hosts, for the local stack, tests and benchmarks. It never touches
/// the machine it runs on. Its behaviour is fixed by its settings (see `Settings`), so a test
/// knows every outcome in advance.
public struct SimulatedFleet: Sendable {
    /// Who fails, who stays silent, who is slow, and how long each host takes. Host `k` (0-based,
    /// id `<prefix>-k`) is chosen by "every k-th" (`k % n == n - 1`), by id, or by a rate drawn
    /// from `seed`: the same seed always picks the same hosts.
    public struct Settings: Sendable {
        public var prefix: String
        public var count: Int
        public var failEvery: Int?
        public var failHosts: Set<String> = []
        /// Fraction of hosts (0...1) that fail, drawn per host from the seed.
        public var failRate: Double = 0
        public var silentEvery: Int?
        public var silentHosts: Set<String> = []
        public var unapprovedEvery: Int?
        /// Every host takes `latency` plus a seeded uniform draw in `0...latencyJitter`.
        public var latency: Duration
        public var latencyJitter: Duration = .zero
        /// Slow hosts take `slowLatency` instead.
        public var slowEvery: Int?
        public var slowHosts: Set<String> = []
        public var slowLatency: Duration = .seconds(5)
        public var seed: UInt64 = 1

        public init(
            prefix: String, count: Int, failEvery: Int? = nil, silentEvery: Int? = nil, unapprovedEvery: Int? = nil,
            latency: Duration = .zero
        ) {
            self.prefix = prefix
            self.count = count
            self.failEvery = failEvery
            self.silentEvery = silentEvery
            self.unapprovedEvery = unapprovedEvery
            self.latency = latency
        }

        static func every(_ n: Int?, _ k: Int) -> Bool { n.map { $0 > 0 && k % $0 == $0 - 1 } ?? false }

        /// A uniform draw in [0, 1) for host `k` and purpose `salt` (SplitMix64 of the seed).
        func draw(_ k: Int, _ salt: UInt64) -> Double {
            var z = seed &+ UInt64(truncatingIfNeeded: k) &* 0x9E37_79B9_7F4A_7C15 &+ salt &* 0xD1B5_4A32_D192_ED69
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            return Double(z >> 11) / Double(1 << 53)
        }

        public func fails(_ k: Int, id: String) -> Bool {
            Self.every(failEvery, k) || failHosts.contains(id) || (failRate > 0 && draw(k, 1) < failRate)
        }

        public func silent(_ k: Int, id: String) -> Bool { Self.every(silentEvery, k) || silentHosts.contains(id) }

        public func unapproved(_ k: Int) -> Bool { Self.every(unapprovedEvery, k) }

        public func latency(_ k: Int, id: String) -> Duration {
            if Self.every(slowEvery, k) || slowHosts.contains(id) { return slowLatency }
            guard latencyJitter > .zero else { return latency }
            return latency + latencyJitter * draw(k, 2)
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
    public var queue: String { BusNames.simulatedFleetQueue(settings.prefix) }

    /// The host records it registers: varied platforms and tags, all tagged with the prefix.
    func host(_ k: Int) -> JSONValue {
        let (platform, release) = Self.platforms[k % Self.platforms.count]
        return [
            "id": .string(hostID(k)), "fqdn": .string("\(hostID(k)).sim.example"), "platform": .string(platform),
            "platform_release": .string(release), "tags": [.string(settings.prefix), .string(Self.tags[k % Self.tags.count])],
            "approval_status": .string(settings.unapproved(k) ? "pending" : "approved"), "status": "up",
            "agent_version": "sim-1", "cpu_cores": .int(Int64(1 << (k % 4))),
        ]
    }

    /// Registers the hosts through the selector service.
    public func register(_ bus: BusClient) async throws {
        for start in stride(from: 0, to: settings.count, by: 2000) {
            let batch = HostsUpsert(hosts: (start..<min(start + 2000, settings.count)).map(host))
            if case .failure(let failure) = await bus.call(Route.hostsUpsert, batch, replying: HostsUpserted.self) { throw BusReplyError(failure.reply) }
        }
    }

    /// Binds every host id to one queue declared per the agent contract.
    public func bind(_ connection: AMQPConnection) async throws(AMQPError) {
        try await connection.declare(.agentQueue(queue, hostIDs: hostIDs))
    }

    /// Serves commands until the consumer ends: claim, wait `latency`, report (or stay silent).
    /// Serves until the queue's deliveries end (`stop` cancels them at SIGTERM) and the commands
    /// in hand are done.
    public func serve(_ connection: AMQPConnection, bus: BusClient, stop: AgentStop? = nil) async throws {
        let deliveries = try await connection.consume(queue: queue, prefetch: 256)
        stop?.consuming(deliveries)
        let claims = AgentClaims(bus: bus)
        await withDiscardingTaskGroup { group in
            for await delivery in deliveries {
                group.addTask { await handle(delivery, connection, bus, stop: stop, claims: claims) }
            }
        }
    }

    func handle(_ delivery: Delivery, _ connection: AMQPConnection, _ bus: BusClient, stop: AgentStop? = nil, claims: AgentClaims? = nil) async {
        await CommandLoop(executor: self, logger: logger, stop: stop, claims: claims).handle(delivery, connection, bus)
    }

    /// The number `k` of a host this fleet plays (`<prefix>-k`, k < count), or nil.
    func number(_ hostID: String) -> Int? {
        guard hostID.hasPrefix(settings.prefix + "-"), let k = Int(hostID.dropFirst(settings.prefix.count + 1)), (0..<settings.count).contains(k)
        else { return nil }
        return k
    }
}

extension SimulatedFleet: CommandExecutor {
    var agentID: String { queue }
    func serves(_ hostID: String) -> Bool { number(hostID) != nil }

    /// Plays host `k`: silent, or a result after its latency, failed or succeeded as the settings say.
    func execute(_ command: AgentCommand, bus: BusClient) async -> AgentResult? {
        let host = command.hostID
        guard let k = number(host), !settings.silent(k, id: host) else { return nil }
        let latency = settings.latency(k, id: host)
        if latency > .zero { try? await Task.sleep(for: latency) }
        let failed = settings.fails(k, id: host)
        return AgentResult(
            opID: command.opID, hostID: host, status: failed ? .failed : .succeeded, reason: failed ? .exitCode : nil,
            exitCode: failed ? 1 : 0, stdout: failed ? "" : "simulated", stderr: failed ? "simulated failure" : "", truncated: false)
    }
}
