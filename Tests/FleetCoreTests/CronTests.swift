import Foundation
import PropertyBased
import Testing

@testable import FleetCore

private func utc(_ s: String) -> Date { ISO8601DateFormatter().date(from: s)! }
private func iso(_ d: Date?) -> String? { d.map { ISO8601DateFormatter().string(from: $0) } }

@Suite("cron")
struct CronTests {
    @Test(arguments: [
        ("* * * *", "cron"), ("* * * * * *", "cron"), ("60 * * * *", "cron.minute"), ("* 24 * * *", "cron.hour"),
        ("* * 0 * *", "cron.day_of_month"), ("* * 32 * *", "cron.day_of_month"), ("* * * 13 *", "cron.month"),
        ("* * * * 8", "cron.day_of_week"), ("* * * FOO *", "cron.month"), ("* * * * funday", "cron.day_of_week"),
        ("*/0 * * * *", "cron.minute"), ("5-1 * * * *", "cron.minute"), ("1,,2 * * * *", "cron.minute"),
        ("1/2/3 * * * *", "cron.minute"), ("@reboot", "cron"), ("@annually", "cron"), ("0 0 30 2 *", "cron"), ("a * * * *", "cron.minute"),
    ])
    func invalidExpressionsNameTheField(cron: String, field: String) {
        do {
            _ = try CronSchedule(cron: cron)
            Issue.record("expected \(cron) to be refused")
        } catch {
            #expect(error.errors.map(\.field).contains(field), "\(error)")
        }
    }

    @Test func unknownTimeZoneIsRefused() {
        #expect(throws: ValidationError.self) { try CronSchedule(cron: "* * * * *", timeZone: "Mars/Olympus_Mons") }
    }

