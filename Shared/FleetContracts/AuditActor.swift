import FleetCore

/// Who asked for a mutating request, followed through every service it reaches as RequestID is:
/// the gateway runs each authorized request under its token's id and name, the bus client sends it
/// as the AMQP header `x-fleet-actor`, and a service handling a command runs under it, so the
/// commands it sends on (a rollout's `bulk.create`) are the same caller's. Without it, a command's
/// actor is the broker user that published it.
public enum AuditActor {
    @TaskLocal public static var current: String?

    public static let header = "x-fleet-actor"

    /// `token:<id>:<name>` for an API token.
    public static func token(id: String, name: String) -> String { "token:\(id):\(name)" }

    /// `bus:<user>` for a command published straight onto the bus.
    public static func bus(user: String) -> String { "bus:\(user)" }

    /// The parts of an actor: kind (`token` or `bus`), id (a token's id, or the broker user), name.
    public static func parts(_ actor: String) -> (kind: String, id: String, name: String?) {
        let p = actor.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
        if p.first == "token", p.count == 3 { return ("token", p[1], p[2]) }
        if p.first == "bus", p.count >= 2 { return ("bus", p.dropFirst().joined(separator: ":"), nil) }
        return ("unknown", actor, nil)
    }
}
