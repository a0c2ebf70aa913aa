/// The fields of the fleet-wide `fleet:stats` hash and how each move of hosts changes them.
///
/// Two kinds: gauges of now (`hosts_queued`, `hosts_in_flight`, `operations_running`), which go
/// up and down with each transition and read 0 once every operation has finished; and cumulative
/// totals named `..._total`. The names of the first release (`hosts_running` counted claims ever
/// granted, which dashboards misread as a gauge) are still written, deprecated, for one release.
public enum FleetStats {
    public static let hostsQueued = "hosts_queued"
    public static let hostsInFlight = "hosts_in_flight"
    public static let operationsRunning = "operations_running"

    /// One field's change (`HINCRBY field by`).
    public struct Change: Hashable, Sendable {
        public let field: String
        public let by: Int
        public init(_ field: String, _ by: Int) {
            self.field = field
            self.by = by
        }
    }

    /// A move as the transition script reports it: where the hosts went, how many came from
    /// queued and from running, and the aggregate if this move finished the operation.
    public struct Move: Hashable, Sendable {
        public let to: HostStatus
        public let fromQueued: Int
        public let fromRunning: Int
        public let finished: AggregateStatus?

        public init(to: HostStatus, fromQueued: Int, fromRunning: Int, finished: AggregateStatus?) {
            self.to = to
            self.fromQueued = fromQueued
            self.fromRunning = fromRunning
            self.finished = finished
        }

        /// Hosts moved (the state machine only moves hosts out of queued or running).
        public var applied: Int { fromQueued + fromRunning }
    }

    /// The cumulative total of hosts that moved to `status` (a move to running is a start).
    public static func hostsTotal(_ status: HostStatus) -> String {
        status == .running ? "hosts_started_total" : "hosts_\(status.rawValue)_total"
    }

    public static func operationsTotal(_ outcome: AggregateStatus) -> String { "operations_\(outcome.rawValue)_total" }

    /// What creating an operation over `hosts` hosts changes (an empty one finishes `succeeded` at once).
    public static func created(hosts: Int) -> [Change] {
        var out = [
            Change("operations_created_total", 1), Change("hosts_targeted_total", hosts),
            Change("operations_created", 1), Change("hosts_targeted", hosts),
        ]
        if hosts == 0 {
            out += [Change(operationsTotal(.succeeded), 1), Change("operations_succeeded", 1)]
        } else {
            out += [Change(hostsQueued, hosts), Change(operationsRunning, 1)]
        }
        return out
    }

    /// What a move changes; nothing when no host moved.
    public static func changes(_ move: Move) -> [Change] {
        guard move.applied > 0 else { return [] }
        var out = [Change(hostsTotal(move.to), move.applied), Change("hosts_\(move.to.rawValue)", move.applied)]
        let queued = (move.to == .queued ? move.applied : 0) - move.fromQueued
        let running = (move.to == .running ? move.applied : 0) - move.fromRunning
        if queued != 0 { out.append(Change(hostsQueued, queued)) }
        if running != 0 { out.append(Change(hostsInFlight, running)) }
        if let outcome = move.finished {
            out += [Change(operationsRunning, -1), Change(operationsTotal(outcome), 1), Change("operations_\(outcome.rawValue)", 1)]
        }
        return out
    }
}
