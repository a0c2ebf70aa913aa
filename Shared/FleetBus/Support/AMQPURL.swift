import Foundation

/// One broker node to connect to.
public struct AMQPNode: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `host:port`, an IPv6 address in brackets: as it stands in a URL.
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// Where and how to connect: parsed from `amqp://user:pass@host:port/vhost` (vhost percent-encoded,
/// `%2f` or an empty path meaning `/`), or from several such URLs separated by commas, one per
/// node of a cluster, all with the same user, password and vhost. The connection takes the first
/// node that answers, and moves to another when its node goes away.
public struct AMQPConfig: Sendable, Equatable {
    /// The nodes in the order they are tried; never empty.
    public var nodes: [AMQPNode]
    public var user: String
    public var password: String
    public var vhost: String
    /// Heartbeat interval negotiated with the broker; the owning thread services the socket at least every half of it.
    public var heartbeatSeconds: Int
    /// For each node tried.
    public var connectTimeout: Duration
    /// Reconnect backoff: exponential from `base`, capped, with full jitter.
    public var reconnectBase: Duration
    public var reconnectCap: Duration
    /// A name shown in the broker's connection list.
    public var connectionName: String

    public init(url: String, heartbeatSeconds: Int = 10, connectionName: String = "fleet") throws(AMQPError) {
        let entries = url.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !entries.isEmpty else { throw AMQPError(.invalidURL, "expected amqp://user:pass@host:port/vhost, got '\(url)'") }
        let parsed = try entries.map { entry throws(AMQPError) in try Self.parse(entry) }
        let (user, password, vhost) = (parsed[0].user, parsed[0].password, parsed[0].vhost)
        if let other = parsed.first(where: { $0.user != user || $0.password != password || $0.vhost != vhost }) {
            throw AMQPError(
                .invalidURL, "the nodes of a URL list share one user, password and vhost: those of \(parsed[0].node) and \(other.node) differ")
        }
        self.nodes = parsed.map(\.node)
        self.user = user
        self.password = password
        self.vhost = vhost
        self.heartbeatSeconds = heartbeatSeconds
        self.connectTimeout = .seconds(5)
        self.reconnectBase = .milliseconds(100)
        self.reconnectCap = .seconds(5)
        self.connectionName = connectionName
    }

    private static func parse(_ url: String) throws(AMQPError) -> (node: AMQPNode, user: String, password: String, vhost: String) {
        guard let c = URLComponents(string: url), c.scheme == "amqp", let host = c.host, !host.isEmpty else {
            throw AMQPError(.invalidURL, "expected amqp://user:pass@host:port/vhost, got \(redacted(url))")
        }
        let rawPath = String(c.percentEncodedPath.dropFirst())
        return (
            // An IPv6 address comes in brackets, which the socket call does not take.
            AMQPNode(host: host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host, port: c.port ?? 5672),
            c.percentEncodedUser.flatMap { $0.removingPercentEncoding } ?? "guest",
            c.percentEncodedPassword.flatMap { $0.removingPercentEncoding } ?? "guest",
            rawPath.isEmpty ? "/" : (rawPath.removingPercentEncoding ?? rawPath)
        )
    }

    /// The URL as an error may show it: without its password.
    private static func redacted(_ url: String) -> String {
        guard var c = URLComponents(string: url), c.password != nil else { return url }
        c.password = "***"
        return c.string ?? "(unparsable)"
    }
}
