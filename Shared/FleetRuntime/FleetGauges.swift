import FleetContracts
import FleetCore
import FleetObservability
import FleetStore
import Logging
import ServiceLifecycle

/// Prometheus gauges of fleet-wide state, read from their owner's records in Redis every few
/// seconds: each replica then exports the fleet's value (not its own share), and a scrape of any
/// replica graphs the same line.
public struct FleetGauges: Service {
    let redis: RedisClient
    let logger: Logger
    let interval: Duration
    /// Reads the gauges' values, one round trip.
    let read: @Sendable (RedisClient) async throws -> [(String, Int64)]

    public init(
        redis: RedisClient, logger: Logger, interval: Duration = .seconds(5), read: @escaping @Sendable (RedisClient) async throws -> [(String, Int64)]
    ) {
        self.redis = redis
        self.logger = logger
        self.interval = interval
        self.read = read
    }

    public func run() async throws {
        await everyTick(interval) { _ in
            do {
                for (name, value) in try await read(redis) { FleetMetrics.gauge(name, value) }
            } catch {
                logger.debug("fleet gauges not read", metadata: ["error": "\(error)"])
            }
        }
    }

    /// The bulk dispatcher's: `fleet:stats`'s gauges.
    @Sendable public static func operations(_ redis: RedisClient) async throws -> [(String, Int64)] {
        let fields = [FleetStats.operationsRunning, FleetStats.hostsInFlight, FleetStats.hostsQueued]
        let values = try await redis.send(RedisCommand(["HMGET", RedisKeys.fleetStats] + fields)).array ?? []
        let names = [FleetMetrics.operationsRunning, FleetMetrics.hostsInFlight, FleetMetrics.hostsQueued]
        return zip(names, values).map { ($0, $1.int ?? 0) }
    }

    /// The rollout controller's: rollouts not yet ended are those with a timer.
    @Sendable public static func rollouts(_ redis: RedisClient) async throws -> [(String, Int64)] {
        [(FleetMetrics.rolloutsRunning, try await redis.send("ZCARD", RedisKeys.rollingTimers).int ?? 0)]
    }
}
