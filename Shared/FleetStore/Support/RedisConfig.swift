import Foundation

/// Where and how to connect: parsed from `redis://[user]:[password]@host:port/db`.
public struct RedisConfig: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var username: String?
    public var password: String?
    public var database: Int
    /// Connections in the pool, each owned by its own thread.
    public var poolSize: Int
    public var connectTimeout: Duration
    /// How long one round trip may take before the connection is declared dead.
    public var commandTimeout: Duration
    /// At most this many queued commands go out in one pipelined round trip.
    public var maxPipeline: Int

    public init(url: String, poolSize: Int = 2) throws(RedisError) {
        guard let c = URLComponents(string: url), c.scheme == "redis", let host = c.host, !host.isEmpty else {
            throw RedisError(.invalidURL, "expected redis://[:password@]host:port/db, got \(url)")
        }
        self.host = host
        self.port = c.port ?? 6379
        let user = c.percentEncodedUser.flatMap { $0.removingPercentEncoding }
        self.username = (user?.isEmpty ?? true) ? nil : user
        self.password = c.percentEncodedPassword.flatMap { $0.removingPercentEncoding }
        let path = c.path.drop { $0 == "/" }
        guard let db = path.isEmpty ? 0 : Int(path), db >= 0 else {
            throw RedisError(.invalidURL, "database must be a non-negative integer, got '\(path)'")
        }
        self.database = db
        self.poolSize = max(1, poolSize)
        self.connectTimeout = .seconds(2)
        self.commandTimeout = .seconds(10)
        self.maxPipeline = 1024
    }
}
