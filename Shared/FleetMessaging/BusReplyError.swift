import FleetContracts

/// A ready-made reply thrown from deep inside a handler (404 for a missing record, say).
public struct BusReplyError: Error {
    public let reply: BusReply
    public init(_ reply: BusReply) { self.reply = reply }

    public static func notFound(_ what: String) -> BusReplyError {
        BusReplyError(.failure(404, "not_found", what))
    }
}
