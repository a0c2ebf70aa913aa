import ArgumentParser
import FleetBus
import FleetRuntime
import FleetStore
import GatewayService
import Hummingbird
import Logging
import ServiceLifecycle

@main
struct FleetGateway: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet-gateway", abstract: "Fleet Engine's HTTP gateway.",
        subcommands: [Serve.self, CreateToken.self], defaultSubcommand: Serve.self)
}

/// Serves HTTP until SIGTERM/SIGINT.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve the HTTP API (settings from FLEET_* environment variables).")

    func run() async throws {
        _ = FleetMetrics.registry  // before any metric is created
        let config = GatewayConfig()
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = config.service.logLevel
            return h
        }
        let logger = Logger(label: "fleet.gateway")
        let (broker, bus) = try await BusClient.connect(config.service, name: "gateway", logger: logger)
        let redis = try await RedisClient.connect(url: config.service.redisURL)
        let gateway = Gateway(config: config, bus: bus, tokens: TokenStore(redis: redis), redis: redis, broker: broker)
        logger.info("listening", metadata: ["address": "\(config.host):\(config.port)"])
        let group = ServiceGroup(services: [gateway.application()], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
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
