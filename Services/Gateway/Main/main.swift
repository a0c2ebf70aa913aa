import ArgumentParser
import FleetBus
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
        subcommands: [Serve.self, CreateToken.self, ListTokens.self, RevokeToken.self], defaultSubcommand: Serve.self)
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
