import FleetBus
import FleetRuntime
import FleetStore

/// A vhost and a Redis database of a test's own, emptied, for tests that kill services: what
/// they break disturbs no other test. Services started with `environment` use them.
public struct IsolatedStack: Sendable {
    public let amqpURL: String
    public let redisURL: String
    public let redis: RedisClient
    public let connection: AMQPConnection
    public let bus: BusClient

    public var environment: [String: String] { ["FLEET_AMQP_URL": amqpURL, "FLEET_REDIS_URL": redisURL] }

    public static func make(vhost: String, database: Int) async throws -> IsolatedStack {
        try TestEnvironment.stack("ensure-vhost", vhost)
        let amqp = TestEnvironment.serviceAMQPURL.replacingOccurrences(of: "/fleet-test", with: "/\(vhost)")
        let redisURL = TestEnvironment.redisURL.replacingOccurrences(of: "/0", with: "/\(database)")
        let redis = try await RedisClient.connect(url: redisURL)
        _ = try await redis.send("FLUSHDB")
        let connection = try await AMQPConnection.connect(url: amqp, name: vhost)
        let bus = BusClient(rpc: try await RPCClient.start(on: connection), timeout: .seconds(15))
        return IsolatedStack(amqpURL: amqp, redisURL: redisURL, redis: redis, connection: connection, bus: bus)
    }

    public func close() async {
        await connection.close()
        redis.close()
    }
}
