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

/// The reply of `groups.list`: group objects of docs/domain.md, "Groups", by id, a page at a time.
public struct GroupList: FleetMessage {
    public static let messageName = "groups.list.reply"

    public var groups: [JSONValue]
    /// Pass back as `cursor` for the next page; null on the last.
    public var nextCursor: String?

    public init(groups: [JSONValue], nextCursor: String? = nil) {
        self.groups = groups
        self.nextCursor = nextCursor
    }

    enum CodingKeys: String, CodingKey { case groups, nextCursor = "next_cursor" }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(groups, forKey: .groups)
        try c.encode(nextCursor, forKey: .nextCursor)  // null, not absent
    }
}

/// The reply of `schedules.list`: newest first, a page at a time.
public struct ScheduleList: FleetMessage {
    public static let messageName = "schedules.list.reply"

    public var schedules: [JSONValue]
    /// Pass back as `cursor` for the next page; null on the last.
    public var nextCursor: String?

    public init(schedules: [JSONValue], nextCursor: String? = nil) {
        self.schedules = schedules
        self.nextCursor = nextCursor
    }

    enum CodingKeys: String, CodingKey { case schedules, nextCursor = "next_cursor" }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(schedules, forKey: .schedules)
        try c.encode(nextCursor, forKey: .nextCursor)  // null, not absent
    }
}

/// The reply of `schedules.runs`: the last 100 runs, newest first, a page at a time.
public struct ScheduleRunList: FleetMessage {
    public static let messageName = "schedules.runs.reply"

    public var runs: [JSONValue]
    /// Pass back as `cursor` for the next page; null on the last.
    public var nextCursor: String?

    public init(runs: [JSONValue], nextCursor: String? = nil) {
        self.runs = runs
        self.nextCursor = nextCursor
    }

    enum CodingKeys: String, CodingKey { case runs, nextCursor = "next_cursor" }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(runs, forKey: .runs)
        try c.encode(nextCursor, forKey: .nextCursor)  // null, not absent
    }
}
