import CoreMetrics
import FleetBus
import FleetContracts
import FleetCore
import Logging

/// Sends commands to other services and decodes their replies: what the gateway and any service
/// that needs another one's answer use.
public struct BusClient: Sendable {
    public let rpc: RPCClient
    public let timeout: Duration

    public init(rpc: RPCClient, timeout: Duration) {
        self.rpc = rpc
        self.timeout = timeout
    }

    /// A connection to the configured broker and a client calling over it.
    public static func connect(_ config: ServiceConfig, name: String, logger: Logger) async throws -> (AMQPConnection, BusClient) {
        let connection = try await AMQPConnection.connect(url: config.amqpURL, name: name, logger: logger)
        return (connection, BusClient(rpc: try await RPCClient.start(on: connection), timeout: config.requestTimeout))
    }

    /// Publishes `body` with `route` and waits for the reply: on `fleet.commands`, or on
    /// `fleet.from-agents` for the requests agents make (`BusNames.exchange(for:)`).
    /// Broker trouble is a 503 reply, no answer in time a 504: callers always get a `BusReply`.
    public func call(_ route: String, _ body: JSONValue, messageID: String? = nil) async -> BusReply {
        var headers: [String: AMQPFieldValue] = [BusNames.versionHeader: .string(BusNames.contractVersion)]
        if let requestID = RequestID.current { headers[RequestID.header] = .string(requestID) }
        if let actor = AuditActor.current { headers[AuditActor.header] = .string(actor) }
        let props = MessageProperties(contentType: "application/json", messageId: messageID, persistent: false, headers: headers)
        let started = ContinuousClock.now
        defer { Timer(label: "fleet_bus_call_duration_seconds", dimensions: [("route", route)]).recordSeconds((ContinuousClock.now - started).seconds) }
        do {
            let delivery = try await rpc.request(
                exchange: BusNames.exchange(for: route), routingKey: route,
                body: JSONCoding.encode(body), properties: props, timeout: timeout)
            guard let json = JSONCoding.decode(delivery.body), let reply = BusReply(json: json) else {
                return .failure(502, "bad_reply", "the service sent an unreadable reply")
            }
            return reply
        } catch {
            switch error.kind {
            case .timeout: return .failure(504, "timeout", "no service answered \(route) in time")
            case .returned: return .failure(503, "unavailable", "no service is serving \(route)")
            default: return .failure(503, "unavailable", "the message bus is unavailable: \(error.message)")
            }
        }
    }
}
