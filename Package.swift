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
            dependencies: ["CRabbitMQ", .product(name: "Logging", package: "swift-log")],
            path: "Shared/FleetBus"),
        .target(
            name: "FleetStore",
            dependencies: ["CHiredis", .product(name: "Logging", package: "swift-log")],
            path: "Shared/FleetStore"),
        .target(
            name: "FleetRuntime",
            dependencies: ["FleetBus", "FleetStore", "FleetContracts", .product(name: "Logging", package: "swift-log")],
            path: "Shared/FleetRuntime"),
        .executableTarget(name: "fleet-core-bench", dependencies: ["FleetCore"], path: "Tests/Benchmarks/FleetCoreBench"),
        .executableTarget(
            name: "fleet-bench", dependencies: ["FleetBus", "FleetStore"], path: "Tests/Benchmarks/FleetBench"),
        .testTarget(
            name: "FleetCoreTests",
            dependencies: ["FleetCore", .product(name: "PropertyBased", package: "swift-property-based")],
            path: "Tests/FleetCoreTests"),
        .target(name: "FleetTestSupport", path: "Tests/FleetTestSupport"),
        .testTarget(name: "FleetBusTests", dependencies: ["FleetBus", "FleetTestSupport"], path: "Tests/FleetBusTests"),
        .testTarget(name: "FleetStoreTests", dependencies: ["FleetStore", "FleetTestSupport"], path: "Tests/FleetStoreTests"),
    ],
    swiftLanguageModes: [.v6]
)
