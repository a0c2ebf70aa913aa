/// The selectable top-level fields of a host (docs/domain.md, "Hosts") and their types.
public enum HostField: String, CaseIterable, Sendable, Hashable {
    case id, fqdn, platform
    case platformRelease = "platform_release", platformVersion = "platform_version"
    case machineArchitecture = "machine_architecture", processor
    case approvalStatus = "approval_status", status
    case ipv4, ipv6, publicIP = "public_ip", agentVersion = "agent_version"
    case parentHostID = "parent_host_id", siteID = "site_id", timezone, lastAccess = "last_access"
    case active, rebootRequired = "reboot_required", scriptExecutionEnabled = "script_execution_enabled"
    case cpuCores = "cpu_cores", memoryTotalMB = "memory_total_mb"
    case tags, enabledShells = "enabled_shells"

    public enum Kind: Sendable { case string, bool, int, stringList }

    public var kind: Kind {
        switch self {
        case .active, .rebootRequired, .scriptExecutionEnabled: .bool
        case .cpuCores, .memoryTotalMB: .int
        case .tags, .enabledShells: .stringList
        default: .string
        }
    }

    /// Fields with few distinct values, kept in value -> hosts indexes so `equals`/`in` need no scan.
    public var isIndexed: Bool {
        switch self {
        case .platform, .platformRelease, .machineArchitecture, .approvalStatus, .status, .siteID, .agentVersion,
            .timezone, .parentHostID, .tags, .enabledShells, .active, .rebootRequired, .scriptExecutionEnabled:
            true
        default:
            false
        }
    }

    /// Dense position, for per-field arrays: a switch, since this runs for every field test of every host.
    public var ordinal: Int {
        switch self {
        case .id: 0
        case .fqdn: 1
        case .platform: 2
        case .platformRelease: 3
        case .platformVersion: 4
        case .machineArchitecture: 5
        case .processor: 6
        case .approvalStatus: 7
        case .status: 8
        case .ipv4: 9
        case .ipv6: 10
        case .publicIP: 11
        case .agentVersion: 12
        case .parentHostID: 13
        case .siteID: 14
        case .timezone: 15
        case .lastAccess: 16
        case .active: 17
        case .rebootRequired: 18
        case .scriptExecutionEnabled: 19
        case .cpuCores: 20
        case .memoryTotalMB: 21
        case .tags: 22
        case .enabledShells: 23
        }
    }
}

/// A host field's value.
public enum FieldValue: Sendable, Hashable {
    case string(String)
    case bool(Bool)
    case int(Int64)
    case strings([String])
}

/// A value in a host's free-form `facts`.
public enum FactValue: Sendable, Hashable {
    case string(String)
    case number(Double)
    case bool(Bool)
}
