import FleetCore

/// `selector.resolve`: a selector (docs/domain.md, "Selector") with the resolution's options
/// beside its fields, as one flat object. The selector itself stays JSON here: FleetCore's
/// `HostSelector` validates it, naming each wrong field.
public struct ResolveRequest: FleetMessage {
    public static let messageName = "selector.resolve"

    /// The selector object (`hosts`, `groups`, `where`, ...).
    public var selector: [String: JSONValue]
    /// Adds `explanation`: why each host was admitted or rejected.
    public var explain: Bool
    /// Adds `not_approved_host_ids`: the selected hosts not `approved`.
    public var partitionByApproval: Bool
    /// Adds `domains`: each selected host's value of this field or `facts.<key>` (a rollout's
    /// failure domains, `FailureDomains.Key`).
    public var domainOf: String?

    public static let optionKeys: Set<String> = ["explain", "partition_by_approval", "domain_of"]

    public init(selector: [String: JSONValue], explain: Bool = false, partitionByApproval: Bool = false, domainOf: String? = nil) {
        self.selector = selector
        self.explain = explain
        self.partitionByApproval = partitionByApproval
        self.domainOf = domainOf
    }

    /// The selector of a request: `selector` must be an object (anything else resolves nothing).
    public init(selector json: JSONValue, explain: Bool = false, partitionByApproval: Bool = false, domainOf: String? = nil) {
        self.init(selector: json.objectValue ?? [:], explain: explain, partitionByApproval: partitionByApproval, domainOf: domainOf)
    }

    /// Reads a request body already parsed (the selector service's own input): the options are
    /// checked in place, without encoding and decoding the whole selector again.
    public init(body: JSONValue) throws(ValidationError) {
        let o = body.objectValue ?? [:]
        func flag(_ key: String) throws(ValidationError) -> Bool {
            guard let v = o[key], v != .null else { return false }
            guard let b = v.boolValue else { throw ValidationError(key, .invalidType, "\(key) must be a boolean, got \(v.typeName)") }
            return b
        }
        var domainOf: String?
        if let v = o["domain_of"], v != .null {
            guard let s = v.stringValue, FailureDomains.Key(s) != nil else {
                throw ValidationError("domain_of", .invalidValue, "domain_of is a single-valued host field (platform, site_id, ...) or facts.<key>")
            }
            domainOf = s
        }
        self.init(
            selector: o.filter { !Self.optionKeys.contains($0.key) }, explain: try flag("explain"),
            partitionByApproval: try flag("partition_by_approval"), domainOf: domainOf)
    }

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ s: String) { stringValue = s }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        var selector: [String: JSONValue] = [:]
        for key in c.allKeys where !Self.optionKeys.contains(key.stringValue) {
            selector[key.stringValue] = try c.decode(JSONValue.self, forKey: key)
        }
        self.selector = selector
        explain = try c.decodeIfPresent(Bool.self, forKey: Key("explain")) ?? false
        partitionByApproval = try c.decodeIfPresent(Bool.self, forKey: Key("partition_by_approval")) ?? false
        domainOf = try c.decodeIfPresent(String.self, forKey: Key("domain_of"))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        for (key, value) in selector where !Self.optionKeys.contains(key) { try c.encode(value, forKey: Key(key)) }
        if explain { try c.encode(true, forKey: Key("explain")) }
        if partitionByApproval { try c.encode(true, forKey: Key("partition_by_approval")) }
        if let domainOf { try c.encode(domainOf, forKey: Key("domain_of")) }
    }
}

/// The reply of `selector.resolve`: the selected host ids in id order.
public struct ResolveReply: FleetMessage {
    public static let messageName = "selector.resolve.reply"

    public var hostIDs: [String]
    public var count: Int
    /// Ids named in `hosts` that the inventory does not hold (absent when none).
    public var unknownHostIDs: [String]?
    /// With `partition_by_approval`: the selected hosts not `approved`.
    public var notApprovedHostIDs: [String]?
    /// With `explain`.
    public var explanation: Explanation?
    /// With `domain_of`: each selected host's value (hosts without one are left out).
    public var domains: [String: String]?

    public struct Explanation: Codable, Sendable, Hashable {
        public var admitted: [Admitted]
        public var rejected: [Rejected]
        public init(admitted: [Admitted], rejected: [Rejected]) {
            self.admitted = admitted
            self.rejected = rejected
        }
    }

    public struct Admitted: Codable, Sendable, Hashable {
        public var hostID: String
        public var admittedBy: String
        public var clauses: [String]
        public init(hostID: String, admittedBy: String, clauses: [String]) {
            self.hostID = hostID
            self.admittedBy = admittedBy
            self.clauses = clauses
        }
        enum CodingKeys: String, CodingKey { case hostID = "host_id", admittedBy = "admitted_by", clauses }
    }

    public struct Rejected: Codable, Sendable, Hashable {
        public var hostID: String
        public var rejectedBy: String
        public init(hostID: String, rejectedBy: String) {
            self.hostID = hostID
            self.rejectedBy = rejectedBy
        }
        enum CodingKeys: String, CodingKey { case hostID = "host_id", rejectedBy = "rejected_by" }
    }

    public init(
        hostIDs: [String], unknownHostIDs: [String]? = nil, notApprovedHostIDs: [String]? = nil, explanation: Explanation? = nil
    ) {
        self.hostIDs = hostIDs
        count = hostIDs.count
        self.unknownHostIDs = unknownHostIDs
        self.notApprovedHostIDs = notApprovedHostIDs
        self.explanation = explanation
    }

    enum CodingKeys: String, CodingKey {
        case hostIDs = "host_ids", count, unknownHostIDs = "unknown_host_ids", notApprovedHostIDs = "not_approved_host_ids", explanation
        case domains
    }
}

/// `hosts.report`: what an agent detects on its host, merged into the stored record by the
/// selector service (the detected facts replace the stored ones; what the operator set, such as
/// approval, tags and custom fields, stays). Replies with the host.
public struct HostReport: FleetMessage {
    public static let messageName = "hosts.report"

    public var id: String
    public var fqdn: String?
    public var platform: String?
    public var platformRelease: String?
    public var machineArchitecture: String?
    public var cpuCores: Int?
    public var memoryTotalMB: Int?
    public var enabledShells: [String]?
    public var agentVersion: String?
    public var status: String?

    public init(id: String) { self.id = id }

    enum CodingKeys: String, CodingKey {
        case id, fqdn, platform, platformRelease = "platform_release", machineArchitecture = "machine_architecture"
        case cpuCores = "cpu_cores", memoryTotalMB = "memory_total_mb", enabledShells = "enabled_shells"
        case agentVersion = "agent_version", status
    }
}

/// `hosts.upsert` with many hosts at once (thousands): `{"hosts": [host, ...]}`, each a host
/// object of docs/domain.md, "Hosts" (FleetCore's `FleetHost` validates each, naming `hosts[i].field`).
public struct HostsUpsert: FleetMessage {
    public static let messageName = "hosts.upsert"

    public var hosts: [JSONValue]

    public init(hosts: [JSONValue]) { self.hosts = hosts }
}

/// The reply of `hosts.upsert` with many hosts.
public struct HostsUpserted: FleetMessage {
    public static let messageName = "hosts.upsert.reply"

    public var upserted: Int
    /// How many of them were new.
    public var created: Int

    public init(upserted: Int, created: Int) {
        self.upserted = upserted
        self.created = created
    }
}
