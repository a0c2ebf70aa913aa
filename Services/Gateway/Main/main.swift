import ArgumentParser
import FleetBus
import FleetContracts
import FleetCore
import FleetMessaging
import FleetObservability
import FleetRuntime
import FleetStore
import Foundation
import GatewayService
import Hummingbird
import Logging
import ServiceLifecycle

@main
struct FleetGateway: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet-gateway", abstract: "Fleet Engine's HTTP gateway.", version: Gateway.version,
        subcommands: [Serve.self, CreateToken.self, ListTokens.self, RevokeToken.self, EnrollAgent.self, RevokeAgent.self], defaultSubcommand: Serve.self)
}

/// Serves HTTP until SIGTERM/SIGINT.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve the HTTP API (settings from FLEET_* environment variables).")

    func run() async throws {
        ServiceConfig.checkedOrExit(process: "fleet-gateway")
        _ = FleetMetrics.registry  // before any metric is created
        let config = GatewayConfig()
        if let unknown = config.unknownDisabledFeatures.first {
            FileHandle.standardError.write(Data("fleet-gateway: bad setting FLEET_FEATURES_DISABLED: unknown feature '\(unknown)'\n".utf8))
            throw ExitCode(78)
        }
        FleetLogging.bootstrap(level: config.service.logLevel, format: config.service.logFormat)
        let logger = Logger(label: "fleet.gateway")
        let (broker, bus) = try await BusClient.connect(config.service, name: "gateway", logger: logger)
        let redis = try await RedisClient.connect(url: config.service.redisURL)
        let enrollment: AgentEnrollment?
        do throws(EnrollmentError) { enrollment = try AgentEnrollment(config: config) } catch {
            FileHandle.standardError.write(Data("fleet-gateway: bad setting \(error)\n".utf8))
            throw ExitCode(78)
        }
        let gateway = Gateway(config: config, bus: bus, tokens: TokenStore(redis: redis), redis: redis, broker: broker, enrollment: enrollment)
        logger.info("listening", metadata: ["address": "\(config.host):\(config.port)"])
        // The audit trail's one writer: what the services published, appended by every gateway replica.
        let auditConsumer = try await AMQPConnection.connect(url: config.service.amqpURL, name: "gateway-audit", logger: logger)
        let writer = AuditWriter(log: gateway.audit, connection: auditConsumer, logger: logger)
        let group = ServiceGroup(services: [gateway.application(), writer], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
        await auditConsumer.close()
        await broker.close()
        redis.close()
    }
}

/// Creates an API token and prints it (the only time it is shown).
struct CreateToken: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create-token", abstract: "Create an API token and print it.")

    @Option(help: "read, operate or admin") var scope: ScopeArgument = .read
    @Option(help: "A name to recognise the token by.") var name: String

    enum ScopeArgument: String, ExpressibleByArgument, CaseIterable { case read, operate, admin }

    func run() async throws {
        let config = GatewayConfig()
        let redis = try await RedisClient.connect(url: config.service.redisURL)
        defer { redis.close() }
        print(try await TokenStore(redis: redis).create(scope: Scope(rawValue: scope.rawValue)!, name: name))
    }
}

/// Lists the tokens (never the tokens themselves: they are not stored).
struct ListTokens: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list-tokens", abstract: "List API tokens: id, name, scope, created.")

    func run() async throws {
        let redis = try await RedisClient.connect(url: GatewayConfig().service.redisURL)
        defer { redis.close() }
        for e in try await TokenStore(redis: redis).list() { print("\(e.id)  \(e.scope)\t\(e.name)\t\(e.createdAt)") }
    }
}

/// Revokes tokens by id (as list-tokens shows it) or by name.
struct RevokeToken: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "revoke-token", abstract: "Revoke API tokens by id or by name.")

    @Argument(help: "A token id from list-tokens (8 or more hex digits) or a token name.") var key: String

    func run() async throws {
        let redis = try await RedisClient.connect(url: GatewayConfig().service.redisURL)
        defer { redis.close() }
        let revoked = try await TokenStore(redis: redis).revoke(key)
        print("revoked \(revoked)")
        if revoked == 0 { throw ExitCode(1) }
    }
}

/// Which agent identity a command names: one host, or a simulated fleet's prefix.
struct AgentIdentityOptions: ParsableArguments {
    @Argument(help: "The host id.") var hostID: String?
    @Option(help: "Instead of a host: the prefix of a simulated fleet (its hosts are <prefix>-<n>).") var simulatedFleet: String?

    func validate() throws {
        guard (hostID == nil) != (simulatedFleet == nil) else { throw ValidationError("name a host id or --simulated-fleet, one of them") }
        guard RecordID.isValid(hostID ?? simulatedFleet ?? "") else { throw ValidationError("a host id or prefix is \(RecordID.rule)") }
    }

    var identity: AgentIdentity { hostID.map { .host($0) } ?? .simulatedFleet(prefix: simulatedFleet ?? "") }

    func enrollment() throws -> AgentEnrollment {
        let configured: AgentEnrollment?
        do throws(EnrollmentError) { configured = try AgentEnrollment(config: GatewayConfig()) } catch { throw ValidationError(error.message) }
        guard let configured else { throw ValidationError("set FLEET_RABBITMQ_MANAGEMENT_URL (http://user:password@host:15672) to enroll agents") }
        return configured
    }
}

/// Creates (or rotates) an agent's broker user and prints its AMQP URL: the only time it is shown.
struct EnrollAgent: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enroll-agent",
        abstract: "Give a host's agent (or a simulated fleet) a broker user of its own and print its AMQP URL.",
        discussion:
            "Enrolling again rotates the password and disconnects the old one. The URL holds the password: keep it in a file only the agent reads (FLEET_AMQP_URL_FILE)."
    )

    @OptionGroup var agent: AgentIdentityOptions
    @Option(help: "Write the URL to this file (mode 0600, replaced atomically) instead of printing it.") var urlFile: String?

    func run() async throws {
        let url = try await agent.enrollment().enroll(agent.identity).amqpURL
        guard let urlFile else { return print(url) }
        let temporary = urlFile + ".tmp-\(UInt32.random(in: 0...UInt32.max))"
        guard FileManager.default.createFile(atPath: temporary, contents: Data((url + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw ValidationError("cannot write \(temporary)")
        }
        guard rename(temporary, urlFile) == 0 else {
            unlink(temporary)
            throw ValidationError("cannot replace \(urlFile)")
        }
    }
}

/// Deletes an agent's broker user; its connections close at once.
struct RevokeAgent: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke-agent", abstract: "Delete a host's (or a simulated fleet's) broker user and close its connections.")

    @OptionGroup var agent: AgentIdentityOptions

    func run() async throws {
        let revoked = try await agent.enrollment().revoke(agent.identity)
        print(revoked ? "revoked \(agent.identity.brokerUser ?? "")" : "\(agent.identity.brokerUser ?? "") was not enrolled")
        if !revoked { throw ExitCode(1) }
    }
}
