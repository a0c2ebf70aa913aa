import FleetContracts
import FleetCore
import FleetMessaging
import FleetRuntime
import FleetStore

/// Writes host groups. Every change is checked against the table as it was read and applied only
/// if no other write came in between (a version counter), so two replicas can never together
/// build a cycle that neither would have allowed alone.
struct GroupStore: Sendable {
    let redis: RedisClient
    static let attempts = 8

    /// ARGV: expected version, then triples (op `set`|`del`, id, json-or-empty).
    static let writeScript = RedisScript(
        """
        if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[1] then return 0 end
        for i = 2, #ARGV, 3 do
          if ARGV[i] == 'set' then redis.call('HSET', KEYS[1], ARGV[i + 1], ARGV[i + 2])
          else redis.call('HDEL', KEYS[1], ARGV[i + 1]) end
        end
        redis.call('INCR', KEYS[2])
        return 1
        """)

    enum Change {
        case set(HostGroup)
        case delete(String)
    }

    /// Reads the table, lets `decide` check it and name the changes, and writes them if nothing
    /// changed meanwhile; otherwise reads again (bounded). Returns what `decide` returned.
    func update<T>(_ decide: (inout GroupTable) throws -> (T, [Change])) async throws -> T {
        for _ in 0..<Self.attempts {
            let (version, current) = try await GroupRecords.load(redis)
            var table = current
            let (result, changes) = try decide(&table)
            var args = [version]
            for c in changes {
                switch c {
                case .set(let g): args += ["set", g.id, String(decoding: JSONCoding.encode(g.json), as: UTF8.self)]
                case .delete(let id): args += ["del", id, ""]
                }
            }
            if try await redis.eval(Self.writeScript, keys: [RedisKeys.groups, RedisKeys.groupsVersion], arguments: args).int == 1 {
                return result
            }
        }
        throw ConflictError(code: "busy", "groups changed too often concurrently; retry")
    }
}
