import Foundation
import Synchronization

/// Speaks to a Redis Cluster for a `RedisClient`: keeps the map of which primary serves each hash
/// slot (`CLUSTER SLOTS`), sends each command of a pipeline to its slot's primary (one pipelined
/// round trip per node, the nodes in parallel), follows `MOVED` (and learns the new owner) and
/// `ASK` (once, with `ASKING`), and reads the map again after a redirection or a node that does not
/// answer, which is how it finds the replica promoted after a primary's failover.
final class RedisClusterRouter: Sendable {
    /// A command redirected more often than this in one call comes back with its last error reply.
    static let maxRedirections = 5
    /// The map is read again at most this often, however many errors ask for it.
    static let refreshInterval = Duration.milliseconds(250)

    private struct State {
        /// The index in `nodes` of each slot's primary; -1 while unknown.
        var slots = [Int32](repeating: -1, count: RedisSlot.count)
        var nodes: [RedisNode] = []
        var clients: [RedisNode: RedisClient] = [:]
        var lastRefresh: ContinuousClock.Instant?
        var refreshing = false
        var closed = false
    }

    private let seeds: [RedisNode]
    private let nodeConfig: RedisConfig
    private let state = Mutex(State())

    init(config: RedisConfig, seeds: [RedisNode]) {
        self.seeds = seeds
        var nodeConfig = config
        nodeConfig.clusterSeeds = nil
        nodeConfig.database = 0  // a cluster has database 0 only
        self.nodeConfig = nodeConfig
    }

    // MARK: - Commands

    func pipeline(_ commands: [RedisCommand]) async throws(RedisError) -> [RedisValue] {
        var replies = [RedisValue](repeating: .null, count: commands.count)
        var groups: [RedisNode: [Int]] = [:]
        var broadcasts: [Int] = []
        var inTransaction = Set<Int>()
        var i = 0
        while i < commands.count {
            let command = commands[i], name = command.name
            if name == "MULTI" {
                // A transaction runs on one node, the one of its first key (its keys share a slot),
                // its commands together in that node's share of the pipeline.
                let end = commands[i...].firstIndex { ["EXEC", "DISCARD"].contains($0.name) } ?? commands.count - 1
                let node = try node(forSlot: commands[i...end].lazy.compactMap(\.slot).first)
                groups[node, default: []].append(contentsOf: i...end)
                inTransaction.formUnion(i...end)
                i = end + 1
                continue
            }
            let routing = command.routing
            if routing == .everyPrimary {
                broadcasts.append(i)
            } else {
                groups[try node(forSlot: command.slot(routing)), default: []].append(i)
            }
            i += 1
        }
        try await sendGroups(groups, commands, into: &replies)
        for i in broadcasts { replies[i] = try await broadcast(commands[i]) }
        try await followRedirections(commands, &replies, skipping: inTransaction)
        // The cluster cannot serve a slot (a primary lost, its replica not yet promoted): for the
        // caller that is Redis being away, retried as such.
        if let down = replies.first(where: { if case .error(let e) = $0 { e.hasPrefix("CLUSTERDOWN") } else { false } }), case .error(let e) = down {
            refreshSoon()
            throw RedisError(.connectionFailed, e)
        }
        return replies
    }

    /// Every scanned key matching `pattern`, from every primary (each node's pool scans its own).
    func keys(matching pattern: String) async throws(RedisError) -> [String] {
        var found: [String] = []
        for node in try primaries() { found += try await client(node).keys(matching: pattern) }
        return found
    }

    func close() {
        let clients = state.withLock { s -> [RedisClient] in
            s.closed = true
            return Array(s.clients.values)
        }
        for client in clients { client.close() }
    }

    // MARK: - The map

