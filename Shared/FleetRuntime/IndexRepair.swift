import FleetStore
import Foundation

/// Lists again the records an index lost: a record whose create's last write (its index entry) was
/// lost with Redis's last second is still there, but no list shows it. Shared by the owners whose
/// records are `<prefix>{<id>}:record` keys with a sorted-set index scored by creation (ms).
public enum IndexRepair {
    /// Scans the keyspace for `<prefix>{*}:record` (every key name read once: for a start, not a
    /// timer) and adds each id missing from `index`, scored by `createdMs(id)` (nil: the record is
    /// not one to list). `ZADD NX`: an id listed already keeps its place. Answers how many it added.
    public static func relist(
        _ redis: RedisClient, recordsOf prefix: String, into index: String, createdMs: (String) async throws -> Int64?
    ) async throws -> Int {
        var added = 0
        for key in try await redis.keys(matching: "\(prefix){*}:record") {
            guard let open = key.firstIndex(of: "{"), let close = key.lastIndex(of: "}"), open < close else { continue }
            let id = String(key[key.index(after: open)..<close])
            guard let created = try await createdMs(id) else { continue }
            if try await redis.send("ZADD", index, "NX", String(created), id).int == 1 { added += 1 }
        }
        return added
    }

    /// Milliseconds since 1970 of an ISO 8601 timestamp (with or without fractional seconds), or 0.
    public static func milliseconds(_ timestamp: String?) -> Int64 {
        guard let timestamp,
            let date = (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(timestamp))
                ?? (try? Date.ISO8601FormatStyle().parse(timestamp))
        else { return 0 }
        return Int64((date.timeIntervalSince1970 * 1000).rounded())
    }
}
