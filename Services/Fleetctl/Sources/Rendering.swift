import FleetCore
import Foundation

/// How fleetctl prints answers: `--json` prints the gateway's JSON as it came; otherwise lists
/// become tables and objects `key: value` lines.
public enum Rendering {
    /// A table of `rows` with the given columns (missing values print as `-`).
    public static func table(_ rows: [JSONValue], columns: [String]) -> String {
        let cells = rows.map { row in columns.map { text(row[$0]) } }
        let widths = columns.indices.map { i in ([columns[i].count] + cells.map { $0[i].count }).max() ?? 0 }
        func line(_ values: [String]) -> String {
            zip(values, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }
        return ([line(columns.map { $0.uppercased() })] + cells.map(line)).joined(separator: "\n")
    }

    /// `key: value` lines, keys sorted; nested objects and arrays as compact JSON.
    public static func object(_ value: JSONValue) -> String {
        guard case .object(let o) = value else { return text(value) }
        let width = o.keys.map(\.count).max() ?? 0
        return o.keys.sorted().map { key in key.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + text(o[key]) }.joined(separator: "\n")
    }

    public static func text(_ value: JSONValue?) -> String {
        switch value {
        case nil, .null?: "-"
        case .string(let s)?: s
        case .bool(let b)?: b ? "true" : "false"
        case .int(let i)?: String(i)
        case .double(let d)?: d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
        case let other?: String(decoding: JSONCoding.encode(other), as: UTF8.self)
        }
    }

    /// Pretty-printed with sorted keys. A JSONValue always serialises; should Foundation refuse,
    /// the compact encoding is printed instead of crashing the CLI.
    public static func json(_ value: JSONValue) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: value.foundationObject, options: [.prettyPrinted, .sortedKeys, .fragmentsAllowed]) else {
            return String(decoding: JSONCoding.encode(value), as: UTF8.self)
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// One line of live progress: a bar, the counts, and an ETA from the rate so far.
    public static func progressLine(_ p: JSONValue, elapsed: TimeInterval, width: Int = 30) -> String {
        let total = Int(p["total"]?.intValue ?? 0)
        let done = Int((p["succeeded"]?.intValue ?? 0) + (p["failed"]?.intValue ?? 0) + (p["skipped"]?.intValue ?? 0))
        let fraction = total == 0 ? 1 : Double(done) / Double(total)
        let filled = Int((fraction * Double(width)).rounded(.down))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        var line = String(
            format: "[%@] %5.1f%% %d/%d  ok %d  failed %d  skipped %d  running %d", bar, fraction * 100, done, total,
            p["succeeded"]?.intValue ?? 0, p["failed"]?.intValue ?? 0, p["skipped"]?.intValue ?? 0, p["running"]?.intValue ?? 0)
        if let batch = p["current_batch"]?.intValue, let batches = p["total_batches"]?.intValue { line += "  batch \(batch)/\(batches)" }
        if done > 0 && done < total && elapsed > 0 {
            line += String(format: "  ETA %.0fs", elapsed / Double(done) * Double(total - done))
        }
        return line
    }

    /// A dry run's plan: a summary line, the batches as a table (the first hosts of each), and the
    /// hosts that would be skipped.
    public static func plan(_ p: JSONValue) -> String {
        let counted = p["counted_reasons"]?.arrayValue?.compactMap(\.stringValue).joined(separator: ",") ?? ""
        var summary = "total \(text(p["total"]))  ineligible \(p["ineligible"]?.arrayValue?.count ?? 0)"
        if let budget = p["failure_budget"], budget != .null { summary += "  failure budget \(text(budget)) (counts \(counted))" }
        if let unreached = p["unreached_budget"], unreached != .null { summary += "  unreached budget \(text(unreached))" }
        summary += "  estimated \(text(p["estimated_duration_seconds"]))s of waits"
        let rows: [JSONValue] = (p["batches"]?.arrayValue ?? []).map { b in
            let hosts = b["host_ids"]?.arrayValue?.compactMap(\.stringValue) ?? []
            let shown = hosts.prefix(5).joined(separator: ",") + (hosts.count > 5 ? ",… (+\(hosts.count - 5))" : "")
            return ["batch": .int((b["index"]?.intValue ?? 0) + 1), "size": b["size"] ?? .null, "hosts": .string(shown)]
        }
        var out = summary + "\n" + table(rows, columns: ["batch", "size", "hosts"])
        for skipped in p["ineligible"]?.arrayValue ?? [] { out += "\nskipped \(text(skipped["host_id"])): \(text(skipped["reason"]))" }
        return out
    }

    /// The process exit status for an operation's final status: 0 only when it succeeded.
    public static func exitCode(forStatus status: String?) -> Int32 {
        switch status {
        case "succeeded": 0
        case "failed", "partial", "cancelled": 2
        default: 3
        }
    }
}

extension JSONValue {
    /// For JSONSerialization (pretty printing).
    var foundationObject: Any {
        switch self {
        case .null: NSNull()
        case .bool(let b): b
        case .int(let i): i
        case .double(let d): d
        case .string(let s): s
        case .array(let a): a.map(\.foundationObject)
        case .object(let o): o.mapValues(\.foundationObject)
        }
    }
}
