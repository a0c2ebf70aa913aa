import Foundation
import Testing

@testable import FleetCore

@Suite("schedules: definitions and firing rules")
struct ScheduleTests {
    let base: JSONValue = ["name": "nightly", "operation_type": "reboot", "selector": ["tags": ["web"]], "cron": "0 3 * * *"]

    func with(_ changes: [String: JSONValue]) -> JSONValue {
        guard case .object(var o) = base else { return base }
        for (k, v) in changes { o[k] = v }
        return .object(o)
    }

    func utc(_ text: String) -> Date { try! Date(text, strategy: .iso8601) }

    @Test func defaultsAndRollingSettings() throws {
        let r = try ScheduleRequest(json: base)
        #expect(r.timezone == "UTC" && r.enabled && r.misfirePolicy == .fireOnce && r.overlapPolicy == .forbid && r.rolling == nil)
        let rolling = try ScheduleRequest(json: with(["rolling": ["batch_size": "10%", "failure_threshold_pct": 5]]))
        #expect(rolling.rolling?.batchSize == .percent(10))
    }

    static let badCases: [(String, JSONValue, String)] = [
        ("cron", "0 3 * *", "cron"), ("cron", "61 3 * * *", "cron.minute"), ("cron", "0 3 * * 8", "cron.day_of_week"),
        ("timezone", "Mars/Olympus", "timezone"), ("misfire_policy", "later", "misfire_policy"),
        ("overlap_policy", "queue", "overlap_policy"), ("name", .null, "name"), ("cron", "0 0 30 2 *", "cron"),
        ("rolling", ["batch_size": 0], "rolling.batch_size"), ("rolling", ["batch_size": 1, "colour": 1], "rolling.colour"),
        ("parameters", ["content": 1], "parameters.content"), ("when", "soon", "when"),
    ]

    @Test(arguments: badCases)
    func badDefinitionsNameTheField(key: String, value: JSONValue, field: String) {
        #expect {
            try ScheduleRequest(json: with([key: value]))
        } throws: { error in
            (error as? ValidationError)?.errors.contains { $0.field == field } == true
        }
    }

    @Test func onTimeFiresTheInstantAndWaitsForTheNext() throws {
        let s = try CronSchedule(cron: "*/5 * * * *")
        let d = ScheduleTiming.onDue(s, due: utc("2026-03-01T10:05:00Z"), now: utc("2026-03-01T10:05:00.300Z"), misfire: .fireOnce)
        #expect(d == .init(fireAt: utc("2026-03-01T10:05:00Z"), missed: 0, nextRun: utc("2026-03-01T10:10:00Z")))
        let early = ScheduleTiming.onDue(s, due: utc("2026-03-01T10:05:00Z"), now: utc("2026-03-01T10:04:59Z"), misfire: .fireOnce)
        #expect(early.fireAt == nil && early.nextRun == utc("2026-03-01T10:05:00Z"))
        #expect(ScheduleTiming.firstRun(s, now: utc("2026-03-01T10:05:00Z")) == utc("2026-03-01T10:10:00Z"), "never fires on creation")
    }

    @Test func missedFiresCollapseIntoOneOrAreSkipped() throws {
        let s = try CronSchedule(cron: "*/5 * * * *")
        let due = utc("2026-03-01T10:05:00Z"), now = utc("2026-03-01T10:31:00Z")  // down for 26 minutes
        let once = ScheduleTiming.onDue(s, due: due, now: now, misfire: .fireOnce)
        #expect(once == .init(fireAt: utc("2026-03-01T10:30:00Z"), missed: 5, nextRun: utc("2026-03-01T10:35:00Z")))
        // skip: the 10:30 instant is a minute old, still on time, so it fires and the rest are dropped;
        // two and a half minutes later it would have been dropped too.
        let skip = ScheduleTiming.onDue(s, due: due, now: now, misfire: .skip)
        #expect(skip == .init(fireAt: utc("2026-03-01T10:30:00Z"), missed: 5, nextRun: utc("2026-03-01T10:35:00Z")))
        let skipLater = ScheduleTiming.onDue(s, due: due, now: utc("2026-03-01T10:32:30Z"), misfire: .skip)
        #expect(skipLater == .init(fireAt: nil, missed: 6, nextRun: utc("2026-03-01T10:35:00Z")))
        // A single instant taken 2 minutes late is a misfire too.
        let late = ScheduleTiming.onDue(try CronSchedule(cron: "0 * * * *"), due: utc("2026-03-01T10:00:00Z"), now: utc("2026-03-01T10:02:00Z"), misfire: .skip)
        #expect(late.fireAt == nil && late.nextRun == utc("2026-03-01T11:00:00Z"))
    }

    @Test func dstGapFiresOnceAfterItAndTheRepeatedHourOnce() throws {
        // New York, 2026-03-08: 02:30 does not exist (02:00 -> 03:00 EDT); 2026-11-01: 01:30 happens twice.
        let gap = try CronSchedule(cron: "30 2 * * *", timeZone: "America/New_York")
        let first = try #require(ScheduleTiming.firstRun(gap, now: utc("2026-03-08T05:00:00Z")))
        #expect(first == utc("2026-03-08T07:00:00Z"), "03:00 EDT, the first instant after the gap")
        let repeated = try CronSchedule(cron: "30 1 * * *", timeZone: "America/New_York")
        let fall = try #require(ScheduleTiming.firstRun(repeated, now: utc("2026-11-01T04:00:00Z")))
        #expect(fall == utc("2026-11-01T05:30:00Z"), "01:30 EDT, its first occurrence")
        let after = ScheduleTiming.onDue(repeated, due: fall, now: fall, misfire: .fireOnce)
        #expect(after.nextRun == utc("2026-11-02T06:30:00Z"), "not again at 01:30 EST")
    }
}
