import CoreMetrics
import FleetContracts
import Logging

/// Agents are untrusted: a claim, result, fact report or parameter fetch is believed only when its
/// sender (the broker-checked `user_id`) may speak for every host it names. Anything else is
/// dead-lettered unanswered, counted in `fleet_agent_refused_total{route}`, and logged; the
/// hosts it named do not move.
public struct SenderRefused: Error, Sendable {
    public let reason: String

    public init(_ reason: String) { self.reason = reason }

    /// The reply that tells `CommandService` to dead-letter the request instead of answering it.
    public var reply: BusReply { .failure(403, BusReply.senderRefusedCode, reason) }
}

public enum SenderCheck {
    /// Throws unless `sender` may speak for each of `hostIDs`.
    public static func require(_ sender: AgentIdentity?, user: String?, speaksFor hostIDs: some Sequence<String>) throws(SenderRefused) {
        guard let sender else {
            throw SenderRefused("sender \(user.map { "'\($0)'" } ?? "without user_id") is neither a service nor an enrolled agent")
        }
        for host in hostIDs where !sender.speaks(for: host) {
            throw SenderRefused("broker user '\(user ?? "")' may not speak for host '\(host)'")
        }
    }

    /// Counts and logs a refusal.
    public static func refused(route: String, user: String?, reason: String, logger: Logger) {
        Counter(label: "fleet_agent_refused_total", dimensions: [("route", route)]).increment()
        logger.warning(
            "agent message refused; dead-lettering", metadata: ["amqp.routing_key": "\(route)", "amqp.user_id": "\(user ?? "")", "reason": "\(reason)"])
    }
}

extension BusRequest {
    /// Throws unless this request's sender may speak for each of `hostIDs`.
    public func requireSender(speaksFor hostIDs: some Sequence<String>) throws(SenderRefused) {
        try SenderCheck.require(sender, user: senderUser, speaksFor: hostIDs)
    }
}

extension BusReply {
    public static let senderRefusedCode = "sender_refused"

    /// The reason, when this reply stands for a refused sender.
    public var senderRefusal: String? {
        error?.error == Self.senderRefusedCode ? error?.message : nil
    }
}
