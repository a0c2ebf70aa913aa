import Foundation

/// What a scheduler does when a schedule is due (docs/domain.md, "Schedules"). Pure: the caller passes `now`,
/// so the rules are tested with any clock.
public enum ScheduleTiming {
    /// How late a fire may be taken and still count as on time; later than this, the instants
    /// passed while no scheduler ran (downtime) and the misfire policy applies.
    public static let misfireGrace: TimeInterval = 60

    public struct Decision: Sendable, Hashable {
        /// The instant to fire now (nil: nothing fires now).
        public var fireAt: Date?
        /// Missed instants collapsed into this fire (fire_once) or dropped (skip), beyond the one fired.
        public var missed: Int
        /// The next instant to wait for, strictly after `now` (nil: the expression never fires again).
        public var nextRun: Date?
    }

    /// The schedule was waiting for `due` and it is now `now` (>= due). Each instant is fired at
    /// most once because the caller moves `next_run` from `due` to `nextRun` atomically with the fire.
    public static func onDue(_ schedule: CronSchedule, due: Date, now: Date, misfire: ScheduleRequest.MisfirePolicy) -> Decision {
        let nextRun = schedule.nextFire(after: now)
        guard due <= now else { return Decision(fireAt: nil, missed: 0, nextRun: due) }
        // Every instant from `due` up to now: `due` itself and whatever else passed since.
        let passed = [due] + schedule.fires(after: due, through: now, limit: 100_000)
        let latest = passed.last!
        if passed.count == 1 && now.timeIntervalSince(latest) <= misfireGrace {
            return Decision(fireAt: latest, missed: 0, nextRun: nextRun)
        }
        // Downtime: the missed fires collapse into one run (at the latest missed instant), or none.
        switch misfire {
        case .fireOnce: return Decision(fireAt: latest, missed: passed.count - 1, nextRun: nextRun)
        case .skip:
            // An instant still within the grace is on time, not missed.
            if now.timeIntervalSince(latest) <= misfireGrace { return Decision(fireAt: latest, missed: passed.count - 1, nextRun: nextRun) }
            return Decision(fireAt: nil, missed: passed.count, nextRun: nextRun)
        }
    }

    /// The first instant a new (or updated, or re-enabled) schedule waits for: strictly after
    /// `now`, so a schedule never fires on creation.
    public static func firstRun(_ schedule: CronSchedule, now: Date) -> Date? { schedule.nextFire(after: now) }
}
