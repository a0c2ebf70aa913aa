import FleetContracts
import FleetCore
import FleetStore

/// Reads the host groups (owned and written by the groups service; others only read).
public enum GroupRecords {
    /// The version counter and every group, read together in one atomic script.
    static let loadScript = RedisScript(
        """
        return {redis.call('GET', KEYS[2]) or '0', redis.call('HGETALL', KEYS[1])}
        """)

    public static func load(_ redis: RedisClient) async throws -> (version: String, table: GroupTable) {
        let reply = try await redis.eval(loadScript, keys: [RedisKeys.groups, RedisKeys.groupsVersion], arguments: [])
        guard let parts = reply.array, parts.count == 2, let version = parts[0].string, let pairs = parts[1].dictionary else {
            throw RedisError(.reply, "unexpected group load reply")
        }
        var groups: [HostGroup] = []
        for (id, value) in pairs {
            guard let json = value.string.map({ JSONCoding.decode(Array($0.utf8)) }) ?? nil,
                let group = try? HostGroup(json: json, defaultID: id)
            else { continue }
            groups.append(group)
        }
        return (version, GroupTable(groups))
    }
}
