/// Capped exponential backoff with full jitter: the n-th wait is uniform in [0, min(cap, base * 2^n)].
/// Full jitter keeps a fleet of replicas from reconnecting in lockstep after a broker restart.
public struct Backoff: Sendable {
    public let base: Duration
    public let cap: Duration
    public private(set) var attempt = 0

    public init(base: Duration, cap: Duration) {
        self.base = base
        self.cap = cap
    }

    public mutating func next<G: RandomNumberGenerator>(using rng: inout G) -> Duration {
        let ceiling = min(cap, base * (1 << min(attempt, 20)))
        attempt += 1
        let ns = ceiling.components.seconds * 1_000_000_000 + ceiling.components.attoseconds / 1_000_000_000
        return .nanoseconds(Int64.random(in: 0...max(ns, 1), using: &rng))
    }

    public mutating func next() -> Duration {
        var rng = SystemRandomNumberGenerator()
        return next(using: &rng)
    }

    public mutating func reset() { attempt = 0 }
}
