import FleetBus
import FleetContracts
import FleetCore
import FleetMessaging
import FleetObservability
import FleetStore
import Logging
import ServiceLifecycle

/// What a service's handlers get to work with.
public struct ServiceContext: Sendable {
    public let config: ServiceConfig
    public let redis: RedisClient
    /// For calls to other services.
    public let bus: BusClient
    /// For events and replies.
    public let publisher: AMQPConnection
    /// For consumers besides the command queue (results, say).
    public let consumer: AMQPConnection
    public let logger: Logger
    /// Where handlers and background jobs read the time (tests drive their own).
    public let clock: WallClock

    public init(
        config: ServiceConfig, redis: RedisClient, bus: BusClient, publisher: AMQPConnection, consumer: AMQPConnection,
        logger: Logger, clock: WallClock = .system
    ) {
        self.config = config
        self.redis = redis
        self.bus = bus
        self.publisher = publisher
        self.consumer = consumer
        self.logger = logger
        self.clock = clock
    }
}

/// Everything a service runs, built once from its context: the command handlers and the services
/// that run beside the command loop (consumers, timers), sharing whatever the builder made.
public struct ServiceAssembly: Sendable {
    public var routes: [String: CommandHandler]
    public var background: [any Service]

    public init(routes: [String: CommandHandler], background: [any Service] = []) {
        self.routes = routes
        self.background = background
    }
}

/// The whole of a service's `main`: logging, connections, handlers, a health route, and a
/// ServiceGroup that drains on SIGTERM/SIGINT and exits 0.
public enum FleetServiceMain {
    /// `assemble` builds the service once: its routes and background services get the same
    /// graceful shutdown.
    public static func run(
        _ name: ServiceName, config: ServiceConfig = ServiceConfig(),
        assemble: (ServiceContext) async throws -> ServiceAssembly
    ) async throws {
        ServiceConfig.checkedOrExit(config.environment, process: "fleet-\(name.rawValue)")
        unblockShutdownSignals()
        _ = FleetMetrics.registry  // before any metric is created
        FleetLogging.bootstrap(level: config.logLevel, format: config.logFormat)
        let logger = Logger(label: "fleet.\(name.rawValue)")
        let consumer = try await AMQPConnection.connect(url: config.amqpURL, name: "\(name.rawValue)-consume", logger: logger)
        let outbound = try await AMQPConnection.connect(url: config.amqpURL, name: "\(name.rawValue)-publish", logger: logger)
        let redis = try await RedisClient.connect(url: config.redisURL)
        let rpc = try await RPCClient.start(on: outbound)
        let context = ServiceContext(
            config: config, redis: redis, bus: BusClient(rpc: rpc, timeout: config.requestTimeout),
            publisher: outbound, consumer: consumer, logger: logger, clock: OffsetClock.fromEnvironment(config.environment))
        let assembly = try await assemble(context)
        var handlers = assembly.routes
        let ready: @Sendable () async -> Bool = {
            (try? await redis.send("PING")) != nil && consumer.isConnected && outbound.isConnected
        }
        handlers[name.healthRoute] = { _ in
            let redisUp = (try? await redis.send("PING")) != nil
            let ready = redisUp && consumer.isConnected && outbound.isConnected
            return .ok(
                [
                    "service": .string(name.rawValue), "ready": .bool(ready), "redis": .bool(redisUp),
                    "broker": .bool(consumer.isConnected && outbound.isConnected),
                ], status: ready ? 200 : 503)
        }
        let service = CommandService(
            name: name, handlers: handlers, consumer: consumer, replies: outbound,
            prefetch: config.prefetch, logger: logger)
        let metrics = MetricsEndpoint(service: name, environment: config.environment, logger: logger, ready: ready)
        let group = ServiceGroup(services: [service, metrics] + assembly.background, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
        await consumer.close()
        await outbound.close()
        redis.close()
    }
}

/// A process started by a thread that blocks SIGTERM inherits that mask, and would then never
/// drain: make sure the shutdown signals can arrive.
private func unblockShutdownSignals() {
    #if canImport(Glibc)
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    #endif
}

#if canImport(Glibc)
    import Glibc
#endif
