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
        // Metrics: the API everywhere, the Prometheus backend in FleetObservability (served on /metrics).
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // HTTP (the gateway, and every service's /metrics endpoint through FleetObservability), token
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
        // The bus as services speak it: typed contract messages, calls, events, configuration.
        // What an agent needs, and no more (no hiredis, no HTTP server).
        .target(
            name: "FleetMessaging",
            dependencies: [
                "FleetBus", "FleetContracts", "FleetCore", .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            path: "Shared/FleetMessaging"),
        // Metrics: the swift-metrics API bootstrapped with a Prometheus registry, served on /metrics.
        .target(
            name: "FleetObservability",
            dependencies: [
                "FleetContracts", "FleetCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Shared/FleetObservability"),
        // A service's process: context, command loop, consumers, typed repositories of Redis records.
        .target(
            name: "FleetRuntime",
            dependencies: [
                "FleetMessaging", "FleetObservability", "FleetBus", "FleetStore", "FleetContracts", "FleetCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Shared/FleetRuntime"),
        .target(
            name: "SelectorService", dependencies: ["FleetRuntime", "FleetMessaging", "FleetBus", "FleetContracts", "FleetCore", "FleetStore"],
            path: "Services/Selector/Sources"),
        .executableTarget(name: "fleet-selector", dependencies: ["SelectorService", "FleetRuntime", "FleetContracts"], path: "Services/Selector/Main"),
        .target(
            name: "BulkDispatcherService",
            dependencies: [
                "FleetRuntime", "FleetMessaging", "FleetObservability", "FleetBus", "FleetContracts", "FleetCore", "FleetStore",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"), .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Services/BulkDispatcher/Sources"),
        .executableTarget(
            name: "fleet-bulk-dispatcher", dependencies: ["BulkDispatcherService", "FleetRuntime", "FleetContracts"], path: "Services/BulkDispatcher/Main"),
        .target(
            name: "RolloutControllerService",
            dependencies: [
                "FleetRuntime", "FleetMessaging", "FleetBus", "FleetContracts", "FleetCore", "FleetStore",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Services/RolloutController/Sources"),
        .executableTarget(
            name: "fleet-rollout-controller", dependencies: ["RolloutControllerService", "FleetRuntime", "FleetContracts"],
            path: "Services/RolloutController/Main"),
        .target(
            name: "SchedulerService",
            dependencies: [
                "FleetRuntime", "FleetMessaging", "FleetBus", "FleetContracts", "FleetCore", "FleetStore",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"), .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Services/Scheduler/Sources"),
        .executableTarget(name: "fleet-scheduler", dependencies: ["SchedulerService", "FleetRuntime", "FleetContracts"], path: "Services/Scheduler/Main"),
        .target(
            name: "FleetctlKit",
            // FleetCore only: the CLI speaks HTTP to the gateway and links neither hiredis nor rabbitmq-c.
            dependencies: ["FleetCore", .product(name: "AsyncHTTPClient", package: "async-http-client")],
            path: "Services/Fleetctl/Sources"),
        .executableTarget(
            name: "fleetctl",
            dependencies: ["FleetctlKit", "FleetCore", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Services/Fleetctl/Main"),
        .target(
            // FleetMessaging, not FleetRuntime: an agent links neither hiredis nor an HTTP server.
            name: "AgentService",
            dependencies: [
                "FleetMessaging", "FleetBus", "FleetContracts", "FleetCore", .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Services/Agent/Sources"),
        .executableTarget(
            name: "fleet-agent",
            dependencies: [
                "AgentService", "FleetMessaging", "FleetBus", .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Services/Agent/Main"),
        .target(
            name: "GroupsService", dependencies: ["FleetRuntime", "FleetMessaging", "FleetContracts", "FleetCore", "FleetStore"],
            path: "Services/Groups/Sources"),
        .executableTarget(name: "fleet-groups", dependencies: ["GroupsService", "FleetRuntime", "FleetContracts"], path: "Services/Groups/Main"),
        .target(
            name: "GatewayService",
            dependencies: [
                "FleetRuntime", "FleetMessaging", "FleetObservability", "FleetBus", "FleetContracts", "FleetCore", "FleetStore",
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Services/Gateway/Sources",
            // The API description (docs/openapi.yaml links to it), served at GET /openapi.yaml.
            resources: [.process("Resources/openapi.yaml")]),
        .executableTarget(
            name: "fleet-gateway",
            dependencies: [
                "GatewayService", "FleetRuntime", "FleetMessaging", "FleetObservability", "FleetBus", "FleetStore",
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Services/Gateway/Main"),
        .executableTarget(
            name: "fleet-gateway-bench",
            dependencies: [
                "FleetMessaging", "FleetBus", "FleetContracts", "FleetCore", "FleetStore", "BenchFacts",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            path: "Tests/Benchmarks/GatewayBench"),
        .target(name: "BenchFacts", dependencies: ["FleetCore"], path: "Tests/Benchmarks/BenchFacts"),
        .executableTarget(name: "fleet-core-bench", dependencies: ["FleetCore", "BenchFacts"], path: "Tests/Benchmarks/FleetCoreBench"),
        .executableTarget(
            name: "fleet-bench", dependencies: ["FleetBus", "FleetStore"], path: "Tests/Benchmarks/FleetBench"),
        .testTarget(
            name: "FleetCoreTests",
            dependencies: ["FleetCore", .product(name: "PropertyBased", package: "swift-property-based")],
            path: "Tests/FleetCoreTests"),
        .target(
            name: "FleetTestSupport", dependencies: ["FleetRuntime", "FleetMessaging", "FleetContracts", "FleetCore", "FleetBus", "FleetStore"],
            path: "Tests/FleetTestSupport"),
        .testTarget(name: "FleetContractsTests", dependencies: ["FleetContracts", "FleetCore"], path: "Tests/FleetContractsTests",
                    exclude: ["Fixtures"]),
        .testTarget(name: "FleetBusTests", dependencies: ["FleetBus", "FleetTestSupport"], path: "Tests/FleetBusTests"),
        .testTarget(
            name: "ServiceTests",
            dependencies: [
                "FleetRuntime", "FleetMessaging", "FleetContracts", "FleetCore", "FleetBus", "FleetStore", "FleetTestSupport", "BulkDispatcherService",
                "SelectorService", "AgentService", "FleetctlKit", "SchedulerService",
                .product(name: "PropertyBased", package: "swift-property-based"), .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            path: "Tests/ServiceTests"),
        .testTarget(
            name: "GatewayTests",
            dependencies: [
                "GatewayService", "FleetTestSupport", "FleetRuntime", "FleetMessaging", "FleetContracts", "FleetCore", "FleetBus",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            path: "Tests/GatewayTests"),
        .testTarget(name: "FleetStoreTests", dependencies: ["FleetStore", "FleetContracts", "FleetTestSupport"], path: "Tests/FleetStoreTests"),
    ],
    swiftLanguageModes: [.v6]
)
