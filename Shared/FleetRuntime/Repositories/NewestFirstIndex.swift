import FleetCore
import FleetStore

/// A newest-first index of records (a sorted set of ids scored by creation time in ms), read a
/// page at a time with `IndexCursor`s: every record reachable to the oldest, none shown twice,
/// and a page still follows when the record the last one ended on has gone.
public struct NewestFirstIndex: Sendable {
    let redis: RedisClient
    let key: String

    public init(_ redis: RedisClient, key: String) {
        self.redis = redis
        self.key = key
    }

    /// Index entries scanned at most per page: a filter that matches nothing answers a short page
    /// with a cursor rather than reading the whole index in one request.
    public static let scanLimit = 2_000

    /// Up to `limit` records after `cursor` that `load` returns (nil: gone, or filtered out), and
    /// the cursor of the next page: nil once the index has been read to its end.
    public func page<Record>(
        after cursor: IndexCursor?, limit: Int, load: (String) async throws -> Record?
    ) async throws -> (records: [Record], next: IndexCursor?) {
        var records: [Record] = []
        var position = cursor
        var scanned = 0
        while records.count < limit, scanned < Self.scanLimit {
            let wanted = min(limit - records.count, Self.scanLimit - scanned)
            let entries = try await entries(after: position, count: wanted)
            for entry in entries {
                position = entry
                if let record = try await load(entry.id) { records.append(record) }
            }
            scanned += entries.count
            if entries.count < wanted { return (records, nil) }
        }
        return (records, position)
    }

    /// Up to `count` entries after `cursor`, newest first.
    func entries(after cursor: IndexCursor?, count: Int) async throws -> [IndexCursor] {
        guard let cursor else {
            return Self.scored(try await redis.send("ZREVRANGE", key, "0", String(count - 1), "WITHSCORES"))
        }
        // The cursor's own score first (entries created in the same millisecond, ordered by id),
        // then the lower scores.
        let s = String(cursor.score)
        let replies = try await redis.pipelineChecked([
            RedisCommand(["ZRANGEBYSCORE", key, s, s]),
            RedisCommand(["ZREVRANGEBYSCORE", key, "(" + s, "-inf", "WITHSCORES", "LIMIT", "0", String(count)]),
        ])
        let ties = (replies[0].array ?? []).compactMap(\.string)
            .filter { cursor.precedes(score: cursor.score, id: $0) }
            .sorted { Array($1.utf8).lexicographicallyPrecedes(Array($0.utf8)) }
            .map { IndexCursor(score: cursor.score, id: $0) }
        return Array((ties + Self.scored(replies[1])).prefix(count))
    }

    /// `member, score, member, score ...` as entries.
    private static func scored(_ reply: RedisValue) -> [IndexCursor] {
        let flat = reply.array ?? []
        return stride(from: 0, to: flat.count - 1, by: 2).compactMap { i in
            guard let id = flat[i].string, let text = flat[i + 1].string, let score = Double(text) else { return nil }
            return IndexCursor(score: Int64(score), id: id)
        }
    }
}
