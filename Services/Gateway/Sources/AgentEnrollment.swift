import FleetBus
import FleetContracts
import FleetCore
import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Gives an agent a broker user of its own, and takes it away, through RabbitMQ's management HTTP
/// API: the only place its URL and credentials live is the gateway (`FLEET_RABBITMQ_MANAGEMENT_URL`).
///
/// Enrolling writes the user (a new random password each time, so enrolling again rotates it),
/// then its permissions, then its topic permissions, then closes the connections of the old
/// password. A crash part-way leaves a user with fewer rights than it will have, never more: a
/// user without permissions cannot even open the vhost. Enrolling again completes it.
/// Revoking deletes the user (RabbitMQ closes its connections) and then closes any connection of
/// it that is still open; both steps are idempotent, so a revocation that died is simply repeated.
public struct AgentEnrollment: Sendable {
    /// The management API's base URL, without credentials.
    let api: URL
    let authorization: String
    let vhost: String
    /// Where agents reach the broker: the nodes (one URL each, comma-separated, in the URL they are given).
    let brokerNodes: [AMQPNode]

    /// From the gateway's settings: nil when `FLEET_RABBITMQ_MANAGEMENT_URL` is not set.
    public init?(config: GatewayConfig) throws(EnrollmentError) {
        guard let management = config.service.environment["FLEET_RABBITMQ_MANAGEMENT_URL"] else { return nil }
        guard var parts = URLComponents(string: management), ["http", "https"].contains(parts.scheme ?? ""), parts.host != nil else {
            throw EnrollmentError(.misconfigured, "FLEET_RABBITMQ_MANAGEMENT_URL '\(management)' is not an http(s) URL")
        }
        let user = parts.percentEncodedUser.flatMap { $0.removingPercentEncoding } ?? "guest"
        let password = parts.percentEncodedPassword.flatMap { $0.removingPercentEncoding } ?? "guest"
        parts.user = nil
        parts.password = nil
        parts.path = ""
        guard let api = parts.url else { throw EnrollmentError(.misconfigured, "FLEET_RABBITMQ_MANAGEMENT_URL cannot be used") }
        let agentURL = config.service.environment["FLEET_AGENT_AMQP_URL"] ?? config.service.amqpURL
        let broker: AMQPConfig
        do throws(AMQPError) { broker = try AMQPConfig(url: agentURL) } catch {
            throw EnrollmentError(.misconfigured, "FLEET_AGENT_AMQP_URL: \(error.message)")
        }
        self.api = api
        self.authorization = "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
        self.vhost = broker.vhost
        self.brokerNodes = broker.nodes
    }

    /// What an enrollment hands out, once.
    public struct Enrolled: Sendable {
        public let brokerUser: String
        public let amqpURL: String
        /// False when the user existed already (its password was rotated).
        public let created: Bool
    }

    public func enroll(_ identity: AgentIdentity) async throws(EnrollmentError) -> Enrolled {
        guard let user = identity.brokerUser, let permissions = identity.permissions else {
            throw EnrollmentError(.invalid, "the services' own broker user is not enrolled")
        }
        let password = Self.newPassword()
        let status = try await call("PUT", "users/\(Self.segment(user))", ["password": .string(password), "tags": ""])
        _ = try await call(
            "PUT", "permissions/\(Self.segment(vhost))/\(Self.segment(user))",
            ["configure": .string(permissions.configure), "write": .string(permissions.write), "read": .string(permissions.read)])
        for topic in permissions.topics {
            _ = try await call(
                "PUT", "topic-permissions/\(Self.segment(vhost))/\(Self.segment(user))",
                ["exchange": .string(topic.exchange), "write": .string(topic.write), "read": .string(topic.read)])
        }
        // The old password's connections go: enrolling again is how a leaked URL is replaced.
        if status != 201 { try await closeConnections(of: user) }
        return Enrolled(brokerUser: user, amqpURL: amqpURL(user: user, password: password), created: status == 201)
    }

    /// Deletes the agent's broker user and closes its connections. False when it had none.
    public func revoke(_ identity: AgentIdentity) async throws(EnrollmentError) -> Bool {
        guard let user = identity.brokerUser else { throw EnrollmentError(.invalid, "the services' own broker user is not revoked here") }
        let status = try await call("DELETE", "users/\(Self.segment(user))", nil, allowing: [404])
        try await closeConnections(of: user)
        return status != 404
    }

    /// Closes every connection of `user`. The broker answers 500 when a connection it listed ends
    /// while it closes it (deleting the user closes them too, at the same moment): closing is
    /// idempotent, so a 5xx is tried again, a few times within about two seconds.
    private func closeConnections(of user: String) async throws(EnrollmentError) {
        let path = "connections/username/\(Self.segment(user))"
        for attempt in 1... {
            do {
                _ = try await call("DELETE", path, nil, allowing: [404])
                return
            } catch  where error.serverFault && attempt < 5 {
                try? await Task.sleep(for: .milliseconds(100 * attempt))
            }
        }
    }

    /// One URL per broker node, comma-separated (`AMQPConfig` reads such a list).
    func amqpURL(user: String, password: String) -> String {
        brokerNodes.map { "amqp://\(Self.segment(user)):\(password)@\($0)/\(Self.segment(vhost))" }.joined(separator: ",")
    }

    /// 32 random bytes from the system's CSPRNG, hex.
    static func newPassword() -> String {
        var rng = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &rng)) }.joined()
    }

    /// One path segment, everything but unreserved characters percent-encoded (`/` as `%2F`).
    static func segment(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"))
            ?? s
    }

    /// One management API call; its status, when 2xx or listed in `allowing`.
    private func call(_ method: String, _ path: String, _ body: JSONValue?, allowing: Set<Int> = []) async throws(EnrollmentError) -> Int {
        guard let url = URL(string: api.absoluteString + "/api/" + path) else { throw EnrollmentError(.invalid, "cannot address \(path)") }
        var request = URLRequest(url: url, timeoutInterval: 10)
        request.httpMethod = method
        request.setValue(authorization, forHTTPHeaderField: "Authorization")
        if let body {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(JSONCoding.encode(body))
        }
        let data: Data
        let response: URLResponse
        do { (data, response) = try await URLSession.shared.data(for: request) } catch {
            throw EnrollmentError(.unavailable, "the RabbitMQ management API is unreachable: \(error.localizedDescription)")
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard (200..<300).contains(status) || allowing.contains(status) else {
            let reason = String(decoding: data.prefix(300), as: UTF8.self)
            var error = EnrollmentError(status == 401 ? .misconfigured : .unavailable, "\(method) /api/\(path) answered \(status): \(reason)")
            error.serverFault = status >= 500
            throw error
        }
        return status
    }
}

/// Why an enrollment or revocation did not happen.
public struct EnrollmentError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable { case invalid, misconfigured, unavailable }
    public let kind: Kind
    public let message: String
    /// The management API answered 5xx: the same call may well succeed a moment later.
    public internal(set) var serverFault = false

    init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
