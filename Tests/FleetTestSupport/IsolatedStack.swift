import FleetBus
import FleetMessaging
import FleetRuntime
import FleetStore

/// A vhost and a Redis database of a test's own, emptied, for tests that kill services: what
/// they break disturbs no other test. Services started with `environment` use them.
///
/// The vhosts `fleet-test-iso1` ... `fleet-test-iso6` are made by `scripts/test.sh` before the
/// tests start: each `rabbitmqctl` call boots an Erlang VM for seconds of CPU, which would starve
/// the tests running beside it.
public struct IsolatedStack: Sendable {
    public static let slots = 1...6

    public let amqpURL: String
    public let redisURL: String
    public let redis: RedisClient
    public let connection: AMQPConnection
    public let bus: BusClient

    public var environment: [String: String] { ["FLEET_AMQP_URL": amqpURL, "FLEET_REDIS_URL": redisURL] }

    /// Slot `n` (one per test that needs one): vhost `fleet-test-iso<n>`, Redis database 7 + n.
    public static func make(slot: Int) async throws -> IsolatedStack {
        precondition(slots.contains(slot), "scripts/test.sh makes the vhosts of slots \(slots)")
        let vhost = "fleet-test-iso\(slot)"
        let database = 7 + slot
        let amqp = TestEnvironment.serviceAMQPURL.replacingOccurrences(of: "/fleet-test", with: "/\(vhost)")
        let redisURL = TestEnvironment.redisURL.replacingOccurrences(of: "/0", with: "/\(database)")
        // The services of the slot's last test first: they may still be draining.
        await ServiceProcess.waitUntilGone(amqpURL: amqp)
        let redis = try await RedisClient.connect(url: redisURL)
        _ = try await redis.send("FLUSHDB")
        let connection = try await AMQPConnection.connect(url: amqp, name: vhost)
        let bus = BusClient(rpc: try await RPCClient.start(on: connection), timeout: TestEnvironment.callTimeout)
        return IsolatedStack(amqpURL: amqp, redisURL: redisURL, redis: redis, connection: connection, bus: bus)
    }

    public func close() async {
        await connection.close()
        redis.close()
    }
}
