import FleetCore

/// The id of one client request, followed through every service it reaches: the gateway takes
/// `X-Request-Id` (or makes one), returns it, and sends it with each bus command as the AMQP
/// header `x-request-id`; a service handling that command runs under it, so its log lines and the
/// commands it sends on carry it too. Any publisher may set the header.
public enum RequestID {
    /// The request the current task works for; nil outside one.
    @TaskLocal public static var current: String?

    /// The AMQP header a command carries it in.
    public static let header = "x-request-id"

    /// A client's id is taken as sent if it is 1-128 characters of `[A-Za-z0-9._:-]` (what a log
    /// line and a header can carry safely); otherwise the gateway makes one.
    public static func accepts(_ text: String) -> Bool { RecordID.isValid(text) }

    /// A new id: 16 hex digits (64 random bits).
    public static func make() -> String {
        let hex = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
