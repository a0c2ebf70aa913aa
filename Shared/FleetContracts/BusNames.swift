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
    /// `x-delivery-limit` of the services' quorum queues: the broker dead-letters a message it has
    /// redelivered this many times. Well above `RequestRouter`'s own limit (5, counted in a header
    /// across the copies it publishes again), so it only catches what that cannot: a message whose
    /// consumer dies holding it, over and over, before its router can count it.
    public static let brokerDeliveryLimit = 20

    /// Topic exchange for per-host commands; routing key = host id. A topic exchange, because
    /// RabbitMQ's topic permissions then limit which keys an agent's broker user may bind: its own.
    public static let agentExchange = "fleet.to-agents"
    /// The queue a real agent serves: `fleet.agent.<host_id>`.
    public static func agentQueue(_ hostID: String) -> String { "fleet.agent.\(hostID)" }
    /// The queue a simulated fleet serves, all its host ids `<prefix>-<n>` bound to it. The `*`
    /// cannot occur in a host id, so no real host's queue (or permission pattern) is ever this one.
    public static func simulatedFleetQueue(_ prefix: String) -> String { "fleet.agent.\(prefix)-*" }
    /// Topic exchange for everything agents send: claims, parameter fetches, fact reports and
    /// results. An agent's broker user may publish here and nowhere else (docs/threat-model.md).
    public static let fromAgentsExchange = "fleet.from-agents"
    /// What agents send on `fleet.from-agents`, by routing key; services bind these keys there.
    public static let agentRoutes: Set<String> = [Route.bulkClaim, Route.bulkParameters, Route.hostsReport, resultKey]
    /// Where a request on `route` is published: `fleet.from-agents` for an agent's, else `fleet.commands`.
    public static func exchange(for route: String) -> String { agentRoutes.contains(route) ? fromAgentsExchange : commandsExchange }
    /// Topic exchange for commands that expired unread (`expired`), dead-lettered by agent queues.
    /// Only the broker and the services publish here.
    public static let resultsExchange = "fleet.results"
    /// The rollout controller's queue on `fleet.events` (bulk host results and finishes).
    public static let rolloutEventsQueue = "fleet.svc.rollout-controller.events"
    /// The scheduler's queue on `fleet.events` (finishes of the operations its runs created).
    public static let schedulerEventsQueue = "fleet.svc.scheduler.events"
    /// The dispatcher's queue for results (`result` on `fleet.from-agents`) and expired commands
    /// (`expired` on `fleet.results`).
    public static let resultsQueue = "fleet.svc.bulk-dispatcher.results"
    /// The routing key of a result on `fleet.from-agents`, and of an expired command on `fleet.results`.
    public static let resultKey = "result"
    public static let expiredKey = "expired"

    /// The arguments every agent queue must be declared with: a command that waits past its TTL
    /// goes back to the dispatcher as `expired`, and its host fails `undeliverable`.
    public static let agentQueueArguments: [String: String] = [
        "x-dead-letter-exchange": resultsExchange, "x-dead-letter-routing-key": expiredKey,
    ]
}

