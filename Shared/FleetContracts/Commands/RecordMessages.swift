import FleetCore

/// The reply of a delete (`hosts.delete`, `groups.delete`, `schedules.delete`).
public struct Deleted: FleetMessage {
    public static let messageName = "record.deleted"

    public var id: String
    public var deleted: Bool
    /// `groups.delete`: the children moved to the deleted group's parent.
    public var reparented: [String]?

    public init(id: String, reparented: [String]? = nil) {
        self.id = id
        deleted = true
        self.reparented = reparented
    }
}

/// The reply of `hosts.list`: hosts in id order, each a host object of docs/domain.md, "Hosts".
public struct HostsPage: FleetMessage {
    public static let messageName = "hosts.list.reply"

    public var hosts: [JSONValue]
    /// Pass back as `cursor` for the next page; null on the last.
    public var nextCursor: String?

    public init(hosts: [JSONValue], nextCursor: String?) {
        self.hosts = hosts
        self.nextCursor = nextCursor
    }

    enum CodingKeys: String, CodingKey { case hosts, nextCursor = "next_cursor" }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(hosts, forKey: .hosts)
        try c.encode(nextCursor, forKey: .nextCursor)  // null, not absent
    }
}

/// The reply of `groups.list`: group objects of docs/domain.md, "Groups", by id.
public struct GroupList: FleetMessage {
    public static let messageName = "groups.list.reply"

    public var groups: [JSONValue]

    public init(groups: [JSONValue]) { self.groups = groups }
}

/// The reply of `schedules.list` (newest first).
public struct ScheduleList: FleetMessage {
    public static let messageName = "schedules.list.reply"

    public var schedules: [JSONValue]

    public init(schedules: [JSONValue]) { self.schedules = schedules }
}

/// The reply of `schedules.runs`: the last 100 runs, newest first.
public struct ScheduleRunList: FleetMessage {
    public static let messageName = "schedules.runs.reply"

    public var runs: [JSONValue]

    public init(runs: [JSONValue]) { self.runs = runs }
}
