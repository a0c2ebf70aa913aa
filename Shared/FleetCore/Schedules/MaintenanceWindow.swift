import Foundation

/// A named maintenance window (`/api/v1/fleet/windows`): it opens at each instant its cron gives
/// (in its time zone, with the cron's DST rules) and stays open `duration_minutes`. A schedule
/// naming it fires only while it is open; a rollout naming it starts batches only while it is open,
/// pauses (`window_closed`) when it closes, and goes on at the next opening with its progress kept.
public struct MaintenanceWindow: Sendable, Hashable {
    public static let keys: Set<String> = ["name", "cron", "duration_minutes", "timezone"]
    /// Up to four weeks: a window longer than that is no window.
    public static let durationRange: ClosedRange<Int64> = 1...40_320

    public var name: String
    public var cron: String
    public var timezone: String
    public var durationMinutes: Int
    public var schedule: CronSchedule

    /// `{name, cron, duration_minutes, timezone?}`; `name` follows the one id grammar (RecordID).
    public init(json: JSONValue) throws(ValidationError) {
        var r = ObjectReader(json, path: "", allowed: Self.keys)
        let name = r.string("name", required: true, maxLength: 128)
        if let name, !RecordID.isValid(name) {
            r.errors.add("name", .invalidValue, "name is 1-128 characters of [A-Za-z0-9._:-]")
        }
        let cron = r.string("cron", required: true, maxLength: 200)
        let timezone = r.string("timezone", maxLength: 100) ?? "UTC"
        let duration = r.int("duration_minutes", in: Self.durationRange)
        if duration == nil, r.raw("duration_minutes") == nil { r.errors.add("duration_minutes", .required, "duration_minutes is required") }
        var schedule: CronSchedule?
        if let cron {
            do throws(ValidationError) { schedule = try CronSchedule(cron: cron, timeZone: timezone) } catch { r.errors.add(error) }
        }
        try r.throwIfAny()
        self.name = name!
        self.cron = cron!
        self.timezone = timezone
        durationMinutes = Int(duration!)
        self.schedule = schedule!
    }

    public var json: JSONValue {
        ["name": .string(name), "cron": .string(cron), "timezone": .string(timezone), "duration_minutes": .int(Int64(durationMinutes))]
    }

    var durationSeconds: TimeInterval { TimeInterval(durationMinutes * 60) }

    /// Where the window stands at `instant`: open (until the latest opening's end; an opening
    /// that falls inside it keeps it open past that, as the next look sees), or closed (and when it
    /// opens next).
    public func state(at instant: Date) -> State {
        if let opening = latestOpening(atOrBefore: instant, after: instant.addingTimeInterval(-durationSeconds)) {
            return .open(until: opening.addingTimeInterval(durationSeconds))
        }
        return .closed(opensAt: schedule.nextFire(after: instant))
    }

    /// The last opening in (floor, t], looking back in doubling steps from `t`, so a window that
    /// opens every minute and lasts four weeks costs a few cron searches, not forty thousand.
    func latestOpening(atOrBefore t: Date, after floor: Date) -> Date? {
        var back: TimeInterval = 60
        while true {
            let from = max(floor, t.addingTimeInterval(-back))
            if let first = schedule.nextFire(after: from), first <= t {
                var latest = first
                while let next = schedule.nextFire(after: latest), next <= t { latest = next }
                return latest
            }
            if from <= floor { return nil }
            back *= 2
        }
    }

    public enum State: Sendable, Hashable {
        case open(until: Date)
        /// nil: it never opens again (within the cron's search horizon).
        case closed(opensAt: Date?)

        public var isOpen: Bool { if case .open = self { true } else { false } }
    }
}
