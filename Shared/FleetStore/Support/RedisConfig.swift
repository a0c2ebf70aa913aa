import Foundation

/// One Redis server: a cluster node, or the one Redis.
public struct RedisNode: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// Where and how to connect: parsed from `redis://[user]:[password]@host:port/db`, or, for a Redis
/// Cluster, from `redis+cluster://[user]:[password]@host:port,host:port,...` (any nodes of it: the
/// client learns the rest from them; database 0 only, the one a cluster has).
public struct RedisConfig: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var username: String?
    public var password: String?
    public var database: Int
    /// The nodes a cluster is first asked about; nil for one Redis.
    public var clusterSeeds: [RedisNode]?
    /// Connections in the pool (in a cluster: per node), each owned by its own thread.
    public var poolSize: Int
    public var connectTimeout: Duration
    /// How long one round trip may take before the connection is declared dead.
    public var commandTimeout: Duration
    /// At most this many queued commands go out in one pipelined round trip.
    public var maxPipeline: Int

    public init(url: String, poolSize: Int = 2) throws(RedisError) {
        if url.hasPrefix("redis+cluster://") {
            let (seeds, username, password) = try Self.cluster(url)
            self.host = seeds[0].host
            self.port = seeds[0].port
            self.username = username
            self.password = password
            self.database = 0
            self.clusterSeeds = seeds
        } else {
            guard let c = URLComponents(string: url), c.scheme == "redis", let host = c.host, !host.isEmpty else {
                throw RedisError(.invalidURL, "expected redis://[:password@]host:port/db or redis+cluster://host:port,host:port, got \(Self.redacted(url))")
            }
            self.host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
            self.port = c.port ?? 6379
            let user = c.percentEncodedUser.flatMap { $0.removingPercentEncoding }
            self.username = (user?.isEmpty ?? true) ? nil : user
            self.password = c.percentEncodedPassword.flatMap { $0.removingPercentEncoding }
            let path = c.path.drop { $0 == "/" }
            guard let db = path.isEmpty ? 0 : Int(path), db >= 0 else {
                throw RedisError(.invalidURL, "database must be a non-negative integer, got '\(path)'")
            }
            self.database = db
            self.clusterSeeds = nil
        }
        self.poolSize = max(1, poolSize)
        self.connectTimeout = .seconds(2)
        self.commandTimeout = .seconds(10)
        self.maxPipeline = 1024
    }

    /// `redis+cluster://[user:password@]host:port[,host:port...][/0]`.
    private static func cluster(_ url: String) throws(RedisError) -> ([RedisNode], String?, String?) {
        var rest = Substring(url.dropFirst("redis+cluster://".count))
        var username: String?, password: String?
        if let at = rest.lastIndex(of: "@") {
            let userinfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            let colon = userinfo.firstIndex(of: ":")
            let user = String(userinfo[..<(colon ?? userinfo.endIndex)]).removingPercentEncoding ?? ""
            username = user.isEmpty ? nil : user
            password = colon.map { String(userinfo[userinfo.index(after: $0)...]).removingPercentEncoding ?? "" }
        }
        if let slash = rest.firstIndex(of: "/") {
            let path = rest[rest.index(after: slash)...]
            guard path.isEmpty || path == "0" else {
                throw RedisError(.invalidURL, "a Redis Cluster has database 0 only, got '\(path)'")
            }
            rest = rest[..<slash]
        }
        var seeds: [RedisNode] = []
        for entry in rest.split(separator: ",") {
            let entry = entry.trimmingCharacters(in: .whitespaces)
            guard let c = URLComponents(string: "redis://\(entry)"), let host = c.host, !host.isEmpty, c.path.isEmpty else {
                throw RedisError(.invalidURL, "redis+cluster:// expects host:port,host:port, got '\(entry)'")
            }
            seeds.append(RedisNode(host: host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host, port: c.port ?? 6379))
        }
        guard !seeds.isEmpty else { throw RedisError(.invalidURL, "redis+cluster:// names no node") }
        return (seeds, username, password)
    }

    /// The URL as an error may show it: without its password.
    private static func redacted(_ url: String) -> String {
        guard var c = URLComponents(string: url), c.password != nil else { return url }
        c.password = "***"
        return c.string ?? "(unparsable)"
    }
}