    @Test(arguments: [
        // Plain UTC.
        ("*/15 * * * *", "UTC", "2026-11-29T10:07:00Z", "2026-11-29T10:15:00Z"),
        ("*/15 * * * *", "UTC", "2026-11-29T10:15:00Z", "2026-11-29T10:30:00Z"),
        ("5/20 * * * *", "UTC", "2026-11-29T10:26:00Z", "2026-11-29T10:45:00Z"),
        ("@monthly", "UTC", "2026-11-29T00:00:00Z", "2026-12-01T00:00:00Z"),
        ("@weekly", "UTC", "2026-11-29T00:00:00Z", "2026-12-06T00:00:00Z"),
        ("@yearly", "UTC", "2026-11-29T00:00:00Z", "2027-01-01T00:00:00Z"),
        ("@hourly", "UTC", "2026-11-29T23:59:59Z", "2026-11-30T00:00:00Z"),
        ("0 9 * * 7", "UTC", "2026-11-29T10:00:00Z", "2026-12-06T09:00:00Z"),
        ("0 9 * jan-mar Mon-Fri", "UTC", "2026-11-29T00:00:00Z", "2027-01-01T09:00:00Z"),
        // Vixie: both day fields restricted -> either; one starting with * -> both.
        ("0 0 13 * 5", "UTC", "2026-11-29T00:00:00Z", "2026-12-04T00:00:00Z"),
        ("0 0 13 * *", "UTC", "2026-11-29T00:00:00Z", "2026-12-13T00:00:00Z"),
        ("0 0 */13 * 5", "UTC", "2026-11-29T00:00:00Z", "2027-01-01T00:00:00Z"),  // */13 starts with *: AND
        ("0 0 1 * */7", "UTC", "2026-11-29T00:00:00Z", "2027-08-01T00:00:00Z"),  // a Sunday the 1st
        // Feb 29.
        ("0 0 29 2 *", "UTC", "2026-01-01T00:00:00Z", "2028-02-29T00:00:00Z"),
        ("0 12 29 2 *", "America/New_York", "2028-02-29T17:00:00Z", "2032-02-29T17:00:00Z"),
        // New York: spring forward 2026-03-08 02:00 EST -> 03:00 EDT (07:00Z).
        ("30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", "2026-03-08T07:00:00Z"),
        ("30 2 * * *", "America/New_York", "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"),
        ("*/10 2 * * *", "America/New_York", "2026-03-08T07:00:00Z", "2026-03-09T06:00:00Z"),
        ("0 3 * * *", "America/New_York", "2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z"),
        // New York: fall back 2026-11-01 02:00 EDT -> 01:00 EST (06:00Z); 01:xx occurs twice.
        ("30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", "2026-11-01T05:30:00Z"),
        ("30 1 * * *", "America/New_York", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"),
        ("*/30 1 * * *", "America/New_York", "2026-11-01T05:30:00Z", "2026-11-02T06:00:00Z"),
        ("0 2 * * *", "America/New_York", "2026-11-01T05:30:00Z", "2026-11-01T07:00:00Z"),
        // Berlin: spring forward 2026-03-29 02:00 CET -> 03:00 CEST (01:00Z); fall back 2026-10-25 03:00 -> 02:00 (01:00Z).
        ("30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", "2026-03-29T01:00:00Z"),
        ("30 2 * * *", "Europe/Berlin", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"),
        ("30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", "2026-10-25T00:30:00Z"),
        ("30 2 * * *", "Europe/Berlin", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"),
        ("0 0 * * *", "Europe/Berlin", "2026-11-29T10:00:00Z", "2026-11-29T23:00:00Z"),
    ])
    func nextFire(cron: String, zone: String, after: String, expected: String) throws {
        let s = try CronSchedule(cron: cron, timeZone: zone)
        #expect(iso(s.nextFire(after: utc(after))) == expected)
    }

    @Test func aSkippedHourFiresOnceAndARepeatedHourOnce() throws {
        let gap = try CronSchedule(cron: "*/10 2 * * *", timeZone: "America/New_York")
        let springDay = gap.fires(after: utc("2026-03-08T05:00:00Z"), through: utc("2026-03-08T12:00:00Z"))
        #expect(springDay.map { iso($0)! } == ["2026-03-08T07:00:00Z"])
        let repeated = try CronSchedule(cron: "*/20 1 * * *", timeZone: "America/New_York")
        let fallDay = repeated.fires(after: utc("2026-11-01T04:00:00Z"), through: utc("2026-11-01T12:00:00Z"))
        #expect(fallDay.map { iso($0)! } == ["2026-11-01T05:00:00Z", "2026-11-01T05:20:00Z", "2026-11-01T05:40:00Z"])
    }

    @Test func civilDateRoundTrips() {
        for day in stride(from: -800_000, through: 800_000, by: 997) {
            let (y, m, d) = CivilDate.fromDays(day)
            #expect(CivilDate.days(year: y, month: m, day: d) == day)
        }
        #expect(CivilDate.weekday(CivilDate.days(year: 2026, month: 11, day: 29)) == 0)  // a Sunday
    }

    static func field(_ values: [Int], _ range: ClosedRange<Int>) -> String {
        let picked = Set(values.map { range.lowerBound + $0 % (range.count) }).sorted()
        return picked.isEmpty ? "*" : picked.map(String.init).joined(separator: ",")
    }

    static let exprGen = zip(
        Gen.int(in: 0...59).array(of: 1...4), Gen.int(in: 0...23).array(of: 0...3), Gen.int(in: 0...30).array(of: 0...2),
        Gen.int(in: 0...11).array(of: 0...2), Gen.int(in: 0...6).array(of: 0...2)
    )
    .map { mi, h, dom, mo, dow in "\(field(mi, 0...59)) \(field(h, 0...23)) \(field(dom, 1...31)) \(field(mo, 1...12)) \(field(dow, 0...6))" }

    /// In UTC, the next fire equals the first matching minute found by scanning minute by minute.
    @Test func nextFireEqualsMinuteByMinuteScanInUTC() async {
        let start = Gen.int(in: 1_700_000_000...1_900_000_000)
        await propertyCheck(count: 60, input: Self.exprGen, start) { cron, seconds in
            guard let s = try? CronSchedule(cron: cron) else { return }  // e.g. only Feb 30: refused, fine
            let after = Date(timeIntervalSince1970: TimeInterval(seconds))
            let expected = Self.scan(s.expression, after: seconds, limitMinutes: 60 * 24 * 366 * 2)
            guard let expected else { return }  // sparser than the scan window
            #expect(s.nextFire(after: after).map { Int($0.timeIntervalSince1970) } == expected, "\(cron)")
        }
    }

    /// Fires are strictly increasing in any zone, and in UTC each matches the expression.
    @Test func firesAreStrictlyIncreasing() async {
        let zones = ["UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe"]
        await propertyCheck(count: 60, input: Self.exprGen, Gen.element(of: zones), Gen.int(in: 1_700_000_000...1_900_000_000)) { cron, zone, seconds in
            guard let s = try? CronSchedule(cron: cron, timeZone: zone!) else { return }
            var cursor = Date(timeIntervalSince1970: TimeInterval(seconds))
            for _ in 0..<15 {
                guard let next = s.nextFire(after: cursor) else { break }
                #expect(next > cursor)
                if zone == "UTC" { #expect(Self.matches(s.expression, Int(next.timeIntervalSince1970))) }
                cursor = next
            }
        }
    }

    static func matches(_ e: CronExpression, _ t: Int) -> Bool {
        let day = CronSchedule.floorDiv(t, 86_400)
        let (_, month, dom) = CivilDate.fromDays(day)
        let secs = t - day * 86_400
        return t % 60 == 0 && e.minutes.contains(secs % 3600 / 60) && e.hours.contains(secs / 3600)
            && e.matches(month: month, day: dom, weekday: CivilDate.weekday(day))
    }

    static func scan(_ e: CronExpression, after: Int, limitMinutes: Int) -> Int? {
        var t = (after / 60 + 1) * 60
        for _ in 0..<limitMinutes {
            if matches(e, t) { return t }
            t += 60
        }
        return nil
    }
}