extension BusNames {
    /// Quorum queue on `fleet.events` bound to `audit.#`: the services' audit records, which the
    /// gateway appends to `fleet:audit`. Declared by every service too, so none is lost while no
    /// gateway runs.
    public static let auditQueue = "fleet.audit"
    public static let auditKeys = ["audit.#"]
    public static func auditKey(_ route: String) -> String { "audit.\(route)" }
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
        case .bulkDispatcher: ["bulk.*", "budgets.*"]
        case .rolloutController: ["rolling.*"]
        case .scheduler: ["schedules.*", "windows.*"]
        }
    }

    /// Routing keys bound to the service's queue on `fleet.from-agents`: the agent requests it serves.
    public var agentBindings: [String] {
        switch self {
        case .selector: [Route.hostsReport]
        case .bulkDispatcher: [Route.bulkClaim, Route.bulkParameters]
        case .groups, .rolloutController, .scheduler: []
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
    /// An agent's detected facts (`HostReport`), merged into its host's record.
    public static let hostsReport = "hosts.report"
    public static let selectorResolve = "selector.resolve"
    public static let groupsUpsert = "groups.upsert"
    public static let groupsGet = "groups.get"
    public static let groupsList = "groups.list"
    public static let groupsDelete = "groups.delete"
    public static let groupsHosts = "groups.hosts"
    /// A chunk of an operation's stored parameters (`ParametersChunkRequest`), for agents.
    public static let bulkParameters = "bulk.parameters"
    public static let bulkCreate = "bulk.create"
    public static let bulkGet = "bulk.get"
    public static let bulkList = "bulk.list"
    public static let bulkProgress = "bulk.progress"
    public static let bulkHosts = "bulk.hosts"
    public static let bulkCancel = "bulk.cancel"
    public static let bulkClaim = "bulk.claim"
    public static let bulkDispatch = "bulk.dispatch"
    /// `{"id", "statuses", "reasons"?}`: a new operation over the original's hosts that match.
    public static let bulkRerun = "bulk.rerun"
    /// `BudgetSet`: a fleet-wide ceiling on hosts in flight for one operation type (admin).
    public static let budgetsSet = "budgets.set"
    /// `{"operation_type"}`: removes the type's ceiling.
    public static let budgetsDelete = "budgets.delete"
    /// Every type's ceiling and hosts in flight now (`BudgetList`).
    public static let budgetsList = "budgets.list"
    public static let rollingCreate = "rolling.create"
    public static let rollingGet = "rolling.get"
    public static let rollingList = "rolling.list"
    public static let rollingProgress = "rolling.progress"
    public static let rollingPause = "rolling.pause"
    public static let rollingResume = "rolling.resume"
    public static let rollingCancel = "rolling.cancel"
    /// `{"id"}`: on from `awaiting_approval`.
    public static let rollingPromote = "rolling.promote"
    /// `{"id", "reason"}`: halts as the failure budget does, recording the reason.
    public static let rollingHalt = "rolling.halt"
    /// `{"id", "statuses", "reasons"?}`: a new rollout over the original's hosts that match.
    public static let rollingRerun = "rolling.rerun"
    /// A maintenance window (`MaintenanceWindow`), created or replaced by name.
    public static let windowsPut = "windows.put"
    /// `{"name"}`.
    public static let windowsGet = "windows.get"
    public static let windowsList = "windows.list"
    /// `{"name"}`.
    public static let windowsDelete = "windows.delete"
    public static let schedulesCreate = "schedules.create"
    public static let schedulesGet = "schedules.get"
    public static let schedulesList = "schedules.list"
    public static let schedulesUpdate = "schedules.update"
    public static let schedulesDelete = "schedules.delete"
    public static let schedulesRun = "schedules.run"
    public static let schedulesRuns = "schedules.runs"

    /// The mutating commands: each one answered is recorded in the audit trail. Agents' requests
    /// (claims, results, facts, parameter reads) and the dispatcher's own `bulk.dispatch` are
    /// plumbing, not requests anyone makes.
    public static let audited: Set<String> = [
        hostsUpsert, hostsDelete, groupsUpsert, groupsDelete, bulkCreate, bulkCancel, bulkRerun, rollingCreate, rollingPause,
        rollingResume, rollingCancel, rollingPromote, rollingHalt, rollingRerun, schedulesCreate, schedulesUpdate, schedulesDelete,
        schedulesRun, budgetsSet, budgetsDelete, windowsPut, windowsDelete,
    ]
}

/// Event routing keys on `fleet.events`.
public enum EventRoute {
    public static let hostsChanged = "hosts.changed"
    public static func bulkHost(_ op: String) -> String { "bulk.\(op).host" }
    public static func bulkHostsEnded(_ op: String) -> String { "bulk.\(op).hosts" }
    public static func bulkFinished(_ op: String) -> String { "bulk.\(op).finished" }
    public static func rollingBatch(_ id: String) -> String { "rolling.\(id).batch" }
    public static func rollingHalted(_ id: String) -> String { "rolling.\(id).halted" }
    public static func rollingFinished(_ id: String) -> String { "rolling.\(id).finished" }
    public static func scheduleFired(_ id: String) -> String { "schedule.\(id).fired" }
}
