import Foundation

/// A cron expression in an IANA time zone, and the instants it fires at.
///
/// DST (docs/domain.md, "Schedules"): a local time that does not exist (spring forward) fires once, at the
/// first instant after the gap; a local time that occurs twice (fall back) fires once, at its first
/// occurrence. Instants are whole seconds; nothing here reads the clock: callers pass `after`.
public struct CronSchedule: Sendable, Hashable {
    public let expression: CronExpression
    public let timeZone: TimeZone

    /// How far ahead a search goes: past any Feb 29 that also needs a given weekday.
    static let searchDays = 366 * 8 + 7

    /// The names `timezone` takes: this Foundation's tz database, and UTC. Nothing else (not `GMT+2`,
    /// not `utc`), so docs/openapi.yaml can list them exactly (`TimeZoneNameTests` compares).
    public static let timeZoneNames: Set<String> = Set(TimeZone.knownTimeZoneIdentifiers).union(["UTC"])

    public init(cron: String, timeZone identifier: String = "UTC", path base: String = "") throws(ValidationError) {
        var errors = FieldErrors()
        var expr: CronExpression?
        do throws(ValidationError) { expr = try CronExpression(cron, path: path(base, "cron")) } catch { errors.add(error) }
        let tz = Self.timeZoneNames.contains(identifier) ? TimeZone(identifier: identifier) : nil
        if tz == nil { errors.add(path(base, "timezone"), .invalidValue, "unknown IANA time zone '\(identifier)'") }
        try errors.throwIfAny()
        expression = expr!
        timeZone = tz!
        if nextFire(after: Date(timeIntervalSince1970: 0)) == nil {
            throw ValidationError(path(base, "cron"), .invalidValue, "'\(cron)' never fires (no such date)")
        }
    }

    /// The first fire instant strictly after `after`, or nil if none within eight years.
    public func nextFire(after: Date) -> Date? {
        let t = Int(after.timeIntervalSince1970.rounded(.down))
        let localNow = t + timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(t)))
        // Local times at or before the local "now" map to instants at or before `after`.
        let localStart = Self.floorDiv(localNow, 60) * 60 + 60
        let firstDay = Self.floorDiv(localStart, 86_400)
        for day in firstDay..<(firstDay + Self.searchDays) {
            let (_, month, dom) = CivilDate.fromDays(day)
            guard expression.matches(month: month, day: dom, weekday: CivilDate.weekday(day)) else { continue }
            for h in expression.hours {
                for m in expression.minutes {
                    let local = day * 86_400 + h * 3600 + m * 60
                    guard local >= localStart else { continue }
                    let instant = utcInstant(forLocal: local)
                    if instant > t { return Date(timeIntervalSince1970: TimeInterval(instant)) }
                }
            }
        }
        return nil
    }

    /// The instants in (after, through], in order; at most `limit` of them.
    public func fires(after: Date, through: Date, limit: Int = 10_000) -> [Date] {
        var out: [Date] = []
        var cursor = after
        while out.count < limit, let next = nextFire(after: cursor), next <= through {
            out.append(next)
            cursor = next
        }
        return out
    }

    /// The UTC instant of a local wall-clock time (seconds since the epoch, as if local were UTC).
    func utcInstant(forLocal local: Int) -> Int {
        // Offsets a day either side: transitions are months apart, so these are the two candidates.
        let before = offset(at: local - 86_400)
        let after = offset(at: local + 86_400)
        let candidates = [local - before, local - after].filter { offset(at: $0) == local - $0 }
        if let first = candidates.min() { return first }  // twice-occurring time: its first occurrence
        // In a gap (the clock jumped forward, so the offset grew): `local - after` is still before the
        // transition and `local - before` already past it. The first instant after the gap is the
        // transition itself: the first instant whose offset is `after`.
        var lo = local - after
        var hi = local - before
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2
            if offset(at: mid) == after { hi = mid } else { lo = mid }
        }
        return hi
    }

    private func offset(at instant: Int) -> Int {
        timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(instant)))
    }

    static func floorDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }
}

/// Proleptic Gregorian calendar arithmetic on day numbers (days since 1970-01-01), after
/// Howard Hinnant's algorithms: no Calendar, no time zone, no allocation.
enum CivilDate {
    static func fromDays(_ z0: Int) -> (year: Int, month: Int, day: Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    static func days(year y0: Int, month m: Int, day d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// 0 = Sunday; 1970-01-01 was a Thursday.
    static func weekday(_ days: Int) -> Int { ((days % 7) + 7 + 4) % 7 }
}
