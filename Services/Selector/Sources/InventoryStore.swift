import FleetContracts
import FleetCore
import FleetMessaging
import FleetRuntime
import FleetStore

/// The host inventory in Redis: a hash of host JSON and a change stream, always written together
/// by one script so a reader of the stream never misses a write to the hash.
struct InventoryStore: Sendable {
    let redis: RedisClient
    /// About how many changes the stream keeps (`MAXLEN ~`); replicas further behind reload in full.
    var maxStreamLength = RedisKeys.hostChangesMaxLength
    /// Hosts per script call: large enough to keep round trips few, small enough not to stall Redis.
    static let batchSize = 500

    static let upsertScript = RedisScript(
        """
        local created = 0
        for i = 2, #ARGV, 2 do
          created = created + redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
          redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[1], '*', 'op', 'upsert', 'id', ARGV[i], 'host', ARGV[i + 1])
        end
        return created
        """)

    static let deleteScript = RedisScript(
        """
        if redis.call('HDEL', KEYS[1], ARGV[2]) == 1 then
          redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[1], '*', 'op', 'delete', 'id', ARGV[2])
          return 1
        end
        return 0
        """)

    private var keys: [String] { [RedisKeys.hosts, RedisKeys.hostChanges] }

    /// Writes the hosts; returns how many did not exist before.
    func upsert(_ hosts: [FleetHost]) async throws -> Int {
        var created = 0
        var start = 0
        while start < hosts.count {
            let batch = hosts[start..<min(start + Self.batchSize, hosts.count)]
            var args = [String(maxStreamLength)]
            for h in batch {
                args.append(h.id)
                args.append(String(decoding: JSONCoding.encode(h.json), as: UTF8.self))
            }
            created += Int(try await redis.eval(Self.upsertScript, keys: keys, arguments: args).int ?? 0)
            start += Self.batchSize
        }
        return created
    }

    /// Deletes a host; false when there was none.
    func delete(_ id: String) async throws -> Bool {
        try await redis.eval(Self.deleteScript, keys: keys, arguments: [String(maxStreamLength), id]).int == 1
    }

    func get(_ id: String) async throws -> FleetHost? {
        guard let text = try await redis.send("HGET", RedisKeys.hosts, id).string, let json = JSONCoding.decode(Array(text.utf8)) else {
            return nil
        }
        return try? FleetHost(json: json)
    }
}
