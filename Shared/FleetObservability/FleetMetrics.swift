import CoreMetrics
import FleetContracts
import FleetCore
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
/// outcomes; never host or operation ids. Every metric is in `catalogue`, which gives its HELP.
public enum FleetMetrics {
    private static let bootstrapped = Mutex<PrometheusCollectorRegistry?>(nil)

    /// The registry, bootstrapping the metrics system the first time.
    public static var registry: PrometheusCollectorRegistry {
        bootstrapped.withLock { registry in
            if let registry { return registry }
            let r = PrometheusCollectorRegistry()
            MetricsSystem.bootstrap(DescribedMetricsFactory(registry: r))
            // Counters of rare events exist from the start, so a dashboard's rate() reads 0, not nothing.
            for name in ["fleet_amqp_reconnects_total", "fleet_redis_reconnects_total"] { Counter(label: name).increment(by: 0) }
            registry = r
            return r
        }
    }

    public static let httpRequestDuration = "fleet_http_request_duration_seconds"
    public static let busCallDuration = "fleet_bus_call_duration_seconds"
    public static let busCommandDuration = "fleet_bus_command_duration_seconds"
    public static let dispatchToResult = "fleet_bulk_dispatch_to_result_seconds"
    public static let operationsRunning = "fleet_operations_running"
    public static let hostsInFlight = "fleet_hosts_in_flight"
    public static let hostsQueued = "fleet_hosts_queued"
    public static let rolloutsRunning = "fleet_rollouts_running"

    /// Every metric the engine exports, and its HELP text (README, "Metrics").
    public static let catalogue: [String: String] = [
        "fleet_http_requests_total": "HTTP requests the gateway answered, by method, route template and status.",
        httpRequestDuration: "Seconds from an HTTP request's arrival to its response, by method and route template.",
        "fleet_bus_commands_total": "Bus commands this service answered, by routing key and reply status.",
        busCommandDuration: "Seconds a service spent answering a bus command, by routing key.",
        busCallDuration: "Seconds from sending a bus command to its reply (the caller's view), by routing key.",
        "fleet_bus_messages_total": "Messages this process settled from its queues, by queue and outcome.",
        "fleet_amqp_reconnects_total": "Times a broker connection was opened again after it was lost.",
        "fleet_redis_reconnects_total": "Times the Redis connection was opened again after it was lost.",
        "fleet_agent_refused_total": "Messages refused because their sender may not speak for the hosts they name, by routing key.",
        "fleet_bulk_dispatched_total": "Agent commands the dispatcher published and the broker confirmed.",
        "fleet_bulk_dispatch_retries_total": "Agent command publishes tried again after the broker did not confirm them.",
        "fleet_bulk_hosts_ended_total": "Hosts that reached a terminal status, by status and reason.",
        dispatchToResult: "Seconds from publishing a host's command to recording its result.",
        operationsRunning: "Bulk operations not yet finished, fleet-wide (fleet:stats operations_running).",
        hostsInFlight: "Hosts running right now, fleet-wide (fleet:stats hosts_in_flight).",
        hostsQueued: "Hosts queued in unfinished operations, fleet-wide (fleet:stats hosts_queued).",
        rolloutsRunning: "Rollouts not yet ended (running, paused, soaking or awaiting approval), fleet-wide.",
        "fleet_webhook_attempts_total": "Completion webhook POSTs attempted, by outcome (delivered: a 2xx; failed: anything else).",
    ]

