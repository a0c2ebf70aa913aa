import AgentService
import ArgumentParser
import FleetBus
import FleetMessaging
import Foundation
import Logging

@main
struct FleetAgent: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet-agent",
        abstract: "Fleet Engine's agent: serves this host (--dry-run: report, change nothing); --simulate N plays N hosts instead.")

    @Option(help: "Play this many simulated hosts.") var simulate: Int?
    @Option(help: "This host's id (default: /etc/machine-id).") var hostId: String?
    @Flag(help: "Report the steps each command would run, and change nothing.") var dryRun = false
    @Option(help: "Where the journal of executed commands lives.") var stateDir = "/var/lib/fleet-agent"
    @Option(help: "Host ids are <prefix>-0 ... <prefix>-(N-1); also their queue name and a tag.") var prefix = "sim"
    @Option(help: "Every k-th host fails (exit code 1).") var failEvery: Int?
    @Option(help: "Every k-th host claims its command and never reports (exercises timeouts).") var silentEvery: Int?
    @Option(help: "Every k-th host registers as pending approval.") var unapprovedEvery: Int?
    @Option(help: "These host ids fail (comma-separated).") var failHosts: String?
    @Option(help: "This fraction of hosts (0...1) fails, drawn per host from --seed.") var failRate = 0.0
    @Option(help: "These host ids claim their command and never report (comma-separated).") var silentHosts: String?
    @Option(help: "Milliseconds each simulated command takes.") var latencyMs = 0
    @Option(help: "Plus a seeded uniform draw of up to this many milliseconds per host.") var latencyJitterMs = 0
    @Option(help: "Every k-th host is slow.") var slowEvery: Int?
    @Option(help: "These host ids are slow (comma-separated).") var slowHosts: String?
    @Option(help: "Milliseconds a slow host takes.") var slowMs = 5000
    @Flag(help: "Register the simulated hosts (with hosts.upsert, as an operator would) and exit.") var registerOnly = false
    @Flag(help: "Serve without registering the simulated hosts: an enrolled fleet user may not upsert hosts.") var noRegister = false
    @Option(help: "Seed for --fail-rate and --latency-jitter-ms: the same seed picks the same hosts.") var seed: UInt64 = 1

    func validate() throws {
        if let simulate, simulate < 1 { throw ValidationError("--simulate needs at least 1 host") }
        if registerOnly && noRegister { throw ValidationError("--register-only and --no-register exclude each other") }
        if (registerOnly || noRegister) && simulate == nil { throw ValidationError("--register-only and --no-register go with --simulate") }

        for (name, v) in [
            ("--fail-every", failEvery), ("--silent-every", silentEvery), ("--unapproved-every", unapprovedEvery),
            ("--slow-every", slowEvery),
        ] {
            if let v, v < 1 { throw ValidationError("\(name) must be at least 1") }
        }
        guard (0...1).contains(failRate) else { throw ValidationError("--fail-rate is a fraction from 0 to 1") }
        for (name, v) in [("--latency-ms", latencyMs), ("--latency-jitter-ms", latencyJitterMs), ("--slow-ms", slowMs)] where v < 0 {
            throw ValidationError("\(name) cannot be negative")
        }
    }

    func run() async throws {
        ServiceConfig.checkedOrExit(process: "fleet-agent")
        let config = ServiceConfig()
        FleetLogging.bootstrap(level: config.logLevel, format: config.logFormat)
        let logger = Logger(label: "fleet.agent")
        guard let simulate else { return try await serveThisHost(config, logger) }
        var settings = SimulatedFleet.Settings(
            prefix: prefix, count: simulate, failEvery: failEvery, silentEvery: silentEvery,
            unapprovedEvery: unapprovedEvery, latency: .milliseconds(latencyMs))
        settings.failHosts = Self.ids(failHosts)
        settings.failRate = failRate
        settings.silentHosts = Self.ids(silentHosts)
        settings.latencyJitter = .milliseconds(latencyJitterMs)
        settings.slowEvery = slowEvery
        settings.slowHosts = Self.ids(slowHosts)
        settings.slowLatency = .milliseconds(slowMs)
        settings.seed = seed
        let fleet = SimulatedFleet(settings: settings, logger: logger)
        let (connection, bus) = try await BusClient.connect(config, name: "agent-\(prefix)", logger: logger)
        // Bound before registering: a command for a host that exists always finds its queue.
        if !registerOnly { try await bindWhenDeclared(logger: logger) { try await fleet.bind(connection) } }
        if !noRegister { try await registerWhenReachable(logger: logger) { try await fleet.register(bus) } }
        if registerOnly { return await connection.close() }
        logger.info("simulating", metadata: ["hosts": "\(simulate)", "queue": "\(fleet.queue)"])
        try await Self.serveUntilStopped(config, connection, logger) { stop in try await fleet.serve(connection, bus: bus, stop: stop) }
    }

    /// Serves until the deliveries end: at SIGTERM or SIGINT, once what the agent holds is done
    /// (or reported after the grace: `AgentStop`); then closes the connection.
    private static func serveUntilStopped(
        _ config: ServiceConfig, _ connection: AMQPConnection, _ logger: Logger, _ serve: (AgentStop) async throws -> Void
    ) async throws {
        let stop = AgentStop(grace: config.agentStopGrace, logger: logger)
        let signals = stop.installSignalHandlers(connection)
        try await serve(stop)
        signals.forEach { $0.cancel() }
        logger.info("stopped: every command held was finished and reported")
        await connection.close()
    }

    private static func ids(_ list: String?) -> Set<String> {
        Set((list ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
    }

    private func serveThisHost(_ config: ServiceConfig, _ logger: Logger) async throws {
        guard let id = hostId ?? HostAgent.machineID(), !id.isEmpty else { throw ValidationError("no --host-id and no /etc/machine-id") }
        let agent = HostAgent(hostID: id, dryRun: dryRun, stateDirectory: (stateDir as NSString).appendingPathComponent(id), logger: logger)
        let (connection, bus) = try await BusClient.connect(config, name: "agent-\(id)", logger: logger)
        try await bindWhenDeclared(logger: logger) { try await agent.bind(connection) }
        try await registerWhenReachable(logger: logger) { try await agent.register(bus) }
        logger.info("serving", metadata: ["host.id": "\(id)", "dry_run": "\(dryRun)"])
        try await Self.serveUntilStopped(config, connection, logger) { stop in try await agent.serve(connection, bus: bus, stop: stop) }
    }
}
