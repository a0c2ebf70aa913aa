/// Exchange, queue and header names of the bus contract (docs/bus.md). Version 1.
public enum BusNames {
    /// The contract version carried in `x-fleet-version`.
    public static let contractVersion = "1"
    public static let versionHeader = "x-fleet-version"

    public static let commandsExchange = "fleet.commands"
    public static let eventsExchange = "fleet.events"
    public static let deadLetterExchange = "fleet.dlx"
    public static let deadLetterQueue = "fleet.dead"

    public static func serviceQueue(_ service: ServiceName) -> String { "fleet.svc.\(service.rawValue)" }
}

/// The services that serve commands.
public enum ServiceName: String, CaseIterable, Sendable {
    case selector, groups
    case bulkDispatcher = "bulk-dispatcher", rolloutController = "rollout-controller", scheduler

    /// Routing-key patterns bound to the service's queue on `fleet.commands`.
    public var bindings: [String] {
        switch self {
        case .selector: ["hosts.*", "selector.*"]
        case .groups: ["groups.*"]
        case .bulkDispatcher: ["bulk.*"]
        case .rolloutController: ["rolling.*"]
        case .scheduler: ["schedules.*"]
        }
    }

    /// The routing key a service answers readiness checks on.
    public var healthRoute: String {
        switch self {
        case .selector: "selector.health"
        case .groups: "groups.health"
        case .bulkDispatcher: "bulk.health"
        case .rolloutController: "rolling.health"
        case .scheduler: "schedules.health"
        }
    }
}

/// Command routing keys (`<service>.<action>`).
public enum Route {
    public static let hostsUpsert = "hosts.upsert"
    public static let hostsDelete = "hosts.delete"
    public static let hostsGet = "hosts.get"
    public static let hostsList = "hosts.list"
    public static let selectorResolve = "selector.resolve"
    public static let groupsUpsert = "groups.upsert"
    public static let groupsGet = "groups.get"
    public static let groupsList = "groups.list"
    public static let groupsDelete = "groups.delete"
    public static let groupsHosts = "groups.hosts"
    public static let bulkCreate = "bulk.create"
    public static let bulkGet = "bulk.get"
    public static let bulkList = "bulk.list"
    public static let bulkProgress = "bulk.progress"
    public static let bulkHosts = "bulk.hosts"
    public static let bulkCancel = "bulk.cancel"
}

/// Event routing keys on `fleet.events`.
public enum EventRoute {
    public static let hostsChanged = "hosts.changed"
}