    /// Histogram buckets in seconds: from a fast local round trip to a slow host's command.
    static let buckets: [Duration] = [
        .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10),
        .seconds(30), .seconds(60), .seconds(300),
    ]

    /// The Prometheus text exposition of everything recorded so far.
    public static func exposition() -> String { registry.emitToString() }

    /// Adds `by` to a counter (dimensions must be bounded).
    public static func count(_ label: String, _ dimensions: [(String, String)] = [], by amount: Int = 1) {
        Counter(label: label, dimensions: dimensions).increment(by: Int64(amount))
    }

    /// Records a duration in a histogram (dimensions must be bounded).
    public static func observe(_ label: String, _ dimensions: [(String, String)] = [], _ duration: Duration) {
        Timer(label: label, dimensions: dimensions).recordSeconds(max(0, duration.seconds))
    }

    /// Sets a gauge.
    public static func gauge(_ label: String, _ value: Int64) {
        Gauge(label: label).record(value)
    }

    /// A command a service answered, by route and reply status, and how long it took.
    public static func command(route: String, status: Int, duration: Duration) {
        Counter(label: "fleet_bus_commands_total", dimensions: [("route", route), ("status", String(status))]).increment()
        observe(busCommandDuration, [("route", route)], duration)
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

/// swift-metrics onto the registry with each metric's HELP from `FleetMetrics.catalogue` (the
/// library's factory passes an empty one). Dots become underscores: libraries' names are dotted.
struct DescribedMetricsFactory: MetricsFactory {
    let registry: PrometheusCollectorRegistry
    let plain: PrometheusMetricsFactory

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        plain = PrometheusMetricsFactory(registry: registry)
    }

    private func named(_ label: String, _ dimensions: [(String, String)]) -> (MetricNameDescriptor, [(String, String)]) {
        let name = Self.underscored(label)
        let help = FleetMetrics.catalogue[name] ?? "\(name) (not in the catalogue)"
        return (MetricNameDescriptor(metricName: name, unitName: "", helpText: help), dimensions.map { (Self.underscored($0.0), $0.1) })
    }

    /// Prometheus names take no dots. Checked before replacing: a handler is made for every
    /// increment (`Counter(label:)` per message acked), and Foundation's replacingOccurrences
    /// was 6 % of the dispatcher's time in a bulk run (perf, README "Performance").
    private static func underscored(_ s: String) -> String {
        s.utf8.contains(UInt8(ascii: ".")) ? s.replacingOccurrences(of: ".", with: "_") : s
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        let (name, labels) = named(label, dimensions)
        return registry.makeCounter(descriptor: name, labels: labels)
    }

    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        let (name, labels) = named(label, dimensions)
        return registry.makeCounter(descriptor: name, labels: labels)
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        let (name, labels) = named(label, dimensions)
        guard aggregate else { return registry.makeGauge(descriptor: name, labels: labels) }
        return registry.makeValueHistogram(descriptor: name, labels: labels, buckets: FleetMetrics.buckets.map(\.seconds))
    }

    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        let (name, labels) = named(label, dimensions)
        return registry.makeGauge(descriptor: name, labels: labels)
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        let (name, labels) = named(label, dimensions)
        return registry.makeDurationHistogram(descriptor: name, labels: labels, buckets: FleetMetrics.buckets)
    }

    func destroyCounter(_ handler: any CounterHandler) { plain.destroyCounter(handler) }
    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) { plain.destroyFloatingPointCounter(handler) }
    func destroyRecorder(_ handler: any RecorderHandler) { plain.destroyRecorder(handler) }
    func destroyMeter(_ handler: any MeterHandler) { plain.destroyMeter(handler) }
    func destroyTimer(_ handler: any TimerHandler) { plain.destroyTimer(handler) }
}

/// Serves `GET /metrics` for a service on `FLEET_METRICS_PORT` (0 turns it off), and `GET /health`
/// there for a container's healthcheck: 200 `{"ready": true}` while its broker connections and
/// Redis are up, else 503. A port already taken (a second replica on the same machine) is logged
/// and the service runs on without it.
public struct MetricsEndpoint: Service {
    let port: Int
    let host: String
    let logger: Logger
    let ready: @Sendable () async -> Bool

    public init(service: ServiceName, environment: [String: String], logger: Logger, ready: @escaping @Sendable () async -> Bool = { true }) {
        port = environment["FLEET_METRICS_PORT"].flatMap(Int.init) ?? FleetMetrics.defaultPort(service)
        host = environment["FLEET_METRICS_HOST"] ?? "127.0.0.1"
        self.logger = logger
        self.ready = ready
        _ = FleetMetrics.registry
    }

    public func run() async throws {
        guard port > 0 else { return try await gracefulShutdown() }
        let router = Router()
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(string: FleetMetrics.exposition())))
        }
        router.get("/health") { [ready] _, _ in
            let up = await ready()
            return Response(
                status: up ? .ok : .serviceUnavailable, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: up ? #"{"ready":true}"# : #"{"ready":false}"#)))
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
