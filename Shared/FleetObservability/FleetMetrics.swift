import CoreMetrics
import FleetContracts
import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import Synchronization

/// Metrics for Prometheus: every process bootstraps swift-metrics once with a Prometheus registry,
/// and serves it as text on `GET /metrics` (the gateway on its own port; services on
/// `FLEET_METRICS_PORT`). Labels are bounded: routes, statuses, queue names of the contract,
/// outcomes; never host or operation ids.
public enum FleetMetrics {
    private static let bootstrapped = Mutex<PrometheusCollectorRegistry?>(nil)

    /// The registry, bootstrapping the metrics system the first time.
    public static var registry: PrometheusCollectorRegistry {
        bootstrapped.withLock { registry in
            if let registry { return registry }
            let r = PrometheusCollectorRegistry()
            var factory = PrometheusMetricsFactory(registry: r)
            // Dots are not legal in Prometheus names; libraries' metrics get underscores.
            factory.nameAndLabelSanitizer = { name, labels in
                (name.replacingOccurrences(of: ".", with: "_"), labels.map { ($0.0.replacingOccurrences(of: ".", with: "_"), $0.1) })
            }
            MetricsSystem.bootstrap(factory)
            registry = r
            return r
        }
    }

    /// The Prometheus text exposition of everything recorded so far.
    public static func exposition() -> String { registry.emitToString() }

    /// Adds `by` to a counter (dimensions must be bounded).
    public static func count(_ label: String, _ dimensions: [(String, String)] = [], by amount: Int = 1) {
        Counter(label: label, dimensions: dimensions).increment(by: Int64(amount))
    }

    /// A command a service answered, by route and reply status.
    public static func command(route: String, status: Int) {
        Counter(label: "fleet_bus_commands_total", dimensions: [("route", route), ("status", String(status))]).increment()
    }

    /// The default `/metrics` port of each service (the gateway serves it on its HTTP port).
    public static func defaultPort(_ service: ServiceName) -> Int {
        switch service {
        case .selector: 9101
        case .groups: 9102
        case .bulkDispatcher: 9103
        case .rolloutController: 9104
        case .scheduler: 9105
        }
    }
}

/// Serves `GET /metrics` for a service on `FLEET_METRICS_PORT` (0 turns it off). A port already
/// taken (a second replica on the same machine) is logged and the service runs on without it.
public struct MetricsEndpoint: Service {
    let port: Int
    let host: String
    let logger: Logger

    public init(service: ServiceName, environment: [String: String], logger: Logger) {
        port = environment["FLEET_METRICS_PORT"].flatMap(Int.init) ?? FleetMetrics.defaultPort(service)
        host = environment["FLEET_METRICS_HOST"] ?? "127.0.0.1"
        self.logger = logger
        _ = FleetMetrics.registry
    }

    public func run() async throws {
        guard port > 0 else { return try await gracefulShutdown() }
        let router = Router()
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(string: FleetMetrics.exposition())))
        }
        let app = Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: "fleet-metrics"), logger: logger)
        do {
            // `run`, not `runService`: the latter listens for SIGTERM itself and would stop before
            // this group's orderly shutdown reaches it.
            try await app.run()
        } catch {
            logger.warning("metrics endpoint not served", metadata: ["port": "\(port)", "error": "\(error)"])
            try await gracefulShutdown()
        }
    }
}