    /// Reads the slot map from the first node that answers: the known primaries, then the seeds.
    func refresh() async throws(RedisError) {
        let candidates = state.withLock { s in s.nodes } + seeds
        var failure = RedisError(.connectionFailed, "no cluster node answered")
        for node in Self.unique(candidates) {
            do throws(RedisError) {
                let reply = try await client(node).pipeline([RedisCommand("CLUSTER", "SLOTS")])[0]
                if case .error(let e) = reply { throw RedisError(.reply, "CLUSTER SLOTS: \(e)") }
                let map = try Self.slotMap(reply, askedAt: node)
                state.withLock { s in
                    s.slots = map.slots
                    s.nodes = map.nodes
                    s.lastRefresh = .now
                }
                return
            } catch {
                failure = error
            }
        }
        throw failure
    }

    /// A refresh soon, in the background, unless one ran or is running within the interval.
    private func refreshSoon() {
        let start = state.withLock { s -> Bool in
            guard !s.closed, !s.refreshing else { return false }
            if let last = s.lastRefresh, last.duration(to: .now) < Self.refreshInterval { return false }
            s.refreshing = true
            return true
        }
        guard start else { return }
        Task {
            try? await refresh()
            state.withLock { $0.refreshing = false }
        }
    }

    /// `CLUSTER SLOTS`: `[[start, end, [host, port, id], replicas...], ...]`.
    static func slotMap(_ reply: RedisValue, askedAt asked: RedisNode) throws(RedisError) -> (slots: [Int32], nodes: [RedisNode]) {
        guard let ranges = reply.array, !ranges.isEmpty else { throw RedisError(.reply, "CLUSTER SLOTS: no slots assigned") }
        var slots = [Int32](repeating: -1, count: RedisSlot.count)
        var nodes: [RedisNode] = []
        for range in ranges {
            guard let r = range.array, r.count >= 3, let start = r[0].int, let end = r[1].int, let primary = r[2].array, primary.count >= 2,
                let port = primary[1].int, 0 <= start, start <= end, end < RedisSlot.count
            else { throw RedisError(.reply, "CLUSTER SLOTS: unreadable entry \(range)") }
            // An empty host means "the address you asked me at".
            let host = primary[0].string.flatMap { $0.isEmpty || $0 == "?" ? nil : $0 } ?? asked.host
            let node = RedisNode(host: host, port: Int(port))
            let index = Self.index(of: node, in: &nodes)
            for slot in Int(start)...Int(end) { slots[slot] = Int32(index) }
        }
        return (slots, nodes)
    }

    // MARK: - Routing

    private func node(forSlot slot: Int?) throws(RedisError) -> RedisNode {
        let found = state.withLock { s -> RedisNode? in
            if let slot, s.slots[slot] >= 0 { return s.nodes[Int(s.slots[slot])] }
            return s.nodes.first
        }
        guard let found else {
            refreshSoon()
            throw RedisError(.connectionFailed, "the cluster's slot \(slot.map(String.init) ?? "map") has no known primary yet")
        }
        return found
    }

    private func primaries() throws(RedisError) -> [RedisNode] {
        let nodes = state.withLock { s in Set(s.slots.filter { $0 >= 0 }.map { s.nodes[Int($0)] }) }
        guard !nodes.isEmpty else { throw RedisError(.connectionFailed, "no cluster primary known") }
        return nodes.sorted { $0.description < $1.description }
    }

    private func client(_ node: RedisNode) -> RedisClient {
        state.withLock { s in
            if let c = s.clients[node] { return c }
            var config = nodeConfig
            config.host = node.host
            config.port = node.port
            let c = RedisClient.started(config)
            s.clients[node] = c
            return c
        }
    }

    private func send(_ commands: [RedisCommand], to node: RedisNode) async throws(RedisError) -> [RedisValue] {
        do throws(RedisError) {
            return try await client(node).pipeline(commands)
        } catch {
            // The node may have died: its replica is promoted within the cluster's node timeout,
            // and the next map says so.
            if error.isRetriable { refreshSoon() }
            throw error
        }
    }

