import Foundation

/// Where a service reads the time. The services take it from their `ServiceContext`, never from
/// `Date()`, so a test can hand them a clock it moves itself.
public struct WallClock: Sendable {
    private let read: @Sendable () -> Date

    public init(_ read: @escaping @Sendable () -> Date) { self.read = read }

    /// The machine's clock.
    public static let system = WallClock { Date() }

    public var now: Date { read() }

    /// Milliseconds since the epoch, the unit of every timer score in Redis.
    public var nowMs: Int64 { Int64((read().timeIntervalSince1970 * 1000).rounded(.down)) }
}
