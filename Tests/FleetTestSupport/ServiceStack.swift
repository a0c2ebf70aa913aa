import FleetBus
import FleetContracts
import FleetCore
import FleetMessaging
import FleetRuntime
import FleetStore
import Foundation

/// The services under test, started once per test run in the test vhost and Redis database 5.
public actor ServiceStack {
    public static let shared = ServiceStack()

    public struct Handle: Sendable {
        public let bus: BusClient
        public let redis: RedisClient
        public let connection: AMQPConnection
        public let processes: [ServiceProcess]
        /// Where the bulk dispatcher and the rollout controller serve /metrics (the other
        /// services' endpoints are off).
        public let dispatcherMetricsPort: Int
        public let controllerMetricsPort: Int
    }

    private var starting: Task<Handle, Error>?

    public func handle() async throws -> Handle {
        if let starting { return try await starting.value }
        let task = Task { try await Self.start() }
        starting = task
        return try await task.value
    }

    private static func start() async throws -> Handle {
        let redis = try await RedisClient.connect(url: TestEnvironment.serviceRedisURL)
        _ = try await redis.send("FLUSHDB")
        // Two schedulers: every schedule test also checks that replicas fire each instant once.
        let metricsPort = TestEnvironment.freePort()  // not a random one: the ephemeral range may hold it
        let controllerMetricsPort = TestEnvironment.freePort()
        let processes = try ["fleet-selector", "fleet-groups", "fleet-bulk-dispatcher", "fleet-rollout-controller", "fleet-scheduler", "fleet-scheduler"].map {
            // A short grace after a run timeout, so timeout tests take a second, not five.
            try ServiceProcess(
                $0,
                environment: [
                    "FLEET_RESULT_GRACE_MS": "300",
                    "FLEET_METRICS_PORT": $0 == "fleet-bulk-dispatcher"
                        ? String(metricsPort) : $0 == "fleet-rollout-controller" ? String(controllerMetricsPort) : "0",
                    // Each command's log line (with its request id) from the two services a bulk create crosses.
                    "FLEET_LOG_LEVEL": ["fleet-selector", "fleet-bulk-dispatcher"].contains($0) ? "debug" : "info",
                ])
        }
        let connection = try await AMQPConnection.connect(url: TestEnvironment.serviceAMQPURL, name: "service-tests")
        let bus = BusClient(rpc: try await RPCClient.start(on: connection), timeout: TestEnvironment.callTimeout)
        for service in ServiceName.allCases {
            try await waitUntilReady(bus, service)
        }
        return Handle(
            bus: bus, redis: redis, connection: connection, processes: processes, dispatcherMetricsPort: metricsPort,
            controllerMetricsPort: controllerMetricsPort)
    }

    /// Polls the service's health route until it answers ready (bounded).
    public static func waitUntilReady(_ bus: BusClient, _ service: ServiceName, timeout: Duration = .seconds(60)) async throws {
        let ready = await TestEnvironment.eventually(timeout: timeout) {
            await BusClient(rpc: bus.rpc, timeout: .seconds(1)).call(service.healthRoute, [:]).status == 200
        }
        guard ready else { throw StackScriptError(action: "\(service.rawValue) never became ready", status: -1) }
    }
}

/// A prefix no other test uses, for host ids, tags and names.
public func unique(_ prefix: String) -> String { "\(prefix)\(UInt32.random(in: 0...UInt32.max))" }

extension BusReply {
    public var hostIDs: [String] { body?["host_ids"]?.arrayValue?.compactMap(\.stringValue) ?? [] }
    public var errorFields: [String] { error?.details.map(\.field) ?? [] }
}

extension ServiceStack.Handle {
    /// `fleet-agent --simulate count --prefix prefix` (plus `arguments`) on the shared stack, once
    /// the selector finds all its hosts (tagged `prefix`); the caller stops it.
    public func simulatedFleet(
        _ prefix: String, count: Int, arguments: [String] = [], environment: [String: String] = [:], timeout: Duration = .seconds(60)
    ) async throws -> ServiceProcess {
        let agent = try ServiceProcess("fleet-agent", arguments: ["--simulate", String(count), "--prefix", prefix] + arguments, environment: environment)
        let selectable = await TestEnvironment.eventually(timeout: timeout) {
            await bus.call(Route.selectorResolve, ["tags": [.string(prefix)]]).body?["count"] == .int(Int64(count))
        }
        guard selectable else {
            agent.stop()
            throw StackScriptError(action: "the simulated fleet \(prefix) never became selectable", status: -1)
        }
        return agent
    }
}
