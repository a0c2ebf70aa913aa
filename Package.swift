// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "FleetEngine",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "FleetCore", targets: ["FleetCore"]),
        .library(name: "FleetBus", targets: ["FleetBus"]),
        .library(name: "FleetStore", targets: ["FleetStore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // Metrics: the API everywhere, the Prometheus backend in FleetRuntime (served on /metrics).
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // HTTP (the gateway, and every service's /metrics endpoint through FleetRuntime), token
        // hashing (the gateway) and command lines (the gateway, the agent and fleetctl).
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        // Already in the graph through HummingbirdTesting; the gateway benchmark is its HTTP client.
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CRabbitMQ", path: "Shared/CRabbitMQ", pkgConfig: "librabbitmq",
            providers: [.apt(["librabbitmq-dev"]), .brew(["rabbitmq-c"])]),
        .systemLibrary(
            name: "CHiredis", path: "Shared/CHiredis", pkgConfig: "hiredis",
            providers: [.apt(["libhiredis-dev"]), .brew(["hiredis"])]),
        .target(name: "FleetCore", path: "Shared/FleetCore"),
        .target(name: "FleetContracts", dependencies: ["FleetCore"], path: "Shared/FleetContracts"),
        .target(
            name: "FleetBus",
            dependencies: ["CRabbitMQ", .product(name: "Logging", package: "swift-log"), .product(name: "CoreMetrics", package: "swift-metrics")],
            path: "Shared/FleetBus"),
        .target(
            name: "FleetStore",
            dependencies: ["CHiredis", .product(name: "Logging", package: "swift-log"), .product(name: "CoreMetrics", package: "swift-metrics")],
            path: "Shared/FleetStore"),
        .target(
            name: "FleetRuntime",
            dependencies: [
                "FleetBus", "FleetStore", "FleetContracts", "FleetCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            path: "Shared/FleetRuntime"),
        .target(name: "SelectorService", dependencies: ["FleetRuntime"], path: "Services/Selector/Sources"),
        .executableTarget(name: "fleet-selector", dependencies: ["SelectorService"], path: "Services/Selector/Main"),
        .target(
            name: "BulkDispatcherService",
            dependencies: ["FleetRuntime", .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
            path: "Services/BulkDispatcher/Sources"),
        .executableTarget(name: "fleet-bulk-dispatcher", dependencies: ["BulkDispatcherService"], path: "Services/BulkDispatcher/Main"),
        .target(
            name: "RolloutControllerService",
            dependencies: ["FleetRuntime", .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
            path: "Services/RolloutController/Sources"),
        .executableTarget(
            name: "fleet-rollout-controller", dependencies: ["RolloutControllerService"], path: "Services/RolloutController/Main"),
        .target(
            name: "SchedulerService",
            dependencies: ["FleetRuntime", .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
            path: "Services/Scheduler/Sources"),
        .executableTarget(name: "fleet-scheduler", dependencies: ["SchedulerService"], path: "Services/Scheduler/Main"),
        .target(
            name: "FleetctlKit",
            // FleetCore only: the CLI speaks HTTP to the gateway and links neither hiredis nor rabbitmq-c.
            dependencies: ["FleetCore", .product(name: "AsyncHTTPClient", package: "async-http-client")],
            path: "Services/Fleetctl/Sources"),
        .executableTarget(
            name: "fleetctl",
            dependencies: ["FleetctlKit", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Services/Fleetctl/Main"),
        .target(name: "AgentService", dependencies: ["FleetRuntime"], path: "Services/Agent/Sources"),
        .executableTarget(
            name: "fleet-agent",
            dependencies: ["AgentService", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Services/Agent/Main"),
        .target(name: "GroupsService", dependencies: ["FleetRuntime"], path: "Services/Groups/Sources"),
        .executableTarget(name: "fleet-groups", dependencies: ["GroupsService"], path: "Services/Groups/Main"),
        .target(
            name: "GatewayService",
            dependencies: [
                "FleetRuntime", .product(name: "Hummingbird", package: "hummingbird"), .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Services/Gateway/Sources"),
        .executableTarget(
            name: "fleet-gateway",
            dependencies: ["GatewayService", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Services/Gateway/Main"),
        .executableTarget(
            name: "fleet-gateway-bench",
            dependencies: ["FleetRuntime", "FleetCore", "FleetStore", .product(name: "AsyncHTTPClient", package: "async-http-client")],
            path: "Tests/Benchmarks/GatewayBench"),
        .executableTarget(name: "fleet-core-bench", dependencies: ["FleetCore"], path: "Tests/Benchmarks/FleetCoreBench"),
        .executableTarget(
            name: "fleet-bench", dependencies: ["FleetBus", "FleetStore"], path: "Tests/Benchmarks/FleetBench"),
        .testTarget(
            name: "FleetCoreTests",
            dependencies: ["FleetCore", .product(name: "PropertyBased", package: "swift-property-based")],
            path: "Tests/FleetCoreTests"),
        .target(
            name: "FleetTestSupport", dependencies: ["FleetRuntime", "FleetContracts", "FleetBus", "FleetStore"],
            path: "Tests/FleetTestSupport"),
        .testTarget(name: "FleetContractsTests", dependencies: ["FleetContracts", "FleetCore"], path: "Tests/FleetContractsTests",
                    exclude: ["Fixtures"]),
        .testTarget(name: "FleetBusTests", dependencies: ["FleetBus", "FleetTestSupport"], path: "Tests/FleetBusTests"),
        .testTarget(
            name: "ServiceTests",
            dependencies: [
                "FleetRuntime", "FleetContracts", "FleetCore", "FleetBus", "FleetStore", "FleetTestSupport", "BulkDispatcherService",
                "SelectorService", "AgentService", "FleetctlKit", "SchedulerService",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            path: "Tests/ServiceTests"),
        .testTarget(
            name: "GatewayTests",
            dependencies: ["GatewayService", "FleetTestSupport", .product(name: "HummingbirdTesting", package: "hummingbird")],
            path: "Tests/GatewayTests"),
        .testTarget(name: "FleetStoreTests", dependencies: ["FleetStore", "FleetTestSupport"], path: "Tests/FleetStoreTests"),
    ],
    swiftLanguageModes: [.v6]
)