    private func sendGroups(_ groups: [RedisNode: [Int]], _ commands: [RedisCommand], into replies: inout [RedisValue]) async throws(RedisError) {
        if groups.count == 1, let (node, indices) = groups.first {
            for (i, reply) in zip(indices, try await send(indices.map { commands[$0] }, to: node)) { replies[i] = reply }
            return
        }
        let results = await withTaskGroup(of: ([Int], Result<[RedisValue], RedisError>).self) { group in
            for (node, indices) in groups {
                group.addTask {
                    do throws(RedisError) {
                        return (indices, .success(try await self.send(indices.map { commands[$0] }, to: node)))
                    } catch {
                        return (indices, .failure(error))
                    }
                }
            }
            var all: [([Int], Result<[RedisValue], RedisError>)] = []
            for await r in group { all.append(r) }
            return all
        }
        for (indices, result) in results {
            for (i, reply) in zip(indices, try result.get()) { replies[i] = reply }
        }
    }

    private func broadcast(_ command: RedisCommand) async throws(RedisError) -> RedisValue {
        var merged: [RedisValue] = []
        var first: RedisValue?
        for node in try primaries() {
            let reply = try await send([command], to: node)[0]
            if case .error = reply { return reply }
            if command.name == "KEYS" { merged += reply.array ?? [] }
            first = first ?? reply
        }
        return command.name == "KEYS" ? .array(merged) : (first ?? .null)
    }

    /// MOVED: the slot has a new owner (a failover, a resharding): learnt, and the command sent
    /// there. ASK: the slot is being migrated and this key already moved: that node answers this
    /// one command after `ASKING`. TRYAGAIN: a multi-key command met a migration half done.
    /// A transaction's commands are not sent again one by one: its EXEC fails, the caller sees
    /// it, and the map is read again for its retry.
    private func followRedirections(_ commands: [RedisCommand], _ replies: inout [RedisValue], skipping transaction: Set<Int>) async throws(RedisError) {
        for _ in 0..<Self.maxRedirections {
            var again = false
            for (i, reply) in replies.enumerated() {
                guard case .error(let message) = reply, let redirect = Redirect(message) else { continue }
                if transaction.contains(i) {
                    refreshSoon()
                    continue
                }
                again = true
                switch redirect {
                case .moved(let slot, let node):
                    learn(slot: slot, node: node)
                    refreshSoon()
                    replies[i] = try await send([commands[i]], to: node)[0]
                case .ask(let node):
                    replies[i] = try await send([RedisCommand("ASKING"), commands[i]], to: node)[1]
                case .tryAgain:
                    try? await Task.sleep(for: .milliseconds(20))
                    replies[i] = try await send([commands[i]], to: try node(forSlot: commands[i].slot))[0]
                }
            }
            if !again { return }
        }
    }

    private func learn(slot: Int, node: RedisNode) {
        state.withLock { s in s.slots[slot] = Int32(Self.index(of: node, in: &s.nodes)) }
    }

    /// Where `node` is in `nodes`, appended if it is not there yet.
    private static func index(of node: RedisNode, in nodes: inout [RedisNode]) -> Int {
        if let known = nodes.firstIndex(of: node) { return known }
        nodes.append(node)
        return nodes.count - 1
    }

    private static func unique(_ nodes: [RedisNode]) -> [RedisNode] {
        var seen = Set<RedisNode>()
        return nodes.filter { seen.insert($0).inserted }
    }
}

/// A redirection a cluster node answers with.
enum Redirect: Equatable {
    case moved(slot: Int, RedisNode)
    case ask(RedisNode)
    case tryAgain

    /// `MOVED 3999 127.0.0.1:6381`, `ASK 3999 127.0.0.1:6381`, `TRYAGAIN ...`; nil for any other error.
    init?(_ message: String) {
        if message.hasPrefix("TRYAGAIN") {
            self = .tryAgain
            return
        }
        let parts = message.split(separator: " ")
        guard parts.count == 3, parts[0] == "MOVED" || parts[0] == "ASK", let slot = Int(parts[1]),
            let colon = parts[2].lastIndex(of: ":"), let port = Int(parts[2][parts[2].index(after: colon)...])
        else { return nil }
        var host = String(parts[2][..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let node = RedisNode(host: host, port: port)
        self = parts[0] == "MOVED" ? .moved(slot: slot, node) : .ask(node)
    }
}
