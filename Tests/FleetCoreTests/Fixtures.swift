@testable import FleetCore

/// Builds a host from a JSON literal; a test that passes bad JSON here fails at once.
func host(_ json: JSONValue) -> FleetHost {
    do { return try FleetHost(json: json) } catch { fatalError("bad fixture host: \(error)") }
}

/// A small, varied inventory used by the operator tables.
let sampleHosts: [FleetHost] = [
    host([
        "id": "web-1", "fqdn": "web-1.prod.example.com", "platform": "Linux", "platform_release": "Ubuntu 24.04",
        "approval_status": "approved", "status": "up", "tags": ["webserver", "prod"], "cpu_cores": 8,
        "memory_total_mb": 16384, "active": true, "enabled_shells": ["bash", "sh"], "site_id": "eu-1",
        "facts": ["rack": "r12", "load": 0.75, "gpu": false],
    ]),
    host([
        "id": "web-2", "fqdn": "web-2.staging.example.com", "platform": "Linux", "platform_release": "Debian 12",
        "approval_status": "approved", "status": "down", "tags": ["webserver"], "cpu_cores": 4,
        "memory_total_mb": 8192, "active": true, "enabled_shells": ["bash"], "site_id": "us-1",
        "facts": ["rack": "r7", "load": 2],
    ]),
    host([
        "id": "db-1", "fqdn": "db-1.prod.example.com", "platform": "FreeBSD", "approval_status": "pending",
        "tags": ["db", "prod"], "cpu_cores": 32, "active": false, "reboot_required": true,
    ]),
    host([
        "id": "mac-1", "fqdn": "MAC-1.office.example.com", "platform": "macOS", "approval_status": "revoked",
        "tags": [], "cpu_cores": 10,
    ]),
    host(["id": "win-1", "platform": "Windows", "approval_status": "approved", "enabled_shells": ["powershell", "cmd"]]),
]

func compile(_ json: JSONValue, groups: [String: Set<String>] = [:]) throws -> CompiledSelector {
    try CompiledSelector(HostSelector(json: json), groupMembers: { groups[$0] })
}

func select(_ json: JSONValue, in hosts: [FleetHost] = sampleHosts, groups: [String: Set<String>] = [:]) throws -> [String] {
    try InventoryIndex(hosts).select(compile(json, groups: groups)).hostIDs
}

func criterion(_ field: String, _ op: String, _ value: JSONValue) -> JSONValue {
    ["criteria": [["field": .string(field), "op": .string(op), "value": value]]]
}
