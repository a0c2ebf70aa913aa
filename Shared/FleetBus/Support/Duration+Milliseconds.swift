extension Duration {
    /// The duration in whole milliseconds (what AMQP expirations, poll timeouts and deadline
    /// scores are counted in), rounded down.
    public var wholeMilliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}
