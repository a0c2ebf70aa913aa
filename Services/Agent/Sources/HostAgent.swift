import FleetBus
import FleetContracts
import FleetCore
import FleetMessaging
import Foundation
import Logging

/// An agent for the host it runs on. It serves `fleet.agent.<host_id>`, claims each command before
/// acting, turns it into FleetCore's argv steps (never a shell line made from input), runs them (or,
/// in dry run, only reports them), and publishes the result. A journal in `stateDirectory` keeps a
/// redelivered command from running twice.
public struct HostAgent: Sendable {
    public let hostID: String
    public let dryRun: Bool
    let logger: Logger
    let journal: Journal
    /// Stamps `started_at` and `finished_at`.
    let clock: WallClock

    public init(hostID: String, dryRun: Bool, stateDirectory: String, logger: Logger, clock: WallClock = .system) {
        self.hostID = hostID
        self.dryRun = dryRun
        self.logger = logger
        journal = Journal(directory: stateDirectory)
        self.clock = clock
    }

    public var queue: String { BusNames.agentQueue(hostID) }

    /// The machine id, the default host id.
    public static func machineID() -> String? {
        (try? String(contentsOfFile: "/etc/machine-id", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Facts it can read without privileges.
    func facts() -> HostReport {
        var report = HostReport(id: hostID)
        report.fqdn = ProcessInfo.processInfo.hostName
        report.cpuCores = ProcessInfo.processInfo.activeProcessorCount
        report.memoryTotalMB = Int(ProcessInfo.processInfo.physicalMemory / 1_048_576)
        report.agentVersion = FleetVersion.current
        report.status = "up"
        #if os(Linux)
            report.platform = "Linux"
            if let release = try? String(contentsOfFile: "/etc/os-release", encoding: .utf8),
                let line = release.split(separator: "\n").first(where: { $0.hasPrefix("PRETTY_NAME=") })
            {
                report.platformRelease = line.dropFirst(12).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
        #endif
        var uts = utsname()
        if uname(&uts) == 0 {
            report.machineArchitecture = withUnsafeBytes(of: uts.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        report.enabledShells = ["bash", "sh", "zsh", "ksh"].filter { FileManager.default.isExecutableFile(atPath: "/bin/\($0)") }
        return report
    }

    /// Reports the host's facts (on every start, so they stay current); the selector service
    /// merges them into the record, keeping what the operator set (approval, tags, custom fields).
    public func register(_ bus: BusClient) async throws {
        let reply = await bus.call(Route.hostsReport, facts().json)
        guard reply.status == 200 else { throw BusReplyError(reply) }
    }

    public func bind(_ connection: AMQPConnection) async throws(AMQPError) {
        try await connection.declare(.agentQueue(queue, hostIDs: [hostID]))
    }

    /// Serves until the queue's deliveries end (`stop` cancels them at SIGTERM).
    public func serve(_ connection: AMQPConnection, bus: BusClient, stop: AgentStop? = nil) async throws {
        let deliveries = try await connection.consume(queue: queue, prefetch: 1)
        stop?.consuming(deliveries)
        for await delivery in deliveries { await handle(delivery, connection, bus, stop: stop) }
    }

    /// The package manager this host would use.
    static func detectedManager() -> PackageManager {
        let candidates: [(String, PackageManager)] = [
            ("/usr/bin/apt-get", .apt), ("/usr/bin/dnf", .dnf), ("/usr/bin/yum", .yum),
            ("/usr/bin/zypper", .zypper), ("/usr/bin/pacman", .pacman), ("/sbin/apk", .apk),
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.0) }?.1 ?? .auto
    }

    func handle(_ delivery: Delivery, _ connection: AMQPConnection, _ bus: BusClient, stop: AgentStop? = nil) async {
        await CommandLoop(executor: self, logger: logger, stop: stop).handle(delivery, connection, bus)
    }

    /// Runs a claimed command (or reports what it would run, or what the journal says it ran).
    func run(_ command: AgentCommand, bus: BusClient) async -> AgentResult {
        var result = AgentResult(opID: command.opID, hostID: hostID, status: .failed)
        do {
            let json = try await ParameterFetch(bus: bus).parameters(of: command)
            let parameters = try OperationParameters(type: command.operationType, json: json)
            #if os(Linux)
                let platform = AgentPlatform.linux
            #else
                let platform = AgentPlatform.macos
            #endif
            let steps = try parameters.steps(platform: platform, manager: Self.detectedManager())
            if let recorded = journal.result(for: command.journalKey), let earlier = try? AgentResult(json: recorded) {
                logger.info("already ran; reporting the recorded result", metadata: ["op.id": "\(command.opID)"])
                return earlier
            }
            if dryRun {
                logger.info("dry run: would run", metadata: ["op.id": "\(command.opID)", "steps": "\(steps.count)"])
                result.status = .succeeded
                result.exitCode = 0
                result.stdout = "dry run, nothing changed; would run:\n" + steps.map(Self.describe).joined(separator: "\n")
                return result
            }
            let started = clock.now
            let outcome = await StepExecutor().run(steps, timeout: .seconds(command.timeoutSeconds))
            result.status = outcome.exitCode == 0 && !outcome.timedOut ? .succeeded : .failed
            if outcome.timedOut { result.reason = .timedOut } else if outcome.exitCode != 0 { result.reason = .exitCode }
            result.exitCode = Int(outcome.exitCode)
            result.stdout = String(decoding: outcome.stdout, as: UTF8.self)
            result.stderr = String(decoding: outcome.stderr, as: UTF8.self)
            result.truncated = outcome.truncated
            let iso = ISO8601DateFormatter()
            result.startedAt = iso.string(from: started)
            result.finishedAt = iso.string(from: clock.now)
            let entry = result.json
            let key = command.journalKey
            await OffPool.run("agent-journal") { [journal] in journal.record(key, entry) }  // fsync: off the pool
        } catch let unsupported as UnsupportedOperation {
            result.status = .skipped
            result.reason = .unsupported
            result.stderr = unsupported.message
        } catch {
            result.reason = .agentError
            result.stderr = "\(error)"
        }
        return result
    }

    /// One line per step, for the dry-run report.
    static func describe(_ step: AgentStep) -> String {
        switch step {
        case .exec(let argv): argv.joined(separator: " ")
        case .script(let shell, let content): "\(shell.argv(scriptPath: "<script>").joined(separator: " "))  # \(content.utf8.count) bytes"
        case .writeFile(let f): "write \(f.path) (\(f.content.count) bytes)"
        case .power(let argv, let delay): "after \(delay) s: \(argv.joined(separator: " "))"
        }
    }
}

extension HostAgent: CommandExecutor {
    var agentID: String { hostID }
    func serves(_ id: String) -> Bool { id == hostID }
    func execute(_ command: AgentCommand, bus: BusClient) async -> AgentResult? { await run(command, bus: bus) }
}
