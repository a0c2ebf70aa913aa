/// The aggregate status of an operation.
public enum AggregateStatus: String, CaseIterable, Sendable, Hashable, Codable {
    case queued, running, succeeded, partial, failed, cancelled

    public var isTerminal: Bool { self == .succeeded || self == .partial || self == .failed || self == .cancelled }
}

/// Per-status host counts of one operation. They always add up to `total`: a move takes one host
/// out of one count and puts it in another, and only moves the state machine allows are applied.
public struct ProgressCounters: Sendable, Hashable, Codable {
    public private(set) var total: Int
    public private(set) var queued: Int
    public private(set) var running: Int
    public private(set) var succeeded: Int
    public private(set) var failed: Int
    public private(set) var skipped: Int

    public init(total: Int) {
        self.total = total
        queued = total
        running = 0
        succeeded = 0
        failed = 0
        skipped = 0
    }

    public init(total: Int, queued: Int, running: Int, succeeded: Int, failed: Int, skipped: Int) {
        self.total = total
        self.queued = queued
        self.running = running
        self.succeeded = succeeded
        self.failed = failed
        self.skipped = skipped
    }

    public subscript(status: HostStatus) -> Int {
        get {
            switch status {
            case .queued: queued
            case .running: running
            case .succeeded: succeeded
            case .failed: failed
            case .skipped: skipped
            }
        }
        set {
            switch status {
            case .queued: queued = newValue
            case .running: running = newValue
            case .succeeded: succeeded = newValue
            case .failed: failed = newValue
            case .skipped: skipped = newValue
            }
        }
    }

    /// Moves one host; false (and no change) when the move is not allowed or nothing is in `from`.
    @discardableResult
    public mutating func apply(from: HostStatus, to: HostStatus, reason: HostReason? = nil) -> Bool {
        guard HostStatusMachine.allows(from: from, to: to, reason: reason), self[from] > 0 else { return false }
        self[from] -= 1
        self[to] += 1
        return true
    }

    public var terminal: Int { succeeded + failed + skipped }

    /// `round(100 * (succeeded + failed + skipped) / total, 1)`, 0.0 for an empty operation, computed
    /// in integers (tenths, half up) so 32 of 47 is exactly 68.1.
    public var percentComplete: Double {
        guard total > 0 else { return 0.0 }
        let tenths = (1000 * terminal * 2 + total) / (2 * total)
        return Double(tenths) / 10
    }

    /// The aggregate (docs/domain.md, "Per-host status and progress"): cancelled once an operator cancelled it; queued while every
    /// host is queued; running while any is queued or running; then succeeded if all succeeded,
    /// failed if none did, partial otherwise. An empty operation has nothing left to do: succeeded.
    public func aggregate(cancelled: Bool) -> AggregateStatus {
        if cancelled { return .cancelled }
        if total > 0, queued == total { return .queued }
        if queued + running > 0 { return .running }
        if succeeded == total { return .succeeded }
        if succeeded == 0 { return .failed }
        return .partial
    }
}
