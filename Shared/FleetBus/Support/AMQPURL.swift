import Foundation

/// Where and how to connect: parsed from `amqp://user:pass@host:port/vhost` (vhost percent-encoded,
/// `%2f` or an empty path meaning `/`).
public struct AMQPConfig: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String
    public var vhost: String
    /// Heartbeat interval negotiated with the broker; the owning thread services the socket at least every half of it.
    public var heartbeatSeconds: Int
    public var connectTimeout: Duration
    /// Reconnect backoff: exponential from `base`, capped, with full jitter.
    public var reconnectBase: Duration
    public var reconnectCap: Duration
    /// A name shown in the broker's connection list.
    public var connectionName: String

    public init(url: String, heartbeatSeconds: Int = 10, connectionName: String = "fleet") throws(AMQPError) {
        guard let c = URLComponents(string: url), c.scheme == "amqp", let host = c.host, !host.isEmpty else {
            throw AMQPError(.invalidURL, "expected amqp://user:pass@host:port/vhost, got \(url)")
        }
        self.host = host
        self.port = c.port ?? 5672
        self.user = c.percentEncodedUser.flatMap { $0.removingPercentEncoding } ?? "guest"
        self.password = c.percentEncodedPassword.flatMap { $0.removingPercentEncoding } ?? "guest"
        let rawPath = String(c.percentEncodedPath.dropFirst())
        self.vhost = rawPath.isEmpty ? "/" : (rawPath.removingPercentEncoding ?? rawPath)
        self.heartbeatSeconds = heartbeatSeconds
        self.connectTimeout = .seconds(5)
        self.reconnectBase = .milliseconds(100)
        self.reconnectCap = .seconds(5)
        self.connectionName = connectionName
    }
}
