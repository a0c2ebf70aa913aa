import Foundation
import Testing

@testable import FleetCore

@Suite("maintenance windows")
struct MaintenanceWindowTests {
    private func window(_ cron: String, minutes: Int, tz: String = "UTC") throws -> MaintenanceWindow {
        try MaintenanceWindow(json: ["name": "w", "cron": .string(cron), "duration_minutes": .int(Int64(minutes)), "timezone": .string(tz)])
    }

    private func at(_ iso: String) -> Date { ISO8601DateFormatter().date(from: iso)! }

    @Test func openFromEachOpeningForItsDuration() throws {
        let w = try window("0 2 * * *", minutes: 90)  // 02:00-03:30 UTC daily
        #expect(w.state(at: at("2026-12-03T01:59:59Z")) == .closed(opensAt: at("2026-12-03T02:00:00Z")))
        #expect(w.state(at: at("2026-12-03T02:00:00Z")) == .open(until: at("2026-12-03T03:30:00Z")), "open at its opening instant")
        #expect(w.state(at: at("2026-12-03T03:29:59Z")) == .open(until: at("2026-12-03T03:30:00Z")))
        #expect(w.state(at: at("2026-12-03T03:30:00Z")) == .closed(opensAt: at("2026-12-04T02:00:00Z")), "closed at its end instant")
    }

    @Test func overlappingOpeningsKeepItOpen() throws {
        let w = try window("*/10 * * * *", minutes: 15)  // opens every 10 min for 15: always open
        for minute in 0..<60 {
            let t = at("2026-12-03T05:00:00Z").addingTimeInterval(TimeInterval(minute * 60 + 7))
            #expect(w.state(at: t).isOpen, "minute \(minute)")
        }
        let long = try window("* * * * *", minutes: 40_320)  // four weeks, opening every minute
        #expect(long.state(at: at("2026-12-03T05:00:30Z")) == .open(until: at("2026-12-03T05:00:00Z").addingTimeInterval(40_320 * 60)))
    }

    @Test func timeZonesAndDaylightSavingFollowTheCronRules() throws {
        // Berlin 02:30 does not exist on 2026-03-29 (clocks jump 02:00 -> 03:00): it opens at the
        // first instant after the gap, 01:00 UTC, and stays open its 60 minutes.
        let spring = try window("30 2 * * *", minutes: 60, tz: "Europe/Berlin")
        #expect(spring.state(at: at("2026-03-29T00:59:00Z")) == .closed(opensAt: at("2026-03-29T01:00:00Z")))
        #expect(spring.state(at: at("2026-03-29T01:30:00Z")) == .open(until: at("2026-03-29T02:00:00Z")))
        // 02:30 occurs twice on 2026-10-25: it opens once, at the first (00:30 UTC).
        let autumn = try window("30 2 * * *", minutes: 30, tz: "Europe/Berlin")
        #expect(autumn.state(at: at("2026-10-25T00:45:00Z")) == .open(until: at("2026-10-25T01:00:00Z")))
        #expect(autumn.state(at: at("2026-10-25T01:45:00Z")) == .closed(opensAt: at("2026-10-26T01:30:00Z")), "not again at the second 02:30")
        // A weekday window in New York: Saturdays 22:00 local for 4 hours.
        let weekend = try window("0 22 * * sat", minutes: 240, tz: "America/New_York")
        #expect(weekend.state(at: at("2026-12-06T03:59:00Z")).isOpen, "Sat 22:59 EST")
        #expect(weekend.state(at: at("2026-12-06T07:00:00Z")) == .closed(opensAt: at("2026-12-13T03:00:00Z")))
    }

    @Test func definitionsAreValidatedFieldByField() {
        let cases: [(JSONValue, Set<String>)] = [
            (["cron": "0 2 * * *", "duration_minutes": 60], ["name"]),
            (["name": "w", "duration_minutes": 60], ["cron"]),
            (["name": "w", "cron": "0 2 * * *"], ["duration_minutes"]),
            (["name": "w", "cron": "0 2 * * *", "duration_minutes": 0], ["duration_minutes"]),
            (["name": "w", "cron": "0 2 * * *", "duration_minutes": 40_321], ["duration_minutes"]),
            (["name": "w", "cron": "0 25 * * *", "duration_minutes": 60], ["cron.hour"]),
            (["name": "w", "cron": "0 2 * * *", "duration_minutes": 60, "timezone": "Mars/Olympus"], ["timezone"]),
            (["name": "bad name", "cron": "0 2 * * *", "duration_minutes": 60], ["name"]),
            (["name": "w", "cron": "0 2 * * *", "duration_minutes": 60, "colour": "red"], ["colour"]),
        ]
        for (json, fields) in cases {
            do {
                _ = try MaintenanceWindow(json: json)
                Issue.record("accepted \(json)")
            } catch { #expect(Set(error.errors.map(\.field)) == fields, "\(json): \(error.errors.map(\.field))") }
        }
    }
}
