import FleetContracts
import FleetCore
import FleetMessaging
import FleetRuntime
import FleetStore
import Logging

/// This replica's in-memory copy of the inventory, indexed for selectors.
///
/// Before each read it catches up from the change stream in one round trip (XINFO for the oldest
/// entry kept and XRANGE for what came after the last applied entry, pipelined). It reloads in
/// full only when it has never loaded or has fallen behind the trimmed window, so every replica
/// sees a host registered a moment ago, by any replica.
actor InventoryCache {
    private let redis: RedisClient
    private let logger: Logger
    private(set) var index = InventoryIndex()
    private var lastApplied: StreamID?
    /// How many full loads this replica has done (the first one included).
    private(set) var fullLoads = 0
    /// The full load running now, if any (see `sync`).
    private var reloading: Task<Void, Error>?
    /// All host ids in order, for paging; dropped whenever the inventory changes.
    private var sortedIDs: [String]?
    static let pageSize = 5_000

    init(redis: RedisClient, logger: Logger) {
        self.redis = redis
        self.logger = logger
    }

    /// Brings the index up to date with everything written before this call.
    ///
    /// One full load at a time: callers that arrive while one runs wait for it and then catch up
    /// from where it ended (it may have started before their call). Without this, every request
    /// reaching a fresh replica at once started a full load of its own (the actor lets them in at
    /// each await), and a burst at startup took seconds per request.
    func sync() async throws {
        if let inFlight = reloading { try await inFlight.value }
        if try await !catchUp() { try await reloadAlone() }
    }

    /// Applies what came after the last applied entry, in one round trip per page; false when
    /// there is nothing to catch up from (never loaded, or the trimmed window passed it).
    private func catchUp() async throws -> Bool {
        guard var cursor = lastApplied else { return false }
        while true {
            let replies = try await redis.pipeline([
                RedisCommand("XINFO", "STREAM", RedisKeys.hostChanges),
                RedisCommand("XRANGE", RedisKeys.hostChanges, "(\(cursor)", "+", "COUNT", String(Self.pageSize)),
            ])
            if case .error(let e) = replies[0] {
                if e.contains("no such key") { return true }  // nothing was ever written
                throw RedisError(.reply, e)
            }
            // Trimming removes from the head. If the oldest entry left is newer than the last one
            // applied here, entries in between may be gone: reload. (Redis 7.0 does not advance
            // max-deleted-entry-id when MAXLEN trims, so that field cannot tell.) An empty stream
            // that has generated ids past the cursor was trimmed past it too.
            let info = replies[0].dictionary ?? [:]
            let oldest = info["first-entry"]?.array?.first?.string.flatMap(StreamID.init)
            let newest = info["last-generated-id"]?.string.flatMap(StreamID.init) ?? .zero
            if oldest.map({ $0 > cursor }) ?? (newest > cursor) {
                logger.info("inventory change feed trimmed past this replica; reloading")
                return false
            }
            let entries = replies[1].array ?? []
            for entry in entries { cursor = apply(entry) ?? cursor }
            lastApplied = cursor
            if entries.count < Self.pageSize { return true }
        }
    }

    /// Starts a full load, or waits for the one running and catches up after it.
    private func reloadAlone() async throws {
        if let inFlight = reloading {
            try await inFlight.value
            if try await !catchUp() { try await reloadAlone() }
            return
        }
        let task = Task { try await self.reloadThenClear() }
        reloading = task
        try await task.value
    }

    /// Clears `reloading` on the actor as the load ends, so a caller that still sees it set knows
    /// the load has not finished.
    private func reloadThenClear() async throws {
        defer { reloading = nil }
        try await reload()
    }

    /// Loads everything: the stream position first, then the hash, then what changed meanwhile.
    /// Replaying changes after the position over a newer snapshot converges to the same state.
    private func reload() async throws {
        let info = try await redis.pipeline([RedisCommand("XINFO", "STREAM", RedisKeys.hostChanges)])[0]
        // The hash and the stream change in one script, so the hash already holds every change up
        // to the last id generated before this read.
        let position = info.dictionary?["last-generated-id"]?.string.flatMap(StreamID.init) ?? .zero
        var fresh = InventoryIndex()
        var cursor = "0"
        repeat {
            let page = try await redis.send("HSCAN", RedisKeys.hosts, cursor, "COUNT", "2000").array ?? []
            cursor = page.first?.string ?? "0"
            for (_, value) in page.count > 1 ? (page[1].dictionary ?? [:]) : [:] {
                if let text = value.string, let json = JSONCoding.decode(Array(text.utf8)), let host = try? FleetHost(json: json) {
                    fresh.upsert(host)
                }
            }
        } while cursor != "0"
        index = fresh
        sortedIDs = nil
        lastApplied = position
        fullLoads += 1
        logger.info("inventory loaded", metadata: ["hosts": "\(fresh.count)", "stream.position": "\(position)"])
        _ = try await catchUp()  // what changed while the hash was read
    }

    /// Applies one stream entry `[id, [field, value, ...]]`; returns its id.
    private func apply(_ entry: RedisValue) -> StreamID? {
        guard let parts = entry.array, parts.count == 2, let id = parts[0].string.flatMap(StreamID.init),
            let fields = parts[1].dictionary
        else { return nil }
        sortedIDs = nil
        switch fields["op"]?.string {
        case "upsert":
            if let text = fields["host"]?.string, let json = JSONCoding.decode(Array(text.utf8)), let host = try? FleetHost(json: json) {
                index.upsert(host)
            }
        case "delete":
            if let hostID = fields["id"]?.string { index.remove(hostID) }
        default:
            break
        }
        return id
    }

    /// Syncs, then resolves. `groups` is read only when the selector names groups.
    /// Compiles and evaluates on a snapshot of the index, outside the actor: one slow selector
    /// (a big program, a costly pattern) no longer holds every other caller behind it, and
    /// requests evaluate side by side. The snapshot shares the index's storage (copy on write).
    /// The evaluation runs in slices under `budget`, yielding between them; an expensive one
    /// (by its estimated cost) first takes a place in `lane`, so a burst of hostile selectors
    /// cannot take every thread from the cheap ones.
    nonisolated func resolve(
        _ selector: HostSelector, groups: GroupTable?, explain: Bool, budget: EvaluationBudget, lane: EvaluationLane
    ) async throws -> Selection {
        let snapshot = try await syncedIndex()
        let compiled = try CompiledSelector(selector) { id in groups?.effectiveMembers(of: id, in: snapshot) }
        var run = snapshot.selection(compiled)
        guard run.remainingCost > EvaluationLane.inlineCost else {
            run.step(hosts: .max)
            return run.result(explain: explain)
        }
        try await lane.enter(within: budget)
        do {
            while !run.isDone {
                try budget.check()
                run.step(units: EvaluationLane.slice)
                await Task.yield()
            }
            await lane.leave()
        } catch {
            await lane.leave()
            throw error
        }
        return run.result(explain: explain)
    }

    /// The index, brought up to date first.
    func syncedIndex() async throws -> InventoryIndex {
        try await sync()
        return index
    }

    /// Of `ids`, those whose approval status is not `approved` (absent counts as pending).
    func notApproved(_ ids: [String]) -> [String] {
        ids.filter { index.host($0)?.approvalStatus != "approved" }
    }

    /// Of `ids`, each host's value of `key` (hosts without one are left out).
    func domains(_ ids: [String], _ key: FailureDomains.Key) -> [String: String] {
        var out: [String: String] = [:]
        for id in ids { if let host = index.host(id), let value = key.value(of: host) { out[id] = value } }
        return out
    }

    /// Syncs, then returns the hosts with ids after `cursor`, in id order, at most `limit`.
    func page(after cursor: String?, limit: Int, among ids: [String]? = nil) async throws -> (hosts: [FleetHost], next: String?) {
        try await sync()
        let sorted: [String]
        if let ids {
            sorted = ids
        } else {
            sorted = sortedIDs ?? index.hosts.map(\.id).sorted()
            sortedIDs = sorted
        }
        // Binary search for the first id after the cursor.
        var start = 0
        if let c = cursor {
            var hi = sorted.count
            while start < hi {
                let mid = (start + hi) / 2
                if sorted[mid] <= c { start = mid + 1 } else { hi = mid }
            }
        }
        let slice = sorted[start..<min(start + limit, sorted.count)]
        let hosts = slice.compactMap { index.host($0) }
        return (hosts, start + limit < sorted.count ? slice.last : nil)
    }
}
