extension Duration {
    /// The duration in seconds, as metrics and log lines state durations.
    public var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
