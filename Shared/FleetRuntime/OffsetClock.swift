import FleetCore
import Foundation
import Synchronization

/// The clock a service reads: the machine's, or, with `FLEET_CLOCK_OFFSET_FILE` set (tests only),
/// the machine's plus the milliseconds that file holds. A test rewrites the file to move every
/// service of its stack days ahead at once (a maintenance window's next opening) instead of
/// sleeping; the file is read again at most every 20 ms.
enum OffsetClock {
    static func fromEnvironment(_ environment: [String: String]) -> WallClock {
        guard let path = environment["FLEET_CLOCK_OFFSET_FILE"], !path.isEmpty else { return .system }
        let offset = Offset(path: path)
        return WallClock { Date().addingTimeInterval(Double(offset.milliseconds()) / 1000) }
    }

    private final class Offset: Sendable {
        let path: String
        private let cached = Mutex<(readAt: ContinuousClock.Instant?, ms: Int64)>((nil, 0))

        init(path: String) { self.path = path }

        func milliseconds() -> Int64 {
            cached.withLock { c in
                let now = ContinuousClock.now
                if let readAt = c.readAt, now - readAt < .milliseconds(20) { return c.ms }
                let text = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
                c = (now, text.flatMap { Int64($0) } ?? c.ms)
                return c.ms
            }
        }
    }
}
