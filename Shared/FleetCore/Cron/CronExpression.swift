import Foundation

/// A 5-field cron expression with the Vixie grammar (docs/domain.md, "Schedules"): `*`, lists, ranges, steps,
/// month and day names, 7 = Sunday, and the macros @hourly @daily @weekly @monthly @yearly.
/// When both day-of-month and day-of-week are restricted (do not start with `*`), a day matches
/// if either does; otherwise both must.
public struct CronExpression: Sendable, Hashable {
    public let source: String
    let minutes: [Int]
    let hours: [Int]
    let daysOfMonth: Set<Int>
    let months: Set<Int>
    /// 0 = Sunday ... 6 = Saturday (7 is folded into 0).
    let daysOfWeek: Set<Int>
    let dayOfMonthRestricted: Bool
    let dayOfWeekRestricted: Bool

    static let macros: [String: String] = [
        "@hourly": "0 * * * *", "@daily": "0 0 * * *", "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *",
    ]
    static let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    static let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    struct FieldSpec {
        let name: String
        let range: ClosedRange<Int>
        let names: [String]
        let nameBase: Int
    }

    static let specs = [
        FieldSpec(name: "minute", range: 0...59, names: [], nameBase: 0),
        FieldSpec(name: "hour", range: 0...23, names: [], nameBase: 0),
        FieldSpec(name: "day_of_month", range: 1...31, names: [], nameBase: 1),
        FieldSpec(name: "month", range: 1...12, names: monthNames, nameBase: 1),
        FieldSpec(name: "day_of_week", range: 0...7, names: dayNames, nameBase: 0),
    ]

    /// Parses `text`; errors name the field as `<base>.minute`, `<base>.day_of_week`, ...
    public init(_ text: String, path base: String = "cron") throws(ValidationError) {
        source = text
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        var expanded = trimmed
        if trimmed.hasPrefix("@") {
            guard let m = Self.macros[trimmed.lowercased()] else {
                throw ValidationError(base, .invalidValue, "unknown macro '\(trimmed)'; supported: \(Self.macros.keys.sorted().joined(separator: ", "))")
            }
            expanded = m
        }
        let fields = expanded.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 5 else {
            throw ValidationError(base, .invalidValue, "expected 5 fields (minute hour day-of-month month day-of-week), got \(fields.count)")
        }
        var errors = FieldErrors()
        var sets: [Set<Int>] = []
        for (spec, field) in zip(Self.specs, fields) {
            do throws(ValidationError) {
                sets.append(try Self.parseField(field, spec, path(base, spec.name)))
            } catch {
                errors.add(error)
                sets.append([])
            }
        }
        try errors.throwIfAny()
        minutes = sets[0].sorted()
        hours = sets[1].sorted()
        daysOfMonth = sets[2]
        months = sets[3]
        daysOfWeek = Set(sets[4].map { $0 % 7 })
        dayOfMonthRestricted = !fields[2].hasPrefix("*")
        dayOfWeekRestricted = !fields[4].hasPrefix("*")
    }

    static func parseField(_ text: String, _ spec: FieldSpec, _ at: String) throws(ValidationError) -> Set<Int> {
        var out = Set<Int>()
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard !item.isEmpty else { throw ValidationError(at, .invalidValue, "empty list item in '\(text)'") }
            let parts = item.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count <= 2 else { throw ValidationError(at, .invalidValue, "more than one '/' in '\(item)'") }
            var step = 1
            if parts.count == 2 {
                guard let s = Int(parts[1]), s >= 1 else {
                    throw ValidationError(at, .invalidValue, "step in '\(item)' must be a whole number >= 1")
                }
                step = s
            }
            let rangeText = parts[0]
            var low: Int, high: Int
            if rangeText == "*" {
                low = spec.range.lowerBound
                high = spec.range.upperBound
            } else {
                let bounds = rangeText.split(separator: "-", omittingEmptySubsequences: false)
                guard bounds.count <= 2 else { throw ValidationError(at, .invalidValue, "bad range '\(rangeText)'") }
                low = try value(String(bounds[0]), spec, at)
                // "a/step" runs from a to the field's maximum, as in Vixie cron.
                high = bounds.count == 2 ? try value(String(bounds[1]), spec, at) : (parts.count == 2 ? spec.range.upperBound : low)
                guard low <= high else {
                    throw ValidationError(at, .invalidValue, "range '\(rangeText)' runs backwards")
                }
            }
            out.formUnion(stride(from: low, through: high, by: step))
        }
        return out
    }

    private static func value(_ token: String, _ spec: FieldSpec, _ at: String) throws(ValidationError) -> Int {
        if let i = Int(token) {
            guard spec.range.contains(i) else {
                throw ValidationError(at, .invalidValue, "\(i) is out of range \(spec.range.lowerBound)-\(spec.range.upperBound)")
            }
            return i
        }
        if let n = spec.names.firstIndex(of: token.lowercased()) { return n + spec.nameBase }
        let hint = spec.names.isEmpty ? "" : " or a name (\(spec.names.prefix(3).joined(separator: ", ")), ...)"
        throw ValidationError(at, .invalidValue, "'\(token)' is not a number\(hint)")
    }

    /// Whether a civil date matches the month and day fields (with the Vixie OR rule).
    func matches(month: Int, day: Int, weekday: Int) -> Bool {
        guard months.contains(month) else { return false }
        let dom = daysOfMonth.contains(day)
        let dow = daysOfWeek.contains(weekday)
        return dayOfMonthRestricted && dayOfWeekRestricted ? (dom || dow) : (dom && dow)
    }
}
