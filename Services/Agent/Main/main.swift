import AgentService
import ArgumentParser
import FleetBus
import FleetRuntime
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
    @Option(help: "Milliseconds each simulated command takes.") var latencyMs = 0

    func validate() throws {
        if let simulate, simulate < 1 { throw ValidationError("--simulate needs at least 1 host") }

        for (name, v) in [("--fail-every", failEvery), ("--silent-every", silentEvery), ("--unapproved-every", unapprovedEvery)] {
            if let v, v < 1 { throw ValidationError("\(name) must be at least 1") }
        }
    }

    func run() async throws {
        let config = ServiceConfig()
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = config.logLevel
            return h
        }
        let logger = Logger(label: "fleet.agent")
        guard let simulate else { return try await serveThisHost(config, logger) }
        let fleet = SimulatedFleet(settings: .init(prefix: prefix, count: simulate, failEvery: failEvery, silentEvery: silentEvery,
                                                   unapprovedEvery: unapprovedEvery, latency: .milliseconds(latencyMs)), logger: logger)
        let (connection, bus) = try await BusClient.connect(config, name: "agent-\(prefix)", logger: logger)
        try await fleet.bind(connection)
        try await fleet.register(bus)
        logger.info("simulating", metadata: ["hosts": "\(simulate)", "queue": "\(fleet.queue)"])
        try await fleet.serve(connection, bus: bus)
    }

    private func serveThisHost(_ config: ServiceConfig, _ logger: Logger) async throws {
        guard let id = hostId ?? HostAgent.machineID(), !id.isEmpty else { throw ValidationError("no --host-id and no /etc/machine-id") }
        let agent = HostAgent(hostID: id, dryRun: dryRun, stateDirectory: (stateDir as NSString).appendingPathComponent(id), logger: logger)
        let (connection, bus) = try await BusClient.connect(config, name: "agent-\(id)", logger: logger)
        try await agent.bind(connection)
        try await agent.register(bus)
        logger.info("serving", metadata: ["host.id": "\(id)", "dry_run": "\(dryRun)"])
        try await agent.serve(connection, bus: bus)
    }
}
